"""Provisioning cycles: a plan and chunks, worked on by any number of workers (DESIGN.md, Cycles at scale).

    begin(cycle)      claim the queued cycle, plan users and groups; when there is work, Test connection,
                      read the target's ServiceProviderConfig and (initial cycle) list the target
    work(cycle)       lease the next chunk and run it, then advance; returns how many more workers to send
    advance(cycle)    when a phase's chunks are all done, plan the next phase that has work, or finalize
    finalize(cycle)   completed: the watermark moves, the next cycle is scheduled, failures are emailed
    resume_cycles()   cycles whose workers all died (no heartbeat for a lease) get workers again

Celery tasks (provisioning/tasks.py) call begin and work; `run_cycle` runs a whole cycle in-process
(tests, benchmarks). An incremental cycle that finds nothing to do sends no request at all.
"""

import logging
import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from provisioning import audit, webhooks
from provisioning.engine import chunks, lifecycle, planner, quarantine
from provisioning.engine.pacing import Pacer, backoff
from provisioning.engine.connection import test_connection
from provisioning.engine.context import INITIATED_BY, RunContext
from provisioning.engine.listing import list_target
from provisioning.engine.steps import FAILURE, TEST_CONNECTION, StepRecorder, clip, section
from provisioning.models import (
    Application,
    CycleChunk,
    ListedTargetObject,
    PendingRemoval,
    ProvisioningCycle,
    ProvisioningLog,
    Quarantine,
    RunState,
)
from provisioning.scim import ScimError
from provisioning.scim.answers import visible

logger = logging.getLogger(__name__)
Phase = ProvisioningCycle.Phase
# A queued cycle whose task never arrived (a broker restart) is queued again after this long.
QUEUED_GRACE = timedelta(seconds=60)


class ProvisioningNotConfigured(ValueError):
    """Start provisioning was asked of an app that cannot provision yet; the message says what to fix."""


def active_cycle(app):
    return app.cycles.filter(state__in=[RunState.QUEUED, RunState.RUNNING]).first()


def next_cycle_kind(app):
    return ProvisioningCycle.Kind.INCREMENTAL if app.watermark else ProvisioningCycle.Kind.INITIAL


def start_provisioning(app, *, requested_by=None):
    """Provisioning Status On, and a queued cycle (initial until one has completed); one cycle at a time per app."""
    missing = []
    if app.provisioning_mode != Application.Mode.AUTOMATIC:
        missing.append("set Provisioning Mode to Automatic")
    if not app.tenant_url:
        missing.append("enter the Tenant URL")
    if not app.has_credentials:
        missing.append(app.missing_credentials)
    if missing:
        raise ProvisioningNotConfigured(
            "Provisioning cannot start yet: on the Provisioning page, " + ", ".join(missing) + ", then Save."
        )
    with transaction.atomic():
        app = Application.objects.select_for_update().get(pk=app.pk)
        active = active_cycle(app)
        _turn_on(app)
        audit.record("Start provisioning", by=requested_by, application=app)
        if active:
            return active
        return ProvisioningCycle.objects.create(application=app, kind=next_cycle_kind(app), requested_by=requested_by)


def _turn_on(app):
    app.provisioning_enabled = True
    if app.job_status in (Application.JobStatus.NOT_CONFIGURED, Application.JobStatus.PAUSED):
        app.job_status = Application.JobStatus.ACTIVE if app.watermark else Application.JobStatus.NOT_RUN
    app.save(update_fields=["provisioning_enabled", "job_status"])


def queue_after(app, *, requested_by=None, **fields):
    """A new queued cycle even while one is still stopping (Restart): it begins when that one has ended."""
    with transaction.atomic():
        app = Application.objects.select_for_update().get(pk=app.pk)
        _turn_on(app)
        app.cycles.filter(state=RunState.QUEUED).update(state=RunState.STOPPED, finished_at=timezone.now())
        return ProvisioningCycle.objects.create(application=app, kind=next_cycle_kind(app), requested_by=requested_by, **fields)


