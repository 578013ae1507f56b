"""What was learned about the target, on the Provisioning page in real Chromium, after provisioning into
django-scim2-like refusals; Forget clears a lesson. Saves screenshots under test-artifacts/screenshots/."""

import pytest

from provisioning.models import Application
from tests import factories
from tests.browser.test_admin_path import open_page, shot  # noqa: F401  (open_page is a fixture)
from tests.browser.test_compliance_checklist import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
AT = "2026-12-01T12:00:00+00:00"


def test_lessons_are_listed_and_forgotten(live_server, open_page):
    app = factories.ApplicationFactory(name="Django HR", target_quirks={
        "shapes": {"active": {"use": "boolean", "why": 'Django HR refused active as the string "False" (400 Bad Request) and took the other shape', "at": AT}},
        "refused": {"Groups": {"displayName": {"why": "501 Not Implemented to a PATCH of it", "at": AT, "status": 501}}},
        "dropped": {"Users": {"title": {"why": "the answer to the create of User 'Jane Doe' did not hold it", "at": AT}}},
    })
    page = open_page()
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/apps/{app.pk}/provisioning/")
    section = page.locator("#target-quirks")
    section.scroll_into_view_if_needed()
    shot(page, "31-target-quirks-learned")
    assert "Leaves displayName out of updates of Groups" in section.inner_text()
    assert "Leaves title out of updates of Users (the target does not keep it)" in section.inner_text()
    section.locator("tr", has_text="Groups: displayName").get_by_role("button", name="Forget").click()
    page.get_by_text("Forgot the lesson about Groups: displayName").wait_for()
    assert "displayName" not in Application.objects.get(pk=app.pk).target_quirks.get("refused", {}).get("Groups", {})
    page.locator("#target-quirks").get_by_role("button", name="Forget all").click()
    page.get_by_text("Forgot everything learned about the target").wait_for()
    page.locator("#target-quirks").scroll_into_view_if_needed()
    shot(page, "32-target-quirks-forgotten")
    assert Application.objects.get(pk=app.pk).target_quirks == {}
