"""The README's pictures, taken in real Chromium so they stay current: the Overview during a cycle (with the
history of the cycles before it), Provision on demand with its steps, and a log entry with the logs chart.

A real Celery worker and a real scim2-server that answers each request after 40 ms (so the cycle runs long
enough to be seen). Saves docs/screenshots/*.png, which the README shows: re-run this test and commit them
after changing a page (look at them).
"""

import re
import time
from pathlib import Path

import pytest

from provisioning import tasks
from provisioning.engine.cycle import start_provisioning
from provisioning.models import Application, ProvisioningCycle
from tests import factories
from tests.browser.test_admin_path import PASSWORD, open_page  # noqa: F401 (a fixture)
from tests.servers import start_scim_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

README_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
DEPARTMENTS = ["Engineering", "Sales", "Finance", "Marketing", "Support"]


@pytest.fixture
def slow_target():
    server = start_scim_server(extra_args=["--latency-ms", "40"])
    yield server
    server.stop()


def readme_shot(page, name, full_page=True):
    README_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(README_SHOTS / f"{name}.png"), full_page=full_page)


def run_cycle(app, timeout=120):
    cycle = start_provisioning(app)
    tasks.run_cycle.delay(cycle.pk)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cycle.refresh_from_db()
        if cycle.state not in (ProvisioningCycle.State.QUEUED, ProvisioningCycle.State.RUNNING):
            assert cycle.state == ProvisioningCycle.State.COMPLETED, cycle.error
            return cycle
        time.sleep(0.1)
    raise AssertionError(f"the cycle did not finish within {timeout} s")


def sign_in(page, url, user):
    page.goto(f"{url}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def test_readme_screenshots(live_server, celery_worker, slow_target, open_page, settings):
    settings.PROVISIONING_CHUNK_SIZE = 25  # several chunks, so the progress bar moves while we look
    admin = factories.AdministratorFactory(username="ada")
    app = factories.ApplicationFactory(name="Contoso HR (SCIM)", tenant_url=slow_target.tenant_url(),
                                       secret_token=slow_target.token, scope=Application.Scope.ALL, use_bulk=False,
                                       max_concurrent_requests=1, provisioning_enabled=True)
    people = [factories.DirectoryUserFactory(department=DEPARTMENTS[n % 5], job_title="Engineer") for n in range(90)]
    for n in range(4):
        factories.DirectoryGroupFactory(display_name=f"{DEPARTMENTS[n]} team", members=people[n::5])
    # The history: an initial cycle, then incremental cycles with a few changes each.
    run_cycle(app)
    for round_, changed in enumerate((12, 3, 0, 30, 7)):
        for person in people[:changed]:
            person.job_title = f"Engineer {round_}"
            person.save()
        run_cycle(app)
    # The cycle the Overview shows running: every person's title changes.
    for person in people:
        person.job_title = "Senior Engineer"
        person.save()

    page = open_page()
    sign_in(page, live_server.url, admin)
    page.goto(f"{live_server.url}/apps/{app.pk}/")
    page.get_by_role("button", name="Start provisioning").click()
    page.locator(".ov-phase-current").first.wait_for(timeout=30_000)
    page.wait_for_function("() => { const n = document.querySelector('.ov-progress-label');"
                           " return n && parseInt(n.textContent) >= 20; }", timeout=30_000)
    assert page.locator(".ov-history svg .chart-column").count() == 3 * 7  # six finished cycles and the running one
    readme_shot(page, "overview-during-a-cycle")
    page.get_by_text(re.compile(r"Incremental cycle completed in")).wait_for(timeout=60_000)
    # A new hire after the cycle, provisioned on demand (created, not found by the cycle first).
    factories.DirectoryUserFactory(given_name="Jane", surname="Doe", display_name="Jane Doe",
                                   user_principal_name="jane.doe@contoso.example", mail="jane.doe@contoso.example",
                                   department="Finance", job_title="Controller")

    page.get_by_role("link", name="Provision on demand").first.click()
    page.fill("#od-search", "Jane Doe")
    page.get_by_text("jane.doe@contoso.example").first.wait_for()
    page.locator("input[name=pick][value^='user:']").first.check()
    page.locator("#selection").get_by_text("User · jane.doe@contoso.example").wait_for()
    page.click("#od-provision")
    page.get_by_text(re.compile(r"was created in")).first.wait_for(timeout=30_000)
    page.locator("summary", has_text="View details").last.click()
    readme_shot(page, "provision-on-demand")

    page.goto(f"{live_server.url}/apps/{app.pk}/provisioning-logs/?date=24h")
    page.locator("#log-chart svg").wait_for()
    assert page.locator("#log-chart svg .chart-column").count() == 25
    page.locator(".log-row", has_text="Jane Doe").first.click()
    page.locator("#log-detail .log-detail").wait_for()
    readme_shot(page, "log-entry", full_page=False)  # the chart, the newest entries and the open entry