def stop_provisioning(app, *, requested_by=None):
    """Provisioning Status Off. A queued cycle never starts; a running one stops within seconds: its chunks
    finish the requests in flight, record them and stop (what they did stays done)."""
    with transaction.atomic():
        Application.objects.filter(pk=app.pk).update(
            provisioning_enabled=False, job_status=Application.JobStatus.PAUSED, next_cycle_at=None
        )
        app.cycles.filter(state=RunState.QUEUED).update(state=RunState.STOPPED, finished_at=timezone.now())
        running = list(app.cycles.filter(state=RunState.RUNNING))
        app.cycles.filter(state=RunState.RUNNING).update(stop_requested=True)
        audit.record("Stop provisioning", by=requested_by, application=app)
    for cycle in running:
        advance(cycle.pk)  # nobody working on it (all workers down): it stops now


# --------------------------------------------------------------------------------------------- begin


WAIT = None  # begin(): another cycle of the app is still running; try again in a moment


def begin(cycle_id):
    """Claim a queued cycle and plan it; returns how many chunk workers to start (0 when it is over), or WAIT
    while another cycle of the same app still runs (one cycle at a time per app)."""
    cycle = ProvisioningCycle.objects.select_related("application").filter(pk=cycle_id).first()
    if cycle is None or cycle.state != RunState.QUEUED:
        return 0
    if not cycle.dry_run and cycle.application.cycles.filter(state=RunState.RUNNING).exclude(pk=cycle.pk).exists():
        return WAIT
    if not lifecycle.claim(cycle):
        return 0
    return plan(cycle)


def plan(cycle):
    """Plan users and groups (again, for a cycle interrupted while planning); contact the target only if there is work."""
    app = Application.objects.get(pk=cycle.application_id)
    cycle.application = app
    held = quarantine.active(app)
    # A dry run evaluates what the next cycle would do whatever the job's state; it is no attempt.
    if held is not None and not cycle.dry_run and not attempt_during_quarantine(cycle, held):
        return 0
    with transaction.atomic():
        CycleChunk.objects.filter(cycle=cycle).delete()
        PendingRemoval.objects.filter(cycle=cycle).delete()
        cycle.kind = cycle.kind if app.watermark else ProvisioningCycle.Kind.INITIAL
        cycle.watermark_from, cycle.watermark_to = app.watermark, timezone.now()
        cycle.phase, cycle.planned_phase, cycle.target_listed = Phase.PLANNING, "", False
        has_work = planner.plan_start(cycle) > 0 or planner.plan_next(cycle) is not None
        cycle.save(update_fields=["kind", "watermark_from", "watermark_to", "phase", "planned_phase", "target_listed",
                                  "members_checked_at"])
    if not has_work:
        finalize(cycle.pk)
        return 0
    problem = connect(cycle)
    if problem:
        fail(cycle, problem)
        return 0
    # Out of PLANNING: the chunks may run now.
    first = CycleChunk.objects.filter(cycle=cycle).order_by("step").values_list("phase", flat=True).first()
    ProvisioningCycle.objects.filter(pk=cycle.pk, phase=Phase.PLANNING).update(phase=first, heartbeat_at=timezone.now())
    return chains_wanted(cycle.pk)


def attempt_during_quarantine(cycle, held):
    """A cycle while the job is quarantined is an attempt: it runs only if the target answers Test connection
    (which lifts the quarantine). TooManyDeletes waits for Allow deletes, Reject or Restart instead."""
    app = cycle.application
    if held.reason == quarantine.Reason.TOO_MANY_DELETES and not cycle.force_deletes:
        fail(cycle, f"Provisioning is in quarantine (TooManyDeletes): {held.description} {held.fix}", notify=False)
        return False
    connection = checked_connection(app)
    if not connection.ok:
        log_cycle_failure(cycle, connection.code, f"Test connection failed while {app.name} is in quarantine ({held.reason}): "
                          f"{connection.message}", connection.fix, connection.details)
        quarantine.failed_attempt(app, f"{connection.message}")
        fail(cycle, f"Still in quarantine ({held.reason}): Test connection failed: {connection.message} {connection.fix}", notify=False)
        return False
    quarantine.lift(app, "a successful attempt: Test connection answered", by="")
    return True


TRANSIENT_CONNECTION_CODES = {"TooManyRequests", "ServiceUnavailable", "InternalServerError", "Timeout", "ConnectionRefused",
                              "ConnectionFailure"}


