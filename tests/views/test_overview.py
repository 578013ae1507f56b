"""Overview: roles, Start/Stop provisioning, the polled cycle-status partial, counts linking to the logs."""

import pytest
from django.urls import reverse
from django.utils import timezone

from provisioning import tasks
from provisioning.models import Application, ProvisioningCycle
from tests.factories import ApplicationFactory, CycleChunkFactory, ExportStateFactory, ProvisioningCycleFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def app():
    return ApplicationFactory(default_mappings=False)


def url(name, app):
    return reverse(f"apps:{name}", args=[app.id])


@pytest.fixture
def enqueued(monkeypatch):
    """The cycle ids the views hand to Celery (after commit)."""
    ids = []
    monkeypatch.setattr(tasks.run_cycle, "delay", lambda cycle_id: ids.append(cycle_id))
    return ids


# Access


@pytest.mark.parametrize("name", ["overview", "overview_status"])
def test_anonymous_is_sent_to_sign_in(client, app, name):
    response = client.get(url(name, app))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("who", ["admin_client", "helpdesk_client"])
@pytest.mark.parametrize("name", ["overview", "overview_status"])
def test_both_roles_read_the_overview(request, app, who, name):
    assert request.getfixturevalue(who).get(url(name, app)).status_code == 200


@pytest.mark.parametrize("name", ["start", "stop"])
def test_helpdesk_cannot_start_or_stop(helpdesk_client, app, name):
    assert helpdesk_client.post(url(name, app)).status_code == 403
    app.refresh_from_db()
    assert not app.cycles.exists()


@pytest.mark.parametrize("name", ["start", "stop"])
def test_start_and_stop_are_post_only(admin_client, app, name):
    assert admin_client.get(url(name, app)).status_code == 405


def test_helpdesk_does_not_see_the_buttons(helpdesk_client, app):
    text = helpdesk_client.get(url("overview", app)).text
    assert "Start provisioning" not in text
    assert "Stop provisioning" not in text
    assert "Refresh" in text


def test_administrator_sees_the_buttons(admin_client, app):
    text = admin_client.get(url("overview", app)).text
    assert url("start", app) in text
    assert url("stop", app) in text


def test_unknown_app_is_404(admin_client):
    assert admin_client.get(reverse("apps:overview", args=[999999])).status_code == 404


# Start / Stop


def test_start_queues_an_initial_cycle_after_commit(admin_client, app, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url("start", app), follow=True)
    cycle = app.cycles.get()
    assert cycle.kind == ProvisioningCycle.Kind.INITIAL
    assert cycle.state == ProvisioningCycle.State.QUEUED
    assert enqueued == [cycle.id]
    app.refresh_from_db()
    assert app.provisioning_enabled
    assert "Provisioning started" in response.text
    assert response.redirect_chain[-1][0] == url("overview", app)


def test_start_when_not_configured_explains_what_to_fix(admin_client, enqueued):
    app = ApplicationFactory(default_mappings=False, provisioning_mode=Application.Mode.MANUAL, tenant_url="")
    response = admin_client.post(url("start", app), follow=True)
    assert response.status_code == 200
    assert "Provisioning cannot start yet" in response.text
    assert "set Provisioning Mode to Automatic" in response.text
    assert not app.cycles.exists()
    assert enqueued == []


def test_start_while_a_cycle_runs_does_not_queue_another(admin_client, app, enqueued, django_capture_on_commit_callbacks):
    running = ProvisioningCycleFactory(application=app, state=ProvisioningCycle.State.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url("start", app), follow=True)
    assert list(app.cycles.all()) == [running]
    assert enqueued == []
    assert "already running" in response.text


def test_stop_turns_provisioning_off(admin_client, app):
    app.provisioning_enabled = True
    app.save()
    queued = ProvisioningCycleFactory(application=app)
    response = admin_client.post(url("stop", app), follow=True)
    app.refresh_from_db()
    queued.refresh_from_db()
    assert not app.provisioning_enabled
    assert queued.state == ProvisioningCycle.State.STOPPED
    assert "Provisioning stopped" in response.text


# Current cycle status


def test_no_cycle_yet(admin_client, app):
    text = admin_client.get(url("overview", app)).text
    assert "Initial cycle not run." in text
    assert "0% complete" in text
    assert 'hx-trigger="every 1s"' not in text


