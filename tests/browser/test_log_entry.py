"""A failed log entry in real Chromium: the fix beside the failing step, and the Request and response tab.

Saves test-artifacts/screenshots/log-entry-*.png (look at them).
"""

import json
import re

import pytest

from provisioning.engine.context import INITIATED_BY, RunContext
from provisioning.engine.pipeline import provision_user
from provisioning.models import ProvisioningLog
from tests import factories
from tests.browser.test_admin_path import PASSWORD, open_page, shot  # noqa: F401 (open_page is a fixture)
from tests.scim.misbehaving import Reply, misbehaving_server, scim_error  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def provision(app, user):
    app.refresh_from_db()
    ctx = RunContext(application=app, initiated_by=INITIATED_BY.ADMIN)
    try:
        return provision_user(ctx, user)
    finally:
        ctx.close()


def test_a_failed_update_shows_its_fix_and_the_refused_patch(live_server, scim_app, misbehaving_server, open_page):
    admin = factories.AdministratorFactory(username="ada")
    jane = factories.DirectoryUserFactory(display_name="Jane Doe", user_principal_name="jane@contoso.example",
                                          mail="jane@contoso.example", job_title="Engineer", department="Engineering")
    factories.AssignmentFactory(application=scim_app, user=jane)
    created = provision(scim_app, jane)
    assert created.status == "success", created.error_description

    def respond(request):
        if request.method == "GET":
            return Reply(200, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": created.target_id,
                               "userName": "jane@contoso.example", "title": "Engineer", "active": True},
                         headers={"Set-Cookie": "session=abc"})
        return Reply(400, scim_error(400, "Attribute 'title' is read-only", "mutability"))

    scim_app.tenant_url = misbehaving_server(respond).url + "/scim/v2"
    scim_app.save()
    jane.job_title = "Principal Engineer"
    jane.save()
    failed = provision(scim_app, jane)
    assert failed.status == "failure"
    assert "abc" not in json.dumps(failed.traffic)

    page = open_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(re.compile(r"/$"))

    page.goto(f"{live_server.url}/apps/{scim_app.id}/provisioning-logs/")
    page.locator(".log-row").first.click()
    panel = page.locator("#log-detail .log-detail")
    panel.wait_for()
    fix = panel.locator(".step-fix")
    assert fix.is_visible() and "mutability" not in fix.inner_text()
    assert "Recommended fix" in fix.inner_text() and fix.locator("a.fix-link").count() >= 1
    shot(page, "log-entry-steps")

    panel.get_by_text("Request and response").click()
    traffic = panel.locator(".traffic")
    traffic.wait_for()
    text = traffic.inner_text()
    assert "PATCH" in text and "400" in text and "read-only" in text and '"Operations"' in text
    assert "Bearer [redacted]" in text and scim_app.get_secret_token() not in text
    shot(page, "log-entry-request-and-response")


def test_a_hostile_targets_text_is_shown_escaped(live_server, open_page):
    """ESC, a right-to-left override, NUL and a lone surrogate from the target (tests/hostile_target.py, bad_text):
    the entry is stored, and the page shows the characters as \\u escapes instead of letting them act."""
    from tests.hostile_target import HostileTarget

    admin = factories.AdministratorFactory(username="ada")
    with HostileTarget() as target:
        app = factories.ApplicationFactory(tenant_url=target.tenant_url("bad_text"), secret_token=target.token)
        jane = factories.DirectoryUserFactory(display_name="Jane Doe", user_principal_name="jane@contoso.example",
                                              mail="jane@contoso.example")
        factories.AssignmentFactory(application=app, user=jane)
        provision(app, jane)
    failed = ProvisioningLog.objects.get(application=app, source_id=jane.object_id)
    assert failed.status == "failure"

    page = open_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    page.goto(f"{live_server.url}/apps/{app.id}/provisioning-logs/{failed.id}/")
    for summary in page.locator("summary:visible", has_text="View details").all():
        summary.click()
    text = page.locator(".log-detail").inner_text()
    assert "\\u001b[31mred\\u001b[0m" in text and "\\u202eexe.txt" in text
    assert "\u202e" not in text and "\x1b" not in text
    shot(page, "log-entry-hostile-text")