def checked_connection(app, tries=3):
    """Test connection, sent again after a pause when the target answered with a transient failure (a 500 on
    the first request of a cycle is not a reason to fail it). A Retry-After holds every worker's requests too."""
    pacer = Pacer(app.pk)
    for attempt in range(1, tries + 1):
        pacer.wait()
        result = test_connection(app)
        if result.ok or result.code not in TRANSIENT_CONNECTION_CODES or attempt == tries:
            return result
        if result.retry_after is not None or result.code in ("TooManyRequests", "ServiceUnavailable"):
            pacer.throttle(result.retry_after, attempt)
            pacer.sync()
        else:
            time.sleep(backoff(attempt))
    return result


def connect(cycle):
    """An initial cycle checks the connection and lists the target before its chunks run; returns "" or
    what failed. An incremental cycle sends nothing up front: an object whose export state says it is
    unchanged needs no request, so a cycle without changes sends none (the target's ServiceProviderConfig
    is read when a request first needs it)."""
    if cycle.kind != ProvisioningCycle.Kind.INITIAL:
        return ""
    app = cycle.application
    connection = checked_connection(app)
    if not connection.ok:
        log_cycle_failure(cycle, connection.code, f"Test connection failed when the cycle started: {connection.message}",
                          connection.fix, connection.details)
        if connection.code in ("Unauthorized", "InsufficientRights"):
            quarantine.enter(app, quarantine.Reason.CREDENTIALS,
                             f"{app.name} refused the Secret Token when the cycle started: {connection.message}",
                             f"{connection.fix} Then Restart provisioning.", cycle=cycle)
        elif connection.code not in TRANSIENT_CONNECTION_CODES:
            # Wrong address, DNS, TLS, not a SCIM service: every later cycle would fail the same way, so the job
            # is quarantined (as a chunk's halt does) rather than failing a cycle every 40 minutes unnoticed.
            quarantine.enter(app, quarantine.Reason.CREDENTIALS,
                             f"{app.name} could not be used as a SCIM target when the cycle started: {connection.message}",
                             f"{connection.fix} Then run Test Connection and Restart provisioning.", cycle=cycle)
        return f"Test connection failed: {connection.message} {connection.fix}".strip()
    ctx = RunContext(application=app, initiated_by=INITIATED_BY.CYCLE, cycle=cycle)
    try:
        ctx.refresh_target_features()
        cycle.target_listed = not list_target(cycle, ctx)
    except ScimError as exc:
        log_cycle_failure(cycle, exc.code, f"{app.name} could not be read before the cycle: {exc}", exc.recommended_fix)
        return f"The target could not be read before the cycle: {exc} {exc.recommended_fix}".strip()
    finally:
        ctx.close()
    cycle.save(update_fields=["target_listed"])
    return ""


def log_cycle_failure(cycle, code, description, fix, details=()):
    """A cycle that fails before any object still leaves an entry in the provisioning logs (filtered by its Cycle
    ID from the Overview), with the Test connection step, the code and the fix."""
    recorder = StepRecorder("cycle")
    recorder.record(TEST_CONNECTION, FAILURE, description,
                    [section("Connection", ["", ""], [("Fix", fix), *[(name, value) for name, value in details]])])
    return ProvisioningLog.objects.create(
        application=cycle.application, cycle=cycle, created_at=timezone.now(), initiated_by=INITIATED_BY.CYCLE,
        initiated_by_user=cycle.requested_by.get_username() if cycle.requested_by_id else "",
        object_type="cycle", source_id=str(cycle.cycle_id),
        source_display_name=f"{cycle.get_kind_display()}: no object was processed",
        action=ProvisioningLog.Action.OTHER, status=ProvisioningLog.Status.FAILURE,
        error_code=code or "ConnectionFailure", error_description=visible(clip(description)), recommended_fix=visible(clip(fix or "")),
        steps=recorder.steps,
    )


def fail(cycle, error, *, notify=True):
    if lifecycle.finish(cycle, RunState.FAILED, error):
        webhooks.cycle_ended(cycle, {})
        ListedTargetObject.objects.filter(cycle=cycle).delete()
        _schedule_next(cycle, completed=False)
        if notify and not cycle.dry_run and quarantine.active(cycle.application) is None:  # a quarantine sends its own email
            from provisioning.notifications import notify_cycle_failure

            notify_cycle_failure(cycle.application, cycle)