def test_running_cycle_polls_and_shows_progress(admin_client, app, monkeypatch):
    now = timezone.now()
    # The rate is objects per second since the start: fix the clock the Overview reads.
    monkeypatch.setattr("provisioning.engine.status.timezone.now", lambda: now)
    cycle = ProvisioningCycleFactory(application=app, state=ProvisioningCycle.State.RUNNING, phase="groups",
                                     started_at=now - timezone.timedelta(seconds=10), heartbeat_at=now)
    CycleChunkFactory(cycle=cycle, phase="users", total=30, done=30, state="done", counts={"create": {"success": 30}})
    CycleChunkFactory(cycle=cycle, phase="groups", step=1000, total=10, done=10, state="done")
    CycleChunkFactory(cycle=cycle, phase="groups", step=1000, total=10, done=0)
    response = admin_client.get(url("overview_status", app), **HX)
    text = response.text
    assert "<html" not in text
    assert f'hx-get="{url("overview_status", app)}" hx-trigger="every 1s"' in text
    assert "80% complete" in text
    # Objects, not pages: done / planned per phase, the current phase, the rate and what is left.
    assert "Initial cycle running: 80% complete (40 of 50 objects); groups: 10 of 20 groups; 4 objects/s, about 2 s left." in text
    assert '<tr class="ov-phase-current" aria-current="step"><td>Groups</td><td class="num">10</td><td class="num">20</td></tr>' in text
    assert "Initial cycle" in text
    assert str(cycle.cycle_id) in text
    # the command bar rides along so Start is disabled while the cycle runs
    assert 'id="ov-commands" class="ov-commands" hx-swap-oob="true"' in text
    assert "A cycle is already running" in text


def test_completed_cycle_stops_polling(admin_client, app):
    now = timezone.now()
    cycle = ProvisioningCycleFactory(
        application=app,
        state=ProvisioningCycle.State.COMPLETED,
        started_at=now - timezone.timedelta(seconds=12),
        finished_at=now,
    )
    CycleChunkFactory(cycle=cycle, total=3, done=3, state="done", counts={"create": {"success": 3}})
    text = admin_client.get(url("overview_status", app), **HX).text
    assert "every 1s" not in text
    assert "Initial cycle completed in 12 s: 3 objects processed." in text
    assert "100% complete" in text
    assert "12 seconds" in text


def test_incremental_cycle_with_no_changes_says_so(admin_client, app):
    since = timezone.now() - timezone.timedelta(hours=1)
    ProvisioningCycleFactory(application=app, kind="incremental", state=ProvisioningCycle.State.COMPLETED,
                             watermark_from=since, started_at=timezone.now(), finished_at=timezone.now())
    text = admin_client.get(url("overview", app)).text
    shown = timezone.localtime(since).strftime("%-m/%-d/%Y, %-I:%M:%S %p")
    assert f"Incremental cycle completed: no changes since {shown}." in text


def test_unchanged_objects_are_counted_not_logged(admin_client, app):
    cycle = ProvisioningCycleFactory(application=app, kind="incremental", state=ProvisioningCycle.State.COMPLETED,
                                     started_at=timezone.now(), finished_at=timezone.now())
    CycleChunkFactory(cycle=cycle, total=4, done=4, state="done", counts={"update": {"success": 1}, "unchanged": {"skipped": 3}})
    text = admin_client.get(url("overview", app)).text
    assert "1 object processed, 3 unchanged (not logged)" in text
    assert "3 objects checked and found unchanged: no request sent" in text


def test_a_cycle_whose_workers_died_shows_as_interrupted(admin_client, app, settings):
    settings.PROVISIONING_LEASE_SECONDS = 30
    ProvisioningCycleFactory(application=app, state=ProvisioningCycle.State.RUNNING, phase="users",
                             started_at=timezone.now() - timezone.timedelta(minutes=5),
                             heartbeat_at=timezone.now() - timezone.timedelta(minutes=2))
    text = admin_client.get(url("overview", app)).text
    assert "Initial cycle interrupted: no worker has reported for more than 30 seconds" in text
    assert "It resumes where it stopped" in text and "celery -A portal worker" in text


def test_a_stopping_cycle_says_how_soon(admin_client, app):
    ProvisioningCycleFactory(application=app, state=ProvisioningCycle.State.RUNNING, phase="users", stop_requested=True,
                             started_at=timezone.now(), heartbeat_at=timezone.now())
    text = admin_client.get(url("overview", app)).text
    assert "stopping: the objects in flight finish and are recorded, then it stops (within seconds)" in text


