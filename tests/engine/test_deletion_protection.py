"""Accidental-deletion prevention against the real scim2-server: disables and deletes counted together,
none sent at or over the threshold, each held one logged as StagedDelete with its reason, TooManyDeletes;
Allow deletes sends exactly the held ones, Reject none."""

import pytest

from provisioning.engine import deletion_protection
from provisioning.engine.cycle import run_cycle, start_provisioning
from provisioning.engine.restart import allow_deletes, reject_deletes
from provisioning.models import Application, Assignment, ExportState, ProvisioningLog, Quarantine, RunState
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def assigned(scim_app):
    """Six assigned users in the target; threshold 5."""
    scim_app.scope, scim_app.deletion_threshold = Application.Scope.ASSIGNED, 5
    scim_app.save()
    people = factories.DirectoryUserFactory.create_batch(6)
    for person in people:
        factories.AssignmentFactory(application=scim_app, user=person)
    assert run_cycle(start_provisioning(scim_app)).state == RunState.COMPLETED
    assert ExportState.objects.filter(application=scim_app, disabled=False).count() == 6
    return people


def unassign(app, people):
    Assignment.objects.filter(application=app, user__in=people).delete()


def disabled(app):
    return ExportState.objects.filter(application=app, disabled=True).count()


def test_below_the_threshold_the_disables_are_sent(scim_app, assigned):
    unassign(scim_app, assigned[:4])
    cycle = run_cycle(start_provisioning(scim_app))
    assert cycle.state == RunState.COMPLETED and disabled(scim_app) == 4
    assert not Quarantine.objects.filter(application=scim_app).exists()


def test_at_the_threshold_none_is_sent_and_each_is_logged_with_its_reason(scim_app, assigned):
    unassign(scim_app, assigned[:5])
    newcomer = factories.DirectoryUserFactory()
    factories.AssignmentFactory(application=scim_app, user=newcomer)
    cycle = run_cycle(start_provisioning(scim_app))

    assert disabled(scim_app) == 0
    staged = ProvisioningLog.objects.filter(cycle=cycle, action=ProvisioningLog.Action.STAGED_DELETE)
    assert staged.count() == 5
    entry = staged.first()
    assert "would have been disabled" in entry.error_description and "not assigned" in entry.error_description
    assert "reached the accidental deletion threshold (5)" in entry.error_description
    held = Quarantine.objects.get(application=scim_app, lifted_at__isnull=True)
    assert held.reason == Quarantine.Reason.TOO_MANY_DELETES and "would have disabled 5 objects in" in held.description
    # The rest of the cycle still ran: the newcomer was created.
    assert ExportState.objects.filter(application=scim_app, source_id=newcomer.object_id).exists()
    assert deletion_protection.held(scim_app).count() == 5


def test_allow_deletes_sends_exactly_the_held_ones(scim_app, assigned):
    unassign(scim_app, assigned)
    run_cycle(start_provisioning(scim_app))
    assert disabled(scim_app) == 0

    cycle = run_cycle(allow_deletes(scim_app))

    assert cycle.state == RunState.COMPLETED, cycle.error
    assert disabled(scim_app) == 6
    assert ProvisioningLog.objects.filter(cycle=cycle, action=ProvisioningLog.Action.DISABLE, status="success").count() == 6
    assert not deletion_protection.held(scim_app).exists()
    scim_app.refresh_from_db()
    assert scim_app.job_status == Application.JobStatus.ACTIVE


def test_reject_sends_none_and_the_next_cycle_does_not_hold_them_again_silently(scim_app, assigned):
    unassign(scim_app, assigned)
    run_cycle(start_provisioning(scim_app))
    reject_deletes(scim_app)
    assert disabled(scim_app) == 0 and not deletion_protection.held(scim_app).exists()
    scim_app.refresh_from_db()
    assert (scim_app.provisioning_enabled, scim_app.job_status) == (False, Application.JobStatus.PAUSED)


def test_turned_off_it_sends_them(scim_app, assigned):
    scim_app.prevent_accidental_deletions = False
    scim_app.save()
    unassign(scim_app, assigned)
    assert run_cycle(start_provisioning(scim_app)).state == RunState.COMPLETED
    assert disabled(scim_app) == 6
