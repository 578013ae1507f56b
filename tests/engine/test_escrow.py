"""Escrow across cycles, through a fault proxy in front of the real scim2-server: a failed object is retried
in the next cycle, then less and less often, at once when it changes; the log entry says which; the
Overview's reasons; references counted apart; Restart with Escrows forgets them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.engine import escrow
from provisioning.engine.cycle import run_cycle, start_provisioning
from provisioning.engine.restart import restart_provisioning
from provisioning.models import Application, Escrow, ExportState, ProvisioningLog, RunState
from tests import factories
from tests.servers import start_fault_proxy, start_scim_server

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def upstream():
    server = start_scim_server()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy(upstream):
    server = start_fault_proxy(upstream)
    yield server
    server.stop()


@pytest.fixture
def app(upstream, proxy):
    app = factories.ApplicationFactory(tenant_url=proxy.tenant_url(upstream.tenant_url()), secret_token=upstream.token,
                                       scope=Application.Scope.ALL, use_bulk=False)
    proxy.set(garbage={"no_id": 1.0})  # every create answers 201 without an id: a permanent failure
    proxy.clear()
    yield app
    proxy.set()


def cycle(app):
    done = run_cycle(start_provisioning(app))
    assert done.state == RunState.COMPLETED, done.error
    return done


def posts(proxy):
    return [r for r in proxy.log() if r["method"] == "POST"]


def test_a_failure_is_retried_next_cycle_then_less_often_and_at_once_when_it_changes(app, proxy):
    people = factories.DirectoryUserFactory.create_batch(3)
    first = cycle(app)
    failures = ProvisioningLog.objects.filter(cycle=first, status="failure")
    assert failures.count() == 3
    assert all(f.error_description.endswith("It is retried in the next cycle (escrow).") for f in failures)
    assert set(Escrow.objects.filter(application=app).values_list("attempts", flat=True)) == {1}

    second = cycle(app)  # incremental: nothing changed, but the escrowed objects are due
    failures = ProvisioningLog.objects.filter(cycle=second, status="failure")
    assert failures.count() == 3
    assert "has failed 2 times in a row (escrow); it is retried again after" in failures[0].error_description
    row = Escrow.objects.filter(application=app).first()
    assert row.attempts == 2 and abs(row.next_retry_at - timezone.now() - timedelta(minutes=40)) < timedelta(minutes=1)

    proxy.clear()
    third = cycle(app)  # none is due: no request, no entry
    assert not ProvisioningLog.objects.filter(cycle=third).exists() and posts(proxy) == []

    people[0].job_title = "Changed"
    people[0].save()
    fourth = cycle(app)  # a change retries it at once
    [entry] = ProvisioningLog.objects.filter(cycle=fourth)
    assert entry.source_id == str(people[0].object_id) and "failed 3 times" in entry.error_description

    proxy.set()  # a good day; the due time passes
    Escrow.objects.filter(application=app).update(next_retry_at=timezone.now())
    cycle(app)
    assert not Escrow.objects.filter(application=app).exists()
    assert ExportState.objects.filter(application=app).count() == 3


def test_a_configuration_change_retries_at_once(app, proxy):
    factories.DirectoryUserFactory.create_batch(2)
    cycle(app)
    cycle(app)
    proxy.set()
    restart_provisioning(app, "Watermark")  # what a mapping or scoping Save does
    again = run_cycle(app.cycles.get(state=RunState.QUEUED))
    assert again.state == RunState.COMPLETED
    assert not Escrow.objects.filter(application=app).exists()


def test_the_overview_summary_counts_references_apart(app):
    factories.EscrowFactory.create_batch(3, application=app, error_code="SchemaViolation", error_description="bad title")
    factories.EscrowFactory(application=app, error_code="ReferenceNotFound", reference=True)
    count, references, reasons = escrow.summary(app)
    assert (count, references) == (4, 1)
    assert reasons[0] == ("SchemaViolation", 3, "bad title") and reasons[1][:2] == ("ReferenceNotFound", 1)


def test_restart_with_escrows_forgets_them(app):
    factories.EscrowFactory.create_batch(2, application=app)
    restart_provisioning(app, "Escrows")
    assert not Escrow.objects.filter(application=app).exists()