def test_counts_link_to_the_filtered_logs(admin_client, app):
    cycle = ProvisioningCycleFactory(application=app, state=ProvisioningCycle.State.COMPLETED, finished_at=timezone.now())
    CycleChunkFactory(cycle=cycle, total=4, done=4, state="done", counts={"create": {"success": 3}, "update": {"failure": 1}})
    text = admin_client.get(url("overview", app)).text
    logs = url("logs", app)
    assert f'{logs}?cycle={cycle.cycle_id}&amp;action=create&amp;status=success" title="View the 3 log entries">3</a>' in text
    assert f'{logs}?cycle={cycle.cycle_id}&amp;action=update&amp;status=failure" title="View the 1 log entry">1</a>' in text
    assert "Warning" not in text  # a Warning column appears only when there are warnings


def test_warning_column_appears_when_there_are_warnings(admin_client, app):
    cycle = ProvisioningCycleFactory(application=app, state=ProvisioningCycle.State.COMPLETED, finished_at=timezone.now())
    CycleChunkFactory(cycle=cycle, total=1, done=1, state="done", counts={"update": {"warning": 1}})
    text = admin_client.get(url("overview", app)).text
    assert '<th class="num">Warning</th>' in text


def test_statistics_and_technical_information(admin_client, app):
    ExportStateFactory(application=app, object_type="user")
    ExportStateFactory(application=app, object_type="user")
    ExportStateFactory(application=app, object_type="group")
    text = admin_client.get(url("overview", app)).text
    assert "<strong>2</strong><span class=\"muted\">Users</span>" in text
    assert "<strong>1</strong><span class=\"muted\">Groups</span>" in text
    assert "View technical information" in text
    assert app.job_id in text
    assert url("logs", app) in text
    assert "40 minutes" in text


def test_not_configured_app_says_so(admin_client):
    app = ApplicationFactory(default_mappings=False, provisioning_mode=Application.Mode.MANUAL)
    text = admin_client.get(url("overview", app)).text
    assert "Provisioning is not configured." in text
    assert url("provisioning", app) in text


# Bad days: quarantine banner, escrow reasons, held deletes, Restart provisioning


def quarantined(app, reason="EncounteredQuarantineException"):
    from provisioning.engine import quarantine

    return quarantine.enter(app, reason, "Slack refused the Secret Token: GET /Users answered 401 Unauthorized.",
                            "Generate a new token in Slack, then Restart provisioning.")


def test_the_quarantine_banner_says_why_since_when_and_what_to_do(admin_client, app):
    quarantined(app)
    page = admin_client.get(url("overview", app)).content.decode()
    assert "Quarantine: EncounteredQuarantineException" in page
    assert "Slack refused the Secret Token: GET /Users answered 401 Unauthorized." in page
    assert "Generate a new token in Slack, then Restart provisioning." in page
    assert "Next attempt" in page and reverse("apps:restart", args=[app.id]) in page


def test_held_deletes_offer_allow_and_reject_to_administrators_only(admin_client, helpdesk_client, app):
    from tests.factories import PendingRemovalFactory

    PendingRemovalFactory.create_batch(3, cycle=ProvisioningCycleFactory(application=app, state="completed"), staged=True)
    quarantined(app, "TooManyDeletes")
    page = admin_client.get(url("overview", app)).content.decode()
    assert "Allow deletes (3)" in page and ">Reject<" in page and "View the 3 held entries" in page
    assert "None: it waits for an administrator" in page
    assert "Allow deletes" not in helpdesk_client.get(url("overview", app)).content.decode()
    assert helpdesk_client.post(url("allow_deletes", app)).status_code == 403
    assert helpdesk_client.post(url("reject_deletes", app)).status_code == 403


def test_escrowed_objects_are_counted_with_their_reasons_and_links(admin_client, app):
    from tests.factories import EscrowFactory

    EscrowFactory.create_batch(2, application=app, error_code="SchemaViolation", error_description="title is too long")
    EscrowFactory(application=app, error_code="ReferenceNotFound", reference=True)
    page = admin_client.get(url("overview", app)).content.decode()
    assert "SchemaViolation" in page and "title is too long" in page
    assert f"{reverse('apps:logs', args=[app.id])}?status=failure&amp;error_code=SchemaViolation" in page


def test_restart_page_ticks_the_blades_default_and_explains_each_scope(admin_client, app):
    page = admin_client.get(url("restart", app)).content.decode()
    for scope in ("Watermark", "Escrows", "QuarantineState"):
        assert f'value="{scope}" id="scope-{scope}" checked' in page
    assert 'value="ConnectorDataStore" id="scope-ConnectorDataStore">' in page
    assert "a duplicate account" in page


