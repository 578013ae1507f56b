"""An Administrator creates an API token in real Chromium, a script uses it against the live server, the
Administrator revokes it; and the API docs page renders Swagger UI from the portal's own files."""

import re

import httpx
import pytest

from tests import factories
from tests.browser.test_admin_path import PASSWORD, open_page, shot  # noqa: F401 (open_page is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_use_and_revoke_a_token(live_server, open_page):  # noqa: F811
    admin = factories.AdministratorFactory(username="ada")
    factories.ApplicationFactory(name="Slack")
    page = open_page()
    outside = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(live_server.url) else None)

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    page.get_by_role("link", name="API tokens").click()
    page.fill("input[name=name]", "Nightly HR sync")
    page.get_by_label("Administrator").check()
    page.click("button:has-text('Create')")
    page.get_by_text("Copy it now: it is shown only once.").wait_for()
    text = page.input_value("#token-text")
    shot(page, "api-01-token-created")

    api = f"{live_server.url}/api/v1"
    answer = httpx.get(f"{api}/servicePrincipals", headers={"Authorization": f"Bearer {text}"})
    assert [sp["displayName"] for sp in answer.json()["value"]] == ["Slack"]

    page.goto(f"{live_server.url}/api-tokens/")
    assert text not in page.content()
    page.locator("#calls").get_by_text("/api/v1/servicePrincipals").wait_for()
    page.click("#tokens button:has-text('Revoke')")
    page.get_by_text("is revoked: calls with it are refused from now on.").wait_for()
    shot(page, "api-02-token-revoked")
    refused = httpx.get(f"{api}/servicePrincipals", headers={"Authorization": f"Bearer {text}"})
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "The access token 'Nightly HR sync' was revoked: ask an Administrator for a new token."

    page.goto(f"{api}/docs")
    page.get_by_text("Provisioning Portal API").first.wait_for()
    page.get_by_text("/api/v1/auditLogs/provisioning").first.wait_for()
    shot(page, "api-03-docs")
    assert outside == [], outside
