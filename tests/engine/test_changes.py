"""Changes in seconds: a directory change reaches the target through an incremental cycle initiated by the
change, coalesced, logged "Initiated by: change", never lost or doubled while another cycle runs."""

import time

import httpx
import pytest
from django.db import transaction

from provisioning.engine import changes
from provisioning.engine.cycle import run_cycle, start_provisioning
from provisioning.models import Application, ProvisioningCycle, ProvisioningLog, RunState
from tests import factories


def title_in_target(app, token, user):
    answer = httpx.get(f"{app.tenant_url}/Users", params={"filter": f'userName eq "{user.user_principal_name}"'},
                       headers={"Authorization": f"Bearer {token}"}).json()
    return answer["Resources"][0].get("title")


@pytest.fixture
def synced(scim_app):
    """An app whose initial cycle has run, with provisioning On."""
    scim_app.scope, scim_app.sync_changes_immediately = Application.Scope.ALL, True
    scim_app.save()
    people = factories.DirectoryUserFactory.create_batch(3, job_title="Engineer")
    assert run_cycle(start_provisioning(scim_app)).state == RunState.COMPLETED
    scim_app.refresh_from_db()
    assert scim_app.provisioning_enabled and scim_app.watermark
    return people


@pytest.mark.django_db
def test_ten_edits_mark_the_app_once_and_make_one_cycle(scim_app, scim_server, synced):
    marks = [changes.mark_changed() for _ in range(10)]
    assert marks == [True] + [False] * 9
    assert changes.queue_change_cycles()[0] == []  # within the coalescing second
    Application.objects.filter(pk=scim_app.pk).update(change_sync_due_at=changes.timezone.now())
    [cycle] = changes.queue_change_cycles()[0]
    assert cycle.initiated_by_change and cycle.kind == "incremental"
    assert changes.queue_change_cycles() == ([], None)


@pytest.mark.django_db
def test_a_change_cycle_logs_initiated_by_change_and_sends_only_the_change(scim_app, scim_server, synced):
    synced[0].job_title = "Astronaut"
    synced[0].save()
    cycle = run_cycle(ProvisioningCycle.objects.create(application=scim_app, kind="incremental", initiated_by_change=True))
    [entry] = ProvisioningLog.objects.filter(cycle=cycle)
    assert (entry.action, entry.status, entry.initiated_by) == ("update", "success", "change")
    assert title_in_target(scim_app, scim_server.token, synced[0]) == "Astronaut"
    scim_app.refresh_from_db()
    assert changes.last_change_sync(scim_app) == cycle


@pytest.mark.django_db
def test_while_a_cycle_runs_the_change_waits_for_it(scim_app, synced):
    running = factories.ProvisioningCycleFactory(application=scim_app, state=RunState.RUNNING, kind="incremental")
    Application.objects.filter(pk=scim_app.pk).update(change_sync_due_at=changes.timezone.now())
    queued, again = changes.queue_change_cycles()
    assert queued == [] and again == changes.RECHECK_SECONDS
    scim_app.refresh_from_db()
    assert scim_app.change_sync_due_at is not None  # not lost
    running.state = RunState.COMPLETED
    running.save()
    assert len(changes.queue_change_cycles()[0]) == 1


@pytest.mark.django_db
def test_apps_that_do_not_sync_changes_are_left_alone(scim_app, synced):
    scim_app.sync_changes_immediately = False
    scim_app.save()
    assert changes.mark_changed() is False
    factories.ApplicationFactory()  # never ran an initial cycle: its first cycle takes everything
    assert changes.mark_changed() is False


@pytest.mark.django_db(transaction=True)
def test_an_edit_reaches_the_target_within_seconds_through_a_real_worker(celery_worker, scim_server):
    app = factories.ApplicationFactory(tenant_url=scim_server.tenant_url(), secret_token=scim_server.token,
                                       scope=Application.Scope.ALL, sync_changes_immediately=True)
    person = factories.DirectoryUserFactory(job_title="Engineer")
    assert run_cycle(start_provisioning(app)).state == RunState.COMPLETED
    for n in range(10):  # ten edits, each its own transaction, as ten saves in the admin would be
        with transaction.atomic():
            person.job_title = f"Astronaut {n}"
            person.save()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and title_in_target(app, scim_server.token, person) != "Astronaut 9":
        time.sleep(0.2)
    assert title_in_target(app, scim_server.token, person) == "Astronaut 9"
    change_cycles = ProvisioningCycle.objects.filter(application=app, initiated_by_change=True)
    assert 1 <= change_cycles.count() <= 3  # coalesced: ten edits are not ten cycles
    assert ProvisioningLog.objects.filter(cycle__in=change_cycles, initiated_by="change", action="update").exists()


def test_the_product_syncs_changes_by_default():
    assert Application().sync_changes_immediately is True


@pytest.mark.django_db
def test_the_overview_shows_the_last_change_sync(admin_client, scim_app, synced):
    from django.urls import reverse

    cycle = factories.ProvisioningCycleFactory(application=scim_app, kind="incremental", initiated_by_change=True,
                                               state=RunState.COMPLETED)
    page = admin_client.get(reverse("apps:overview", args=[scim_app.id])).content.decode()
    assert "Changes sync immediately: last change sync" in page and f"?cycle={cycle.cycle_id}" in page
