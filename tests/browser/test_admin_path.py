"""The admin's path in real Chromium: sign in, Test Connection, provision a user on demand, open its log entry.

Drives Debian's chromium through Playwright against a live server, a real Celery worker and a real
scim2-server; saves a screenshot of each page under test-artifacts/screenshots/ (look at them).
"""

import os
import re
import shutil
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests import factories

# Playwright's sync API runs an event loop in this thread; the ORM calls here are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
playwright_sync = pytest.importorskip("playwright.sync_api")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def open_page():
    """Launch Chromium when the test has made its data: ORM calls made while Playwright's event loop runs
    in this thread go through a worker thread whose database session outlives the test."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is needed for the browser test: apt-get install chromium (make test installs it)")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:

        def launch():
            p = stack.enter_context(playwright_sync.sync_playwright())
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            )
            stack.callback(browser.close)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(15_000)
            return page

        yield launch


def shot(page, name):
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_admin_signs_in_tests_the_connection_provisions_on_demand_and_reads_the_log(
    live_server, celery_worker, scim_app, open_page
):
    admin = factories.AdministratorFactory(username="ada")
    jane = factories.DirectoryUserFactory(
        given_name="Zoë", surname="Müller", display_name="Zoë Müller", user_principal_name="zoe.muller@contoso.example",
        mail="zoe.muller@contoso.example", department="Engineering", job_title="Engineer",
    )
    factories.AssignmentFactory(application=scim_app, user=jane)
    token = scim_app.get_secret_token()
    page = open_page()

    page.goto(f"{live_server.url}/login/")
    shot(page, "01-sign-in")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_text("Enterprise applications").first.is_visible()
    shot(page, "02-enterprise-applications")

    page.get_by_role("link", name=scim_app.name).first.click()
    page.get_by_text("Current cycle status").first.wait_for()
    shot(page, "03-overview")

    page.get_by_role("link", name="Provisioning", exact=True).first.click()
    page.get_by_role("button", name="Test Connection", exact=True).click()
    page.get_by_text("The supplied credentials are authorized to enable provisioning").wait_for()
    shot(page, "04-provisioning-test-connection")
    assert token not in page.content()

    page.get_by_role("link", name="Provision on demand").first.click()
    page.fill("#od-search", "Zoë")
    page.get_by_text("zoe.muller@contoso.example").first.wait_for()
    assert page.locator("#od-provision").is_disabled()  # nothing selected yet
    page.locator("input[name=pick][value^='user:']").first.check()
    # The search result says "User · <upn>" too: wait for the selection region's own line.
    page.locator("#selection").get_by_text("User · zoe.muller@contoso.example").wait_for()
    page.click("#od-provision")  # Playwright waits until the button is enabled
    try:
        page.get_by_text(re.compile(r"was created in")).first.wait_for(timeout=30_000)
    except playwright_sync.Error:
        shot(page, "failure-on-demand")
        raise
    for step in ("Import user", "Determine if user is in scope", "Match user between source and target system", "Perform action"):
        assert page.get_by_text(step).first.is_visible(), step
    page.locator("summary", has_text="View details").last.click()
    shot(page, "05-provision-on-demand")

    page.get_by_role("link", name=re.compile("provisioning logs", re.I)).last.click()
    page.get_by_text("Zoë Müller").first.wait_for()
    shot(page, "06-log-entry")
    assert "zoe.muller@contoso.example" in page.content()


def test_admin_edits_a_mapping_with_inline_validation_then_a_cycle_runs_and_helpdesk_reads_the_logs(
    live_server, celery_worker, scim_app, open_page
):
    admin = factories.AdministratorFactory(username="grace")
    helpdesk = factories.HelpdeskFactory(username="hal")
    for n in range(12):
        user = factories.DirectoryUserFactory(given_name="Björn", surname=f"Ångström {n}", department="Engineering")
        factories.AssignmentFactory(application=scim_app, user=user)
    page = open_page()

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.goto(f"{live_server.url}/apps/{scim_app.pk}/mappings/user/")
    page.get_by_text("+ Add New Mapping").click()
    page.locator("dialog[open]").wait_for()
    page.locator("dialog[open] select[name=mapping_type]").select_option("expression")
    box = page.locator("dialog[open] textarea[name=expression]")
    box.fill("")
    box.type('Join(".", [givenName] [surname])')  # a missing comma: the inline check answers as the admin types
    page.locator("#expression-check .field-error").wait_for()
    assert "^" in page.locator("#expression-check pre.caret").inner_text()
    shot(page, "07-mapping-inline-error")
    box.fill("")
    box.type('ToLower(NormalizeDiacritics(Join(".", [givenName], [surname])))')
    page.get_by_text("✓ Valid expression").wait_for()
    page.locator("dialog[open] input[name=target_attribute]").fill("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization")
    page.locator("dialog[open] button[type=submit]").first.click()
    page.locator("dialog[open]").wait_for(state="hidden")
    page.get_by_text("enterprise:2.0:User:organization").first.wait_for()
    shot(page, "08-mappings")

    page.goto(f"{live_server.url}/apps/{scim_app.pk}/")
    page.get_by_role("button", name="Start provisioning").click()
    page.get_by_text(re.compile(r"Initial cycle completed in")).wait_for(timeout=30_000)
    shot(page, "09-overview-after-cycle")
    assert page.locator("text=100% complete").first.is_visible()

    page.context.clear_cookies()  # sign out
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", helpdesk.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.goto(f"{live_server.url}/apps/{scim_app.pk}/provisioning-logs/?status=success&action=create")
    page.get_by_text("Björn Ångström 0").first.wait_for()
    assert page.get_by_role("link", name="Provisioning", exact=True).count() == 0  # Helpdesk's blade: Overview and logs
    shot(page, "10-helpdesk-logs")
    response = page.request.get(f"{live_server.url}/apps/{scim_app.pk}/provisioning/")
    assert response.status == 403
