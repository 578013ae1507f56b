"""/metrics: what Prometheus reads, from the database and the real broker, behind an API token."""

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from provisioning.engine import quarantine
from provisioning.metrics import broker_queue_depth
from provisioning.models import Quarantine, RunState
from tests import factories

pytestmark = pytest.mark.django_db


def scrape(token=None):
    headers = {"Authorization": f"Bearer {token.text}"} if token else {}
    return Client().get("/metrics", headers=headers)


def samples(response):
    assert response.status_code == 200, response.content
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found, name, **labels):
    return found[(name, tuple(sorted({k: str(v) for k, v in labels.items()}.items())))]


def test_needs_a_token():
    assert scrape().status_code == 401
    token = factories.ApiTokenFactory(revoked_at=timezone.now())
    response = scrape(token)
    assert response.status_code == 401 and b"was revoked" in response.content


def test_job_quarantine_escrow_staged_and_cycles(settings):
    token = factories.ApiTokenFactory()
    app = factories.ApplicationFactory(name="Slack", provisioning_enabled=True, job_status="active")
    other = factories.ApplicationFactory(name="Asana")
    now = timezone.now()
    done = factories.ProvisioningCycleFactory(application=app, state=RunState.COMPLETED,
                                              started_at=now - timedelta(seconds=100), finished_at=now - timedelta(seconds=40))
    factories.ProvisioningCycleFactory(application=app, state=RunState.FAILED, started_at=now, finished_at=now)
    factories.ProvisioningCycleFactory(application=app, state=RunState.RUNNING, kind="incremental", started_at=now - timedelta(seconds=30))
    factories.CycleChunkFactory(cycle=done, counts={"create": {"success": 4, "failure": 1}, "unchanged": {"skipped": 7}})
    quarantine.enter(other, Quarantine.Reason.values[0], "The target refused the token", "Fix the token")
    factories.EscrowFactory(application=app)
    factories.EscrowFactory(application=app, reference=True)
    factories.PendingRemovalFactory(cycle=done, staged=True)
    factories.ProvisioningLogFactory(application=app, created_at=now, action="update", status="failure")
    factories.ProvisioningLogFactory(application=app, created_at=now - timedelta(hours=2), action="update", status="failure")

    found = samples(scrape(token))

    slack, asana = {"app_id": app.pk, "application": "Slack"}, {"app_id": other.pk, "application": "Asana"}
    assert value(found, "portal_job_status", **slack, code="Active") == 1
    assert value(found, "portal_job_status", **slack, code="Quarantine") == 0
    assert value(found, "portal_job_status", **asana, code="Quarantine") == 1
    assert value(found, "portal_quarantined", **asana, reason=Quarantine.Reason.values[0]) == 1
    assert value(found, "portal_quarantined", **slack, reason="") == 0
    assert value(found, "portal_provisioning_enabled", **slack) == 1
    assert value(found, "portal_cycles", **slack, kind="initial", state="completed") == 1
    assert value(found, "portal_cycles", **slack, kind="initial", state="failed") == 1
    assert value(found, "portal_cycles", **slack, kind="incremental", state="running") == 1
    assert 29 <= value(found, "portal_cycle_running_seconds", **slack) < 60
    assert value(found, "portal_last_cycle_duration_seconds", **slack) == 60
    assert value(found, "portal_cycle_duration_seconds_bucket", **slack, le="60.0") == 1
    assert value(found, "portal_cycle_duration_seconds_bucket", **slack, le="15.0") == 0
    assert value(found, "portal_cycle_duration_seconds_count", **slack) == 1
    assert value(found, "portal_escrowed_objects", **slack, kind="object") == 1
    assert value(found, "portal_escrowed_objects", **slack, kind="reference") == 1
    assert value(found, "portal_staged_deletes", **slack) == 1
    assert value(found, "portal_staged_deletes", **asana) == 0
    assert value(found, "portal_log_entries_last_hour", **slack, action="update", status="failure") == 1
    assert value(found, "portal_broker_up") == 1