def test_restart_queues_a_cycle_with_the_chosen_scopes(admin_client, app, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url("restart", app), {"scopes": ["Watermark", "ForceDeletes"]})
    assert response.status_code == 302
    cycle = app.cycles.get()
    assert enqueued == [cycle.pk] and cycle.restart_scopes == "Watermark,ForceDeletes" and cycle.force_deletes


def test_restart_without_a_scope_says_what_to_choose(admin_client, app):
    response = admin_client.post(url("restart", app), {})
    assert response.status_code == 400
    assert "Choose at least one thing to reset" in response.content.decode()
    assert helpdesk_forbidden_restart(app)


def helpdesk_forbidden_restart(app):
    from django.test import Client

    from tests.factories import HelpdeskFactory

    client = Client()
    client.force_login(HelpdeskFactory())
    return client.post(url("restart", app), {"scopes": ["Watermark"]}).status_code == 403


def test_allow_deletes_with_nothing_held_says_so(admin_client, app):
    response = admin_client.post(url("allow_deletes", app), follow=True)
    assert "nothing to allow" in response.content.decode()
def test_a_cycle_that_provisioned_nothing_says_why_with_links(admin_client):
    app = ApplicationFactory(scope=Application.Scope.ASSIGNED)
    ProvisioningCycleFactory(application=app, state=ProvisioningCycle.State.COMPLETED,
                             started_at=timezone.now(), finished_at=timezone.now())
    text = admin_client.get(url("overview", app)).text
    assert ("Nothing was provisioned: scope is &#x27;Sync only assigned users and groups&#x27; and nothing is assigned."
            in text)
    assert f'<a href="{reverse("apps:users_groups", args=[app.id])}">Assign users and groups</a>' in text
    assert f'<a href="{reverse("apps:provisioning", args=[app.id])}#id_scope">set Scope to Sync all users and groups</a>' in text


def test_a_cycle_that_provisioned_something_has_no_such_note(admin_client, app):
    ProvisioningCycleFactory(application=app, state=ProvisioningCycle.State.COMPLETED,
                             started_at=timezone.now(), finished_at=timezone.now())
    cycle = app.cycles.first()
    CycleChunkFactory(cycle=cycle, total=1, done=1, state="done", counts={"create": {"success": 1}})
    assert "Nothing was provisioned" not in admin_client.get(url("overview", app)).text


# Cycle history chart


def history_svg(response):
    import re
    import xml.etree.ElementTree as ET

    section = response.text.split('id="ov-history"', 1)[1]
    return ET.fromstring(re.search(r"<svg.*?</svg>", section, re.S).group(0))


def test_history_chart_draws_the_last_30_cycles_oldest_first(admin_client, app):
    from datetime import timedelta

    from provisioning.charts import SVG_NS

    start = timezone.now() - timedelta(days=2)
    for i in range(32):
        cycle = ProvisioningCycleFactory(application=app, kind="incremental", state="completed",
                                         started_at=start + timedelta(hours=i), finished_at=start + timedelta(hours=i, seconds=10 + i))
        CycleChunkFactory(cycle=cycle, counts={"update": {"success": i, "failure": 1 if i == 31 else 0}, "unchanged": {"skipped": 5}})
    ProvisioningCycleFactory(application=app, state="queued")  # not started: not drawn
    svg = history_svg(admin_client.get(url("overview", app)))
    ns = {"s": SVG_NS}
    columns = svg.findall(".//s:g[@class='chart-column']", ns)
    assert len(columns) == 3 * 30
    durations = [c for c in columns[:30]]
    assert durations[0].find("s:title", ns).text.endswith(": 12 s")  # cycle 2 is the oldest of the last 30
    assert durations[-1].find("s:title", ns).text.endswith(": 41 s")
    changed = [c.find("s:title", ns).text.rsplit(": ", 1)[1] for c in columns[30:60]]
    assert changed == [str(i) for i in range(2, 32)]
    failures = [r for r in svg.iter(f"{{{SVG_NS}}}rect") if "chart-failure" in r.get("class", "")]
    assert len(failures) == 1
    assert "The last 30 cycles" in svg.find("s:desc", ns).text


def test_history_chart_with_no_cycles_says_so(admin_client, app):
    svg = history_svg(admin_client.get(url("overview", app)))
    assert "No cycles yet" in "".join(svg.itertext())


def test_history_chart_follows_the_running_cycle_in_the_polled_region(admin_client, app):
    ProvisioningCycleFactory(application=app, state="running", started_at=timezone.now())
    response = admin_client.get(url("overview_status", app), **HX)
    assert 'id="ov-history"' in response.text
    assert "(running)" in "".join(history_svg(response).itertext())
