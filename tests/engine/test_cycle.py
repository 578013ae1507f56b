"""Provisioning cycles: start/stop, every in-scope user through the pipeline, the watermark, due cycles."""

import time

import pytest
from django.utils import timezone

from provisioning import tasks
from provisioning.engine.cycle import ProvisioningNotConfigured, queue_due_cycles, run_cycle, start_provisioning, stop_provisioning
from provisioning.engine.status import overview
from provisioning.models import Application, ProvisioningCycle, ProvisioningLog
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def assigned(scim_app):
    users = factories.DirectoryUserFactory.create_batch(12)
    group = factories.DirectoryGroupFactory(members=users[6:])
    for user in users[:6]:
        factories.AssignmentFactory(application=scim_app, user=user)
    factories.AssignmentFactory(application=scim_app, user=None, group=group)
    factories.DirectoryUserFactory.create_batch(3)  # not assigned: not part of the cycle
    return users


def test_start_requires_configuration():
    app = factories.ApplicationFactory(provisioning_mode="manual", tenant_url="", secret_token="")
    with pytest.raises(ProvisioningNotConfigured) as excinfo:
        start_provisioning(app)
    assert "set Provisioning Mode to Automatic, enter the Tenant URL, enter the Secret Token" in str(excinfo.value)


def test_initial_cycle_creates_every_assigned_user_and_completes(scim_app, assigned):
    cycle = start_provisioning(scim_app)
    assert cycle.kind == "initial" and cycle.state == "queued"

    run_cycle(cycle)

    cycle.refresh_from_db()
    scim_app.refresh_from_db()
    # 12 users, then the one assigned group with its 6 members.
    assert cycle.state == "completed" and cycle.total_units == 13 and cycle.completed_units == 13
    assert cycle.percent_complete == 100
    assert ProvisioningLog.objects.filter(cycle=cycle, object_type="user", action="create", status="success").count() == 12
    group_log = ProvisioningLog.objects.get(cycle=cycle, object_type="group")
    assert (group_log.action, group_log.status) == ("create", "success"), group_log.error_description
    assert "6 member(s) added" in group_log.steps[-1]["description"]
    assert scim_app.watermark == cycle.started_at
    assert scim_app.job_status == Application.JobStatus.ACTIVE
    assert scim_app.next_cycle_at > timezone.now()
    status = overview(scim_app)
    assert status.cycle_status_text == "Initial cycle completed."
    assert [(c.action, c.status, c.n) for c in status.counts] == [("create", "success", 13)]
    assert (status.users_in_target, status.groups_in_target) == (12, 1)


def test_incremental_cycle_skips_unchanged_and_disables_unassigned(scim_app, assigned):
    run_cycle(start_provisioning(scim_app))
    scim_app.assignments.filter(user=assigned[0]).delete()

    second = start_provisioning(scim_app)
    assert second.kind == "incremental"
    run_cycle(second)

    by_outcome = {(log.action, log.status) for log in ProvisioningLog.objects.filter(cycle=second)}
    assert by_outcome == {("other", "skipped"), ("disable", "success")}
    assert ProvisioningLog.objects.get(cycle=second, action="disable").source_id == str(assigned[0].object_id)


def test_stop_cancels_a_queued_cycle_and_turns_provisioning_off(scim_app):
    cycle = start_provisioning(scim_app)
    stop_provisioning(scim_app)
    cycle.refresh_from_db()
    scim_app.refresh_from_db()
    assert cycle.state == "stopped" and not scim_app.provisioning_enabled
    assert run_cycle(cycle).state == "stopped"  # a stale task for it does nothing


def test_stop_requested_ends_a_running_cycle_after_the_current_batch(scim_app, assigned):
    cycle = start_provisioning(scim_app)
    ProvisioningCycle.objects.filter(pk=cycle.pk).update(stop_requested=True)
    run_cycle(cycle)
    cycle.refresh_from_db()
    assert cycle.state == "stopped" and cycle.completed_units == 10


def test_cycle_with_bad_credentials_fails_and_says_why(scim_app, assigned):
    scim_app.set_secret_token("nope")
    scim_app.save()
    cycle = run_cycle(start_provisioning(scim_app))
    assert cycle.state == "failed" and "Test connection failed" in cycle.error
    assert "nope" not in cycle.error


def test_due_cycles_are_queued_once(scim_app):
    scim_app.provisioning_enabled = True
    scim_app.next_cycle_at = timezone.now() - timezone.timedelta(minutes=1)
    scim_app.save()
    assert len(queue_due_cycles()) == 1
    assert queue_due_cycles() == []


def test_cycle_task_through_a_real_celery_worker(celery_worker, scim_app):
    users = factories.DirectoryUserFactory.create_batch(3)
    for user in users:
        factories.AssignmentFactory(application=scim_app, user=user)
    cycle = start_provisioning(scim_app)

    tasks.run_cycle.delay(cycle.pk)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        cycle.refresh_from_db()
        if not cycle.is_active:
            break
        time.sleep(0.1)
    assert cycle.state == "completed", cycle.error
    assert ProvisioningLog.objects.filter(cycle=cycle, status="success").count() == 3


def test_a_configuration_change_during_a_cycle_keeps_the_next_cycle_full(scim_app, assigned, monkeypatch):
    from provisioning.engine import cycle as cycle_module

    Application.objects.filter(pk=scim_app.pk).update(watermark=timezone.now() - timezone.timedelta(days=1))
    cycle = start_provisioning(scim_app)
    original = cycle_module.provision_user

    def provision_and_change_mappings(ctx, user, **kwargs):
        # An admin saves a mapping change while the cycle runs (mapping_config clears the watermark).
        Application.objects.filter(pk=scim_app.pk).update(watermark=None)
        return original(ctx, user, **kwargs)

    monkeypatch.setattr(cycle_module, "provision_user", provision_and_change_mappings)
    run_cycle(cycle)
    scim_app.refresh_from_db()
    assert scim_app.watermark is None
    assert start_provisioning(scim_app).kind == "initial"