def test_last_cycle_objects_by_action_and_status():
    token = factories.ApiTokenFactory()
    app = factories.ApplicationFactory(name="Slack")
    cycle = factories.ProvisioningCycleFactory(application=app, state=RunState.COMPLETED)
    factories.CycleChunkFactory(cycle=cycle, counts={"create": {"success": 4, "failure": 1}, "unchanged": {"skipped": 7}})
    found = samples(scrape(token))
    slack = {"app_id": app.pk, "application": "Slack"}
    assert value(found, "portal_last_cycle_objects", **slack, action="create", status="success") == 4
    assert value(found, "portal_last_cycle_objects", **slack, action="create", status="failure") == 1
    assert value(found, "portal_last_cycle_objects", **slack, action="unchanged", status="skipped") == 7


def test_queue_depth_from_the_real_broker(settings):
    from kombu import Queue

    from portal.celery import app as celery_app

    name = f"metrics-test-{uuid.uuid4().hex}"
    settings.PROVISIONING_CYCLES_QUEUE = name
    assert broker_queue_depth()[name] == 0
    with celery_app.producer_or_acquire() as producer:
        for _ in range(3):
            producer.publish({"probe": True}, routing_key=name, declare=[Queue(name)], retry=True)
    try:
        assert broker_queue_depth()[name] == 3
        found = samples(scrape(factories.ApiTokenFactory()))
        assert value(found, "portal_queue_messages", queue=name) == 3
    finally:
        with celery_app.connection_for_write() as connection:
            connection.default_channel.queue_delete(name)


def test_a_broker_that_does_not_answer_is_said_not_hidden(settings, monkeypatch):
    from provisioning import metrics

    def down():
        raise ConnectionRefusedError("broker down")

    monkeypatch.setattr(metrics, "broker_queue_depth", down)
    found = samples(scrape(factories.ApiTokenFactory()))
    assert value(found, "portal_broker_up") == 0


# Requests and latency per target: counted in the worker process, written in bulk, summed by the web process


def test_a_real_cycle_in_a_worker_process_counts_its_requests_per_target(transactional_db, scim_app):
    import time

    from provisioning import request_metrics, tasks
    from provisioning.engine.cycle import start_provisioning
    from provisioning.models import ProvisioningLog, TargetRequestCount
    from tests.workers import start_worker

    request_metrics.discard()
    scim_app.use_bulk = False
    scim_app.save()
    for n in range(12):
        factories.AssignmentFactory(application=scim_app, user=factories.DirectoryUserFactory(display_name=f"Metric User {n}"))
    worker = start_worker("metrics")
    try:
        cycle = start_provisioning(scim_app)
        tasks.run_cycle.delay(cycle.pk)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            cycle.refresh_from_db()
            if cycle.state != "queued" and not cycle.is_active:
                break
            time.sleep(0.1)
        assert cycle.state == "completed", cycle.error or worker.log()[-2000:]
        # The worker flushes when each task ends: the last one may still be writing.
        while time.monotonic() < deadline and not TargetRequestCount.objects.filter(method="POST").exists():
            time.sleep(0.1)
    finally:
        worker.stop()
    created = ProvisioningLog.objects.filter(cycle=cycle, action="create", status="success").count()
    assert created == 12
    assert TargetRequestCount.objects.count() < 40  # a few rows per chunk, not one per request

    found = samples(scrape(factories.ApiTokenFactory()))
    target = request_metrics.target_of(scim_app.tenant_url)
    assert value(found, "portal_target_requests_total", target=target, method="POST", status_class="2xx") == 12
    gets = value(found, "portal_target_requests_total", target=target, method="GET", status_class="2xx")
    assert gets >= 1  # ServiceProviderConfig and the target's listing
    assert value(found, "portal_target_request_duration_seconds_count", target=target, method="POST") == 12
    assert value(found, "portal_target_request_duration_seconds_bucket", target=target, method="POST", le="+Inf") == 12
    assert 0 < value(found, "portal_target_request_duration_seconds_sum", target=target, method="POST") < 12 * 5
    assert request_metrics._pending == {}  # this process sent nothing: the numbers came through the database
