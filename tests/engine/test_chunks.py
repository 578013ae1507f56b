"""Chunks and leases with real worker processes: two workers share a cycle, a SIGKILLed worker's chunk is
taken over, and the target ends exactly as the directory says, with no duplicate and no lost or doubled
log entry. The target answers after 30 ms (a target across a network), so chunks take long enough to be
killed in the middle.
"""

import time
from collections import Counter

import pytest
from django.utils import timezone

from provisioning import tasks
from provisioning.engine import chunks
from provisioning.engine.cycle import start_provisioning
from provisioning.engine.status import overview
from provisioning.models import Application, CycleChunk, ExportState, ProvisioningCycle, ProvisioningLog, RunState
from tests import factories
from tests.servers import start_scim_server
from tests.target_check import differences
from tests.workers import start_beat, start_worker

CHUNKS = {"PROVISIONING_CHUNK_SIZE": "40"}


@pytest.fixture(scope="module")
def slow_target():
    server = start_scim_server(extra_args=["--latency-ms", "30"])
    yield server
    server.stop()


@pytest.fixture
def company(transactional_db, slow_target):
    """160 people under 4 managers under a CEO, 3 teams of 70 and 40 small groups; the app syncs everyone,
    one POST per object, two requests at a time (so a chunk of 40 takes over a second)."""
    ceo = factories.DirectoryUserFactory(display_name="CEO")
    managers = factories.DirectoryUserFactory.create_batch(4, manager=ceo)
    staff = [factories.DirectoryUserFactory(manager=managers[i % 4]) for i in range(155)]
    people = [ceo, *managers, *staff]
    for n in range(3):
        factories.DirectoryGroupFactory(display_name=f"Team {n}", members=people[n * 50:(n + 1) * 50 + 20])
    for n in range(40):
        factories.DirectoryGroupFactory(display_name=f"Project {n}", members=people[n * 4:n * 4 + 3 + n % 5])
    app = factories.ApplicationFactory(tenant_url=slow_target.tenant_url(), secret_token=slow_target.token,
                                       scope=Application.Scope.ALL, use_bulk=False, max_concurrent_requests=2)
    return app


@pytest.fixture
def processes():
    started = []
    yield started
    for process in started:
        process.stop()


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def finished(cycle):
    cycle.refresh_from_db()
    return cycle.state in (RunState.COMPLETED, RunState.FAILED, RunState.STOPPED)


def assert_exactly_once(app, cycle, token):
    assert cycle.state == RunState.COMPLETED, cycle.error
    assert differences(app, token) == []
    per_object = Counter(ProvisioningLog.objects.filter(cycle=cycle).values_list("source_id", flat=True))
    doubled = {source: n for source, n in per_object.items() if n > 1}
    assert doubled == {}, "an object was logged twice"
    linked = ExportState.objects.filter(application=app).exclude(target_id="")
    assert per_object.keys() == {str(s) for s in linked.values_list("source_id", flat=True)}, "an object was not logged"
    assert linked.count() == 160 + 43


def test_two_worker_processes_share_one_cycle_and_do_every_chunk_once(company, slow_target, processes):
    processes += [start_worker("one", env=CHUNKS), start_worker("two", env=CHUNKS)]
    cycle = start_provisioning(company)

    tasks.run_cycle.delay(cycle.pk)
    wait_for(lambda: finished(cycle), 120, "the cycle to finish")

    assert_exactly_once(company, cycle, slow_target.token)
    all_chunks = CycleChunk.objects.filter(cycle=cycle)
    assert set(all_chunks.values_list("state", flat=True)) == {"done"}
    assert set(all_chunks.values_list("attempts", flat=True)) == {1}, "a chunk ran twice"
    owners = {owner.split(":")[1] for owner in all_chunks.values_list("lease_owner", flat=True)}
    assert owners == {str(processes[0].pid), str(processes[1].pid)}, "one of the workers did nothing"


@pytest.mark.parametrize("phase", ["users", "groups"])
def test_a_worker_killed_mid_chunk_loses_nothing_and_duplicates_nothing(company, slow_target, processes, phase):
    processes += [start_worker("victim", env=CHUNKS), start_beat(env=CHUNKS)]
    cycle = start_provisioning(company)
    tasks.run_cycle.delay(cycle.pk)

    def victim_mid_chunk():
        # A chunk of the phase that has recorded some of its objects but not all.
        return CycleChunk.objects.filter(cycle=cycle, phase=phase, state="running", done__gt=0,
                                         lease_owner__endswith=f":{processes[0].pid}").exclude(done=40).first()

    chunk = wait_for(victim_mid_chunk, 120, f"the worker to be in the middle of a {phase} chunk")
    processes[0].kill()
    rescuer = start_worker("rescuer", env=CHUNKS)
    processes.append(rescuer)
    wait_for(lambda: finished(cycle), 120, "the cycle to finish after the takeover")

    assert_exactly_once(company, cycle, slow_target.token)
    chunk.refresh_from_db()
    assert chunk.attempts == 2 and chunk.lease_owner.endswith(f":{rescuer.pid}")


def test_a_cycle_whose_workers_all_died_resumes_when_a_worker_returns(company, slow_target, processes, settings):
    settings.PROVISIONING_LEASE_SECONDS = 3  # as the workers have it (tests/workers.py)
    processes += [start_worker("first", env=CHUNKS)]
    cycle = start_provisioning(company)
    tasks.run_cycle.delay(cycle.pk)
    wait_for(lambda: CycleChunk.objects.filter(cycle=cycle, state="done").count() >= 2, 120, "two chunks done")
    processes[0].kill()

    # Nobody reports any more: after a lease the Overview says interrupted (never "Running" forever).
    wait_for(lambda: overview(company).is_interrupted, 10, "the cycle to show as interrupted")
    assert "interrupted" in overview(company).cycle_status_text

    processes += [start_worker("second", env=CHUNKS), start_beat(env=CHUNKS)]
    wait_for(lambda: finished(cycle), 120, "the cycle to resume and finish")
    assert_exactly_once(company, cycle, slow_target.token)


def test_lease_expiry_makes_a_chunk_claimable_again(company, settings):
    settings.PROVISIONING_LEASE_SECONDS = 30
    cycle = start_provisioning(company)
    ProvisioningCycle.objects.filter(pk=cycle.pk).update(state="running", phase="users")
    chunk = factories.CycleChunkFactory(cycle=cycle, object_ids=[1, 2], total=2)
    first = chunks.claim_next(cycle.pk, owner="dead:1")
    assert first.pk == chunk.pk and chunks.claim_next(cycle.pk, owner="alive:2") is None
    CycleChunk.objects.filter(pk=chunk.pk).update(lease_expires_at=timezone.now() - timezone.timedelta(seconds=1))
    second = chunks.claim_next(cycle.pk, owner="alive:2")
    assert second.pk == chunk.pk and second.attempts == 2 and second.lease_token != first.lease_token
