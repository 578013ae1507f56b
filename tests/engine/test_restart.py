"""Restart provisioning: Entra's reset scopes, each doing exactly its one thing, and Allow deletes / Reject."""

import pytest
from django.utils import timezone

from provisioning.engine import quarantine, restart
from provisioning.engine.restart import RestartError, parse_scopes, restart_provisioning
from provisioning.models import Application, Escrow, ExportState, ProvisioningCycle, Quarantine, RunState
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def app(db):
    app = factories.ApplicationFactory(name="Slack", provisioning_enabled=True)
    Application.objects.filter(pk=app.pk).update(watermark=timezone.now())
    app.refresh_from_db()
    factories.ExportStateFactory(application=app)
    factories.EscrowFactory(application=app)
    quarantine.enter(app, Quarantine.Reason.CREDENTIALS, "refused", "fix")
    return app


def test_the_default_is_the_blades_and_full_is_everything():
    assert parse_scopes("") == ("Watermark", "Escrows", "QuarantineState")
    assert parse_scopes("full") == ("Watermark", "Escrows", "QuarantineState", "ForceDeletes", "ConnectorDataStore")
    assert parse_scopes("watermark, Escrows,watermark") == ("Watermark", "Escrows")
    assert parse_scopes(["ForceDeletes"]) == ("ForceDeletes",)


def test_an_unknown_scope_names_itself_and_the_valid_ones():
    with pytest.raises(RestartError) as refused:
        parse_scopes("Watermark, Everything")
    assert str(refused.value).startswith("Unknown reset scope Everything: use any of Watermark, Escrows,")


@pytest.mark.parametrize(("scopes", "watermark", "escrows", "links", "quarantined"), [
    ("Watermark", False, True, True, True),
    ("Escrows", True, False, True, True),
    ("QuarantineState", True, True, True, False),
    ("ConnectorDataStore", False, False, False, True),
    ("Watermark,Escrows,QuarantineState", False, False, True, False),
])
def test_each_scope_does_its_one_thing(app, admin_user, scopes, watermark, escrows, links, quarantined):
    cycle = restart_provisioning(app, scopes, requested_by=admin_user)
    app.refresh_from_db()
    assert (app.watermark is not None, Escrow.objects.filter(application=app).exists(),
            ExportState.objects.filter(application=app).exists(), quarantine.active(app) is not None) == \
        (watermark, escrows, links, quarantined)
    assert (cycle.state, cycle.restart_scopes, cycle.requested_by) == (RunState.QUEUED, scopes.replace(" ", ""), admin_user)
    if not quarantined:
        lifted = Quarantine.objects.get(application=app)
        assert lifted.lifted_by == admin_user.username and lifted.lifted_how == f"Restart with {scopes.replace(',', ', ')}"


def test_restart_stops_the_running_cycle_and_queues_one_after_it(app):
    running = factories.ProvisioningCycleFactory(application=app, state=RunState.RUNNING)
    queued = restart_provisioning(app)
    running.refresh_from_db()
    assert running.stop_requested and queued.pk != running.pk
    assert list(ProvisioningCycle.objects.filter(application=app, state=RunState.QUEUED)) == [queued]


def test_allow_and_reject_say_when_nothing_is_held(app):
    for decide in (restart.allow_deletes, restart.reject_deletes):
        with pytest.raises(RestartError, match="nothing to"):
            decide(app)


def test_reject_drops_the_held_ones_and_pauses_the_job(app, admin_user):
    cycle = factories.ProvisioningCycleFactory(application=app, state=RunState.COMPLETED)
    factories.PendingRemovalFactory.create_batch(3, cycle=cycle, staged=True)
    assert restart.reject_deletes(app, requested_by=admin_user) == 3
    app.refresh_from_db()
    assert (app.provisioning_enabled, app.job_status) == (False, Application.JobStatus.PAUSED)
    assert quarantine.active(app) is None
