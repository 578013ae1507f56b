"""The Celery tasks: which queue each goes to, that each message runs once, and the beat tick."""

import time

import pytest
from celery.signals import task_prerun
from django.conf import settings
from django.utils import timezone

from portal.celery import app as celery_app
from provisioning import tasks
from provisioning.models import CycleChunk, ProvisioningCycle
from tests import factories


def route(task):
    return celery_app.amqp.router.route({}, task.name, (), {})["queue"]


def test_on_demand_runs_and_cycles_travel_on_queues_of_their_own():
    assert route(tasks.run_on_demand).name == settings.PROVISIONING_ON_DEMAND_QUEUE
    for task in (tasks.run_cycle, tasks.run_cycle_chunk, tasks.plan_cycle, tasks.start_due_cycles):
        assert route(task).name == settings.PROVISIONING_CYCLES_QUEUE
    queues = list(celery_app.amqp.queues.values())
    # Two queues bound with one routing key would each receive every task.
    assert len({(q.exchange.name, q.routing_key) for q in queues}) == len(queues) == 2


@pytest.mark.django_db(transaction=True)
def test_a_task_runs_once_with_a_worker_on_both_queues(celery_worker):
    ran = []

    def note(task_id=None, task=None, **kwargs):
        ran.append(task.name)

    task_prerun.connect(note, weak=False)
    try:
        tasks.run_on_demand.delay(987654321)  # no such run: the task looks and returns
        tasks.run_cycle_chunk.delay(987654321)
        deadline = time.monotonic() + 10
        while len(ran) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # a second delivery would have arrived by now
    finally:
        task_prerun.disconnect(note)
    assert sorted(ran) == ["provisioning.tasks.run_cycle_chunk", "provisioning.tasks.run_on_demand"]


@pytest.mark.django_db
def test_the_beat_tick_queues_due_cycles_and_gives_workers_back_to_interrupted_ones(monkeypatch, settings):
    settings.PROVISIONING_LEASE_SECONDS = 30
    sent = []
    monkeypatch.setattr(tasks.run_cycle, "delay", lambda cycle_id: sent.append(("run_cycle", cycle_id)))
    monkeypatch.setattr(tasks.run_cycle_chunk, "delay", lambda cycle_id: sent.append(("chunk", cycle_id)))
    due = factories.ApplicationFactory(default_mappings=False, provisioning_enabled=True,
                                       next_cycle_at=timezone.now() - timezone.timedelta(minutes=1))
    stranded = factories.ProvisioningCycleFactory(state="running", phase="users", started_at=timezone.now(),
                                                  heartbeat_at=timezone.now() - timezone.timedelta(minutes=5))
    factories.CycleChunkFactory(cycle=stranded, object_ids=[1], total=1, state="running",
                                lease_expires_at=timezone.now() - timezone.timedelta(minutes=4))

    tasks.start_due_cycles()

    queued = ProvisioningCycle.objects.get(application=due)
    assert ("run_cycle", queued.pk) in sent
    assert ("chunk", stranded.pk) in sent
    assert CycleChunk.objects.get(cycle=stranded).state == "running"  # the next worker takes the expired lease