def halted(cycle_id, halt):
    """A chunk's target refused the credentials or stopped answering: quarantine the job, end the cycle."""
    cycle = ProvisioningCycle.objects.select_related("application").get(pk=cycle_id)
    app = cycle.application
    held = quarantine.active(app) or quarantine.enter(app, *quarantine.for_halt(app, halt), cycle=cycle)
    fail(cycle, f"Quarantined ({held.reason}): {held.description}", notify=False)


# --------------------------------------------------------------------------------------------- chunks


def chains_wanted(cycle_id):
    """How many more workers this cycle can use now (claimable chunks, within its parallel limit)."""
    cycle = ProvisioningCycle.objects.select_related("application").filter(pk=cycle_id).first()
    if cycle is None or cycle.state != RunState.RUNNING or cycle.stop_requested:
        return 0
    free = chunks.parallel_chunks(cycle.application) - chunks.running(cycle).count()
    return max(0, min(free, chunks.claimable(cycle).count()))


def work(cycle_id):
    """One worker's turn: run the next chunk, advance the cycle; returns how many workers to send next."""
    chunk = chunks.claim_next(cycle_id)
    if chunk is not None:
        outcome = chunks.run_chunk(chunk)
        if outcome == "lost":
            return 0
        if outcome == "halted":
            halted(cycle_id, chunk.halt)
            return 0
    advance(cycle_id)
    return chains_wanted(cycle_id)


def advance(cycle_id):
    """After a chunk: when every planned chunk is done, plan the next phase or finalize (once, under a lock)."""
    with transaction.atomic():
        cycle = ProvisioningCycle.objects.select_for_update().select_related("application").filter(pk=cycle_id).first()
        if cycle is None or cycle.state != RunState.RUNNING:
            return
        if cycle.stop_requested:
            if not chunks.running(cycle).exists():
                lifecycle.finish(cycle, RunState.STOPPED)
                ListedTargetObject.objects.filter(cycle=cycle).delete()
            return
        if CycleChunk.objects.filter(cycle=cycle).exclude(state=CycleChunk.State.DONE).exists():
            return
        if cycle.phase == Phase.PLANNING:
            return  # begin() is still planning or contacting the target
        phase = planner.plan_next(cycle)
        cycle.save(update_fields=["planned_phase", "members_checked_at"])
        if phase is not None:
            return
    finalize(cycle_id)


def finalize(cycle_id):
    """Every phase done: the cycle completes, the watermark advances (unless a change reset it meanwhile)."""
    with transaction.atomic():
        cycle = ProvisioningCycle.objects.select_for_update().select_related("application").get(pk=cycle_id)
        if not lifecycle.finish(cycle, RunState.COMPLETED):
            return
        ProvisioningCycle.objects.filter(pk=cycle.pk).update(phase=Phase.FINALIZE)
        # Conditional: a mapping or scoping change saved during the cycle cleared the watermark so that the
        # next cycle re-evaluates everyone; advancing it here would lose that.
        Application.objects.filter(pk=cycle.application_id, watermark=cycle.watermark_from).update(watermark=cycle.watermark_to)
        _schedule_next(cycle, completed=True)
        ListedTargetObject.objects.filter(cycle=cycle).delete()
        PendingRemoval.objects.filter(cycle=cycle, staged=False).delete()
    escrow_thresholds(cycle)
    webhooks.cycle_ended(cycle, cycle_counts(cycle))
    from provisioning.notifications import notify_cycle_failures

    if not cycle.dry_run and quarantine.active(cycle.application) is None:
        notify_cycle_failures(cycle.application, cycle)


def cycle_counts(cycle):
    """{action: {status: n}} of the whole cycle, from its chunks."""
    total = {}
    for counts in CycleChunk.objects.filter(cycle=cycle).values_list("counts", flat=True):
        for action, by_status in (counts or {}).items():
            into = total.setdefault(action, {})
            for status, n in by_status.items():
                into[status] = into.get(status, 0) + n
    return total


