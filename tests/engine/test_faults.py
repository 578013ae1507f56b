"""Bad days, with real worker processes, a fault-injecting proxy (tests/fault_proxy.py) in front of the real
scim2-server, and a real SMTP server: throttling and 5xx, lost answers, a revoked token, accidental deletions,
garbage answers, and a worker SIGKILLed in the middle of each. The target is read back object by object.
"""

import time

import pytest
from django.utils import timezone

from provisioning import tasks
from provisioning.engine.connection import test_connection
from provisioning.engine.cycle import start_provisioning
from provisioning.engine.restart import allow_deletes, reject_deletes, restart_provisioning
from provisioning.mapping_config.watermark import require_full_cycle
from provisioning.models import Application, Escrow, ExportState, PendingRemoval, ProvisioningCycle, ProvisioningLog, Quarantine, RunState
from tests import factories
from tests.servers import SmtpServer, start_fault_proxy, start_scim_server
from tests.target_check import differences
from tests.workers import start_beat, start_worker

pytestmark = pytest.mark.django_db(transaction=True)


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


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer()
    yield server
    server.stop()


@pytest.fixture
def workers(smtp):
    started = []

    common = {"SCIM_TIMEOUT_SECONDS": "1.5", "PROVISIONING_CHUNK_SIZE": "60", "PROVISIONING_RETRY_SECONDS": "30",
              "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp.port)}

    def start(name="worker", **env):
        worker = start_worker(name, env={**common, **env})
        started.append(worker)
        return worker

    def beat():
        """Beat gives workers back to a cycle whose worker died (as in production: exactly one beat)."""
        process = start_beat(env=common)
        started.append(process)
        return process

    start.beat = beat
    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def directory(db):
    """160 people (a CEO, 4 managers, their reports) and 4 groups."""
    ceo = factories.DirectoryUserFactory(display_name="CEO")
    managers = factories.DirectoryUserFactory.create_batch(4, manager=ceo)
    people = [ceo, *managers, *(factories.DirectoryUserFactory(manager=managers[i % 4]) for i in range(155))]
    for n in range(4):
        factories.DirectoryGroupFactory(display_name=f"Team {n}", members=people[n * 40:(n + 1) * 40])
    return people


@pytest.fixture
def app(upstream, proxy, smtp):
    """Everyone in scope, through the proxy, failure emails to the on-call mailbox."""
    tenant = upstream.tenant_url()
    app = factories.ApplicationFactory(tenant_url=proxy.tenant_url(tenant), secret_token=upstream.token, scope=Application.Scope.ALL,
                                       use_bulk=False, notify_on_failure=True, notification_email="oncall@contoso.example")
    app.upstream_url = tenant
    proxy.set()
    proxy.clear()
    smtp.messages.clear()
    return app


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def ended(cycle):
    """The cycle once it has ended, else None."""
    cycle = ProvisioningCycle.objects.get(pk=cycle.pk)
    return None if cycle.is_active else cycle


def cycle_through_workers(app, timeout=120, cycle=None):
    cycle = cycle or start_provisioning(app)
    tasks.run_cycle.delay(cycle.pk)
    return wait_for(lambda: ended(cycle), timeout, "the cycle to end")


def correct(app, upstream):
    return differences(app, upstream.token, base_url=app.upstream_url)


def sent(proxy, method=None, path_part=""):
    return [r for r in proxy.log() if (method is None or r["method"] == method) and path_part in r["path"] and r["fault"] is None]


# --------------------------------------------------------------------------------------------- throttling, 5xx


@pytest.mark.parametrize("kill", [False, True], ids=["steady", "worker-killed"])
def test_throttling_and_5xx_are_retried_honouring_retry_after(app, upstream, proxy, directory, workers, kill):
    proxy.set(seed=11, throttle=0.1, retry_after="0.5", errors=0.1)
    first = workers("first")
    if kill:
        workers("second")
        workers.beat()  # gives the dead worker's chunk back when its lease expires, as in production
    cycle = start_provisioning(app)
    tasks.run_cycle.delay(cycle.pk)
    killed_at = None
    if kill:
        wait_for(lambda: ProvisioningLog.objects.filter(cycle=cycle).count() > 20, 120, "some objects done")
        first.kill()
        killed_at = time.time()
    cycle = wait_for(lambda: ended(cycle), 180, "the cycle to end")

    assert cycle.state == RunState.COMPLETED, cycle.error
    assert correct(app, upstream) == []
    log = proxy.log()
    throttled = [r for r in log if r["fault"] == "throttle"]
    assert throttled
    if killed_at is not None:
        # A 429 answered to the worker in the moment it was killed may have died with it, unshared.
        throttled = [r for r in throttled if not killed_at - 0.5 < r["answered"] <= killed_at]
    assert throttled and [r for r in log if r["fault"] in ("error500", "error503")]
    # After a 429 is answered, nothing is sent until its Retry-After has passed (in flight excepted: 50 ms).
    for answer in throttled:
        early = [r for r in log if answer["answered"] + 0.05 < r["arrived"] < answer["answered"] + 0.5]
        assert early == [], f"{len(early)} requests within the Retry-After of a 429"
    assert not Escrow.objects.filter(application=app).exists()  # every object made it within its tries


# --------------------------------------------------------------------------------------------- lost answers


@pytest.mark.parametrize("kill", [False, True], ids=["steady", "worker-killed"])
def test_creates_whose_answer_was_lost_are_found_not_duplicated(app, upstream, proxy, directory, workers, kill):
    proxy.set(seed=5, lose_posts=0.05, hang=2.5)
    first = workers("first")
    if kill:
        workers("second")
        workers.beat()  # gives the dead worker's chunk back when its lease expires, as in production
    cycle = start_provisioning(app)
    tasks.run_cycle.delay(cycle.pk)
    if kill:
        wait_for(lambda: ProvisioningLog.objects.filter(cycle=cycle).count() > 20, 120, "some objects done")
        first.kill()
    cycle = wait_for(lambda: ended(cycle), 180, "the cycle to end")

    assert cycle.state == RunState.COMPLETED, cycle.error
    assert correct(app, upstream) == []  # every person exactly once
    lost = [r for r in proxy.log() if r["fault"] == "lost"]
    assert lost
    created = ProvisioningLog.objects.filter(cycle=cycle, action="create", status="success")
    adopted = [log for log in created if "answer to the create was lost" in log.steps[-1]["description"]]
    assert adopted, "no create was found again after its answer was lost"


# --------------------------------------------------------------------------------------------- revoked token


@pytest.mark.parametrize("kill", [False, True], ids=["steady", "worker-killed"])
def test_a_revoked_token_stops_all_traffic_quarantines_once_and_restart_clears_it(app, upstream, proxy, directory, workers, smtp, kill):
    first = workers("first")
    workers("second")
    if kill:
        workers.beat()
    proxy.set(seed=3, throttle=0.0)
    cycle = start_provisioning(app)
    tasks.run_cycle.delay(cycle.pk)
    wait_for(lambda: ProvisioningLog.objects.filter(cycle=cycle).count() > 30, 120, "some objects done")
    proxy.set(revoked=True)
    if kill:
        first.kill()  # one worker dies as the token is revoked: the other must stop all the same
    cycle = wait_for(lambda: ended(cycle), 60, "the cycle to end")

    assert cycle.state == RunState.FAILED and "Quarantined (EncounteredQuarantineException)" in cycle.error
    app.refresh_from_db()
    assert app.job_status == Application.JobStatus.QUARANTINE
    held = Quarantine.objects.get(application=app, lifted_at__isnull=True)
    assert "answered 401 Unauthorized" in held.description and "no further request was sent" in held.description
    assert "Generate a new token" in held.fix and held.next_attempt_at > timezone.now() + timezone.timedelta(hours=5)
    log = proxy.log()
    if kill:
        # The first 401 may have been answered to the worker that died with it: the chunk it held is taken over
        # and its first request is refused too. At most what each worker had in flight reaches the target.
        refused = [r for r in log if r["fault"] == "revoked"]
        assert len(refused) <= 2 * app.max_concurrent_requests, f"{len(refused)} requests answered 401"
    else:
        first_refusal = min(r["answered"] for r in log if r["fault"] == "revoked")
        after = [r for r in log if r["arrived"] > first_refusal + 0.1]
        assert after == [], f"{len(after)} requests after the first 401 was answered"
    wait_for(lambda: smtp.messages, 10, "the quarantine email")
    time.sleep(1)
    assert len(smtp.messages) == 1 and "quarantined (EncounteredQuarantineException)" in smtp.messages[0]["Subject"]
    body = smtp.messages[0].get_content()
    assert "answered 401 Unauthorized" in body and "Generate a new token" in body

    # The admin pastes a new token (the proxy accepts it again), tests the connection and restarts.
    proxy.set()
    assert test_connection(app).ok
    restarted = restart_provisioning(app)
    done = cycle_through_workers(app, cycle=restarted)
    assert done.state == RunState.COMPLETED, done.error
    assert Quarantine.objects.get(pk=held.pk).lifted_at is not None
    assert correct(app, upstream) == []


# --------------------------------------------------------------------------------------------- accidental deletions


@pytest.fixture
def six_hundred(db, app):
    people = factories.DirectoryUserFactory.create_batch(620, department="Sales")
    return people


def leave_scope(app, people):
    mapping = app.object_mappings.get(object_type="user")
    scoping = factories.ScopingFilterFactory(object_mapping=mapping, title="Sales only")
    factories.ScopingClauseFactory(scoping_filter=scoping, attribute="department", operator="EQUALS", value="Sales")
    for person in people[:600]:
        person.department = "Marketing"
    type(people[0]).objects.bulk_update(people[:600], ["department"])
    require_full_cycle(app)


@pytest.mark.parametrize("decision", ["allow", "reject", "allow-worker-killed"])
def test_a_scoping_change_over_the_threshold_disables_nobody_until_allowed(app, upstream, proxy, six_hundred, workers, smtp, decision):
    first = workers("first")
    assert cycle_through_workers(app).state == RunState.COMPLETED
    leave_scope(app, six_hundred)
    proxy.clear()

    cycle = cycle_through_workers(app)

    assert cycle.state == RunState.COMPLETED
    assert sent(proxy, "PATCH", "/Users/") == []  # zero disables
    staged = ProvisioningLog.objects.filter(cycle=cycle, action="staged")
    assert staged.count() == 600
    assert "because" in staged.first().error_description and "accidental deletion threshold (500)" in staged.first().error_description
    held = Quarantine.objects.get(application=app, lifted_at__isnull=True)
    assert held.reason == "TooManyDeletes" and "would have disabled 600 objects in" in held.description
    wait_for(lambda: smtp.messages, 10, "the email")
    assert len(smtp.messages) == 1 and "TooManyDeletes" in smtp.messages[0]["Subject"]

    proxy.clear()
    if decision == "allow-worker-killed":
        workers("second")
        workers.beat()
        allowed = allow_deletes(app)
        tasks.run_cycle.delay(allowed.pk)
        wait_for(lambda: ProvisioningLog.objects.filter(cycle=allowed, action="disable").count() > 50, 120, "some disables")
        first.kill()
        cycle = wait_for(lambda: ended(allowed), 120, "the cycle to end")
        assert cycle.state == RunState.COMPLETED, cycle.error
        held_ids = {str(p.object_id) for p in six_hundred[:600]}
        disabled = set(ExportState.objects.filter(application=app, disabled=True).values_list("source_id", flat=True))
        assert {str(s) for s in disabled} == held_ids  # exactly the held ones, none twice-counted, none else
        # A disable in flight when its worker died may be sent again (a PATCH of active=false is idempotent).
        assert 600 <= len(sent(proxy, "PATCH", "/Users/")) <= 600 + 60
        assert Quarantine.objects.get(pk=held.pk).lifted_at is not None
    elif decision == "allow":
        cycle = cycle_through_workers(app, cycle=allow_deletes(app))
        assert cycle.state == RunState.COMPLETED, cycle.error
        disables = sent(proxy, "PATCH", "/Users/")
        assert len(disables) == 600  # exactly the held ones
        assert ProvisioningLog.objects.filter(cycle=cycle, action="disable", status="success").count() == 600
        assert not PendingRemoval.objects.filter(cycle__application=app).exists()
        assert Quarantine.objects.get(pk=held.pk).lifted_at is not None
    else:
        assert reject_deletes(app) == 600
        app.refresh_from_db()
        assert (app.job_status, app.provisioning_enabled) == (Application.JobStatus.PAUSED, False)
        assert sent(proxy, "PATCH", "/Users/") == []
        assert ExportState.objects.filter(application=app, disabled=True).count() == 0


# --------------------------------------------------------------------------------------------- garbage


def test_garbage_answers_are_explained_failures_that_are_retried_later(app, upstream, proxy, directory, workers):
    proxy.set(seed=7, garbage={"html": 0.04, "not_json": 0.04, "no_id": 0.04})
    workers("first")
    cycle = cycle_through_workers(app)

    assert cycle.state == RunState.COMPLETED, cycle.error
    failures = ProvisioningLog.objects.filter(cycle=cycle, status="failure")
    assert failures.exists()
    for failure in failures:
        assert failure.error_code and failure.recommended_fix, failure.error_description
        assert "InternalError" not in failure.error_code  # typed, explained; never a crash
        assert "retried in the next cycle" in failure.error_description
    assert Escrow.objects.filter(application=app).count() == failures.count()

    proxy.set()  # a good day: the escrowed objects go through
    again = cycle_through_workers(app)
    assert again.state == RunState.COMPLETED
    assert not Escrow.objects.filter(application=app).exists()
    assert correct(app, upstream) == []


def test_an_update_answered_with_an_empty_200_is_read_back_not_believed(app, upstream, proxy, directory, workers):
    workers("first")
    assert cycle_through_workers(app).state == RunState.COMPLETED
    directory[7].job_title = "Chief Astronaut"
    directory[7].save()
    proxy.set(ignore_patches=1.0)

    cycle = cycle_through_workers(app)

    [log] = ProvisioningLog.objects.filter(cycle=cycle)
    assert (log.action, log.status, log.error_code) == ("update", "failure", "UpdateNotApplied")
    assert "title (still Engineer)" in log.error_description and "Only during object creation" in log.recommended_fix
    assert [r["method"] for r in proxy.log() if "/Users/" in r["path"]] == ["PATCH", "GET"]  # read back once
    assert Escrow.objects.filter(application=app, source_id=directory[7].object_id).exists()
