"""In real Chromium: an htmx request the server refuses (400, 403) shows its message in the page, never a dead click.

static/js/errors.js is the one handler (htmx:responseError / htmx:sendError) for every form; the screenshots
are saved under test-artifacts/screenshots/ (look at them).
"""

import re

import pytest

from tests import factories
from tests.browser.test_admin_path import PASSWORD, open_page, shot  # noqa: F401  (open_page is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def test_a_refused_htmx_request_shows_its_message_in_the_page(live_server, open_page):  # noqa: F811
    admin = factories.AdministratorFactory(username="eve")
    app = factories.ApplicationFactory(name="Contoso HR")
    page = open_page()
    sign_in(page, live_server, admin.username)
    page.goto(f"{live_server.url}/apps/{app.pk}/provisioning/")
    bar = page.locator("#request-error")
    assert bar.count() == 0

    # A NUL character in a field: the middleware answers 400, htmx does not swap it, errors.js shows it.
    page.evaluate("document.querySelector('input[name=tenant_url]').value = 'https://scim.example.com/v2\\u0000'")
    page.get_by_role("button", name="Test Connection", exact=True).click()
    bar.wait_for(state="visible")
    text = bar.inner_text()
    assert "This was not done (HTTP 400 Bad Request)." in text
    assert "“tenant_url” contains a NUL character" in text
    assert bar.get_attribute("role") == "alert"
    shot(page, "errors-01-nul-character-400")

    # Dismiss hides it.
    bar.get_by_role("button", name="Dismiss").click()
    bar.wait_for(state="hidden")

    # An expired or mismatched CSRF token: Django answers 403, and the page says what to do.
    page.evaluate("document.querySelector('input[name=tenant_url]').value = 'https://scim.example.com/v2'")
    page.context.add_cookies([{"name": "csrftoken", "value": "x" * 32, "url": live_server.url}])
    page.get_by_role("button", name="Test Connection", exact=True).click()
    bar.wait_for(state="visible")
    text = bar.inner_text()
    assert "This was not done (HTTP 403 Forbidden)." in text
    assert "security token (CSRF) has expired or is missing, so nothing was saved" in text
    shot(page, "errors-02-expired-csrf-403")