def escrow_thresholds(cycle):
    """Entra's escrow thresholds, on the cycle's counts: past one, the job goes into quarantine."""
    processed = failed = reference_failed = 0
    for counts in CycleChunk.objects.filter(cycle=cycle).values_list("counts", flat=True):
        for action, by_status in (counts or {}).items():
            if action == "reference":
                reference_failed += by_status.get("failure", 0)
            elif action != "unchanged":
                processed += sum(by_status.values())
                failed += by_status.get("failure", 0)
    verdict = quarantine.for_escrow(cycle.application, processed, failed, reference_failed)
    if verdict is not None:
        quarantine.enter(cycle.application, *verdict, cycle=cycle)


def _schedule_next(cycle, *, completed):
    app = Application.objects.get(pk=cycle.application_id)
    if quarantine.active(app) is not None:
        return  # the quarantine's next attempt is the next cycle
    still_on = Application.objects.filter(pk=app.pk, provisioning_enabled=True)
    status = {"job_status": Application.JobStatus.ACTIVE} if completed else {}
    if cycle.initiated_by_change:
        if status:
            still_on.update(**status)
        return  # the schedule stays: the next scheduled cycle also retries escrow and pending members
    still_on.update(next_cycle_at=timezone.now() + timedelta(minutes=app.provisioning_interval_minutes), **status)


def run_cycle(cycle):
    """The whole cycle in this process, one chunk at a time (tests, benchmarks, `provision --here`)."""
    while begin(cycle.pk) is WAIT:
        time.sleep(0.2)
    while True:
        cycle.refresh_from_db()
        if cycle.state != RunState.RUNNING:
            return cycle
        if cycle.phase == Phase.PLANNING:
            plan(cycle)  # claimed elsewhere but never planned
            continue
        if not chunks.claimable(cycle).exists() and chunks.running(cycle).exists():
            lifecycle.heartbeat(cycle)
            time.sleep(0.2)  # another worker holds the rest; wait for it or for its lease to expire
            continue
        work(cycle.pk)


# --------------------------------------------------------------------------------------------- schedules


def queue_due_cycles(now=None):
    """Queue a cycle for every app whose provisioning is On and whose next cycle is due."""
    now = now or timezone.now()
    queued = []
    for app in Application.objects.filter(provisioning_enabled=True, next_cycle_at__lte=now).exclude(job_status=Application.JobStatus.QUARANTINE):
        with transaction.atomic():
            # Conditional update: two beat ticks (or two beats) cannot both queue one.
            taken = Application.objects.filter(pk=app.pk, next_cycle_at=app.next_cycle_at).update(next_cycle_at=None)
            if taken and active_cycle(app) is None:
                queued.append(ProvisioningCycle.objects.create(application=app, kind=next_cycle_kind(app)))
    for app in quarantine.due_attempts(now):
        with transaction.atomic():
            held = quarantine.active(app)
            taken = Quarantine.objects.filter(pk=held.pk, next_attempt_at=held.next_attempt_at).update(next_attempt_at=None) if held else 0
            if taken and active_cycle(app) is None:
                queued.append(ProvisioningCycle.objects.create(application=app, kind=next_cycle_kind(app)))
    return queued


def resume_cycles(now=None):
    """Cycles nobody works on: ("begin", id) for a queued cycle whose task was lost or one interrupted while
    planning, ("work", id, n) for a running one whose workers died or whose lease expired."""
    now = now or timezone.now()
    actions = []
    for cycle in ProvisioningCycle.objects.filter(state=RunState.QUEUED, created_at__lte=now - QUEUED_GRACE):
        actions.append(("begin", cycle.pk))
    for cycle in ProvisioningCycle.objects.filter(state=RunState.RUNNING).select_related("application"):
        if not lifecycle.is_interrupted(cycle, now) and chunks.running(cycle, now).exists():
            continue
        if cycle.phase == Phase.PLANNING:
            if lifecycle.is_interrupted(cycle, now):
                actions.append(("plan", cycle.pk))
            continue
        advance(cycle.pk)
        wanted = chains_wanted(cycle.pk)
        if wanted:
            actions.append(("work", cycle.pk, wanted))
    return actions
