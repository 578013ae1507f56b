"""What the Overview page shows: job status, the current or last cycle with its progress, counts, statistics."""

from dataclasses import dataclass, field

from django.db.models import Count as CountOf
from django.db.models import Q, Sum
from django.utils import timezone

from provisioning.engine import deletion_protection, escrow, lifecycle, quarantine
from provisioning.engine.planner import PHASES
from provisioning.models import (
    Application,
    Assignment,
    CycleChunk,
    DirectoryGroup,
    DirectoryUser,
    ExportState,
    ObjectMapping,
    ProvisioningCycle,
    ProvisioningLog,
    RunState,
    ScopingFilter,
)

Phase = ProvisioningCycle.Phase
NOUNS = {Phase.USERS: "users", Phase.GROUPS: "groups", Phase.MEMBERS: "groups", Phase.REFERENCES: "users", Phase.REMOVALS: "objects"}


@dataclass(frozen=True)
class Count:
    action_label: str
    status_label: str
    action: str
    status: str
    n: int


@dataclass
class PhaseProgress:
    phase: str
    label: str
    total: int
    done: int
    current: bool = False

    @property
    def noun(self):
        return NOUNS.get(self.phase, "objects")


@dataclass
class Progress:
    phases: list = field(default_factory=list)
    planned: int = 0
    done: int = 0
    percent: int = 0
    rate: float | None = None  # objects per second
    eta_seconds: int | None = None
    current: PhaseProgress | None = None


@dataclass
class Overview:
    status_code: str
    status_label: str
    cycle: ProvisioningCycle | None
    cycle_status_text: str
    progress: Progress = field(default_factory=Progress)
    counts: list = field(default_factory=list)
    unchanged: int = 0
    users_in_target: int = 0
    groups_in_target: int = 0
    escrowed: int = 0
    escrowed_references: int = 0
    escrow_reasons: list = field(default_factory=list)  # [(error code, count, example)]
    quarantine: object = None  # the active Quarantine
    held_deletes: int = 0
    held_cycle: object = None
    restart: str = ""  # "Restarted by grace at … with Watermark, Escrows, QuarantineState"
    statistics: dict = field(default_factory=dict)
    is_running: bool = False
    is_interrupted: bool = False
    idle: "IdleCycle | None" = None  # why a finished cycle provisioned nothing


@dataclass(frozen=True)
class IdleCycle:
    """Why a finished cycle sent nothing, and what to do: fixes are (words, page) with page one of
    "assignments", "scope" (the Provisioning page's Scope), "scoping:user" / "scoping:group", "mappings:group"."""

    text: str
    fixes: tuple = ()


def overview(app):
    cycle = app.cycles.filter(state__in=[RunState.QUEUED, RunState.RUNNING]).first()
    if cycle is None:
        cycle = app.cycles.exclude(state=RunState.QUEUED).first()
    last_completed = app.cycles.filter(state=RunState.COMPLETED).first()
    linked = dict(
        ExportState.objects.filter(application=app).exclude(target_id="").values_list("object_type").annotate(n=CountOf("id"))
        .values_list("object_type", "n")
    )
    progress = cycle_progress(cycle) if cycle else Progress()
    counts, unchanged = cycle_counts(cycle) if cycle else ([], 0)
    interrupted = bool(cycle and lifecycle.is_interrupted(cycle))
    escrowed, references, reasons = escrow.summary(app)
    held = deletion_protection.held(app)
    held_cycle = held.select_related("cycle").first()
    return Overview(
        status_code=_status_code(app),
        status_label=_status_label(app),
        cycle=cycle,
        cycle_status_text=_cycle_text(cycle, progress, counts, unchanged, interrupted),
        progress=progress,
        counts=counts,
        unchanged=unchanged,
        users_in_target=linked.get("user", 0),
        groups_in_target=linked.get("group", 0),
        escrowed=escrowed,
        escrowed_references=references,
        escrow_reasons=reasons,
        quarantine=quarantine.active(app),
        held_deletes=held.count(),
        held_cycle=held_cycle.cycle if held_cycle else None,
        restart=_restart_text(cycle),
        statistics={
            "completed": last_completed.finished_at if last_completed else None,
            "duration_seconds": last_completed.duration_seconds if last_completed else None,
            "next_cycle_at": app.next_cycle_at if app.provisioning_enabled else None,
            "interval_minutes": app.provisioning_interval_minutes,
        },
        is_running=bool(cycle and cycle.is_active),
        is_interrupted=interrupted,
        idle=idle_cycle(app, cycle, counts, unchanged) if cycle and cycle.state == RunState.COMPLETED else None,
    )


def _restart_text(cycle):
    if cycle is None or not cycle.restart_scopes:
        return ""
    who = f" by {cycle.requested_by.get_username()}" if cycle.requested_by_id else ""
    when = timezone.localtime(cycle.created_at).strftime("%-m/%-d/%Y, %-I:%M:%S %p")
    return f"Restarted{who} on {when} with {cycle.restart_scopes.replace(',', ', ')}."


def cycle_progress(cycle, now=None):
    """Objects done / planned per phase, the current phase, rate and ETA; from the chunks (one query)."""
    rows = {r["phase"]: r for r in CycleChunk.objects.filter(cycle=cycle).values("phase").annotate(total=Sum("total"), done=Sum("done"))}
    phases = [
        PhaseProgress(phase, Phase(phase).label, rows[phase]["total"] or 0, rows[phase]["done"] or 0, current=phase == cycle.phase)
        for phase in PHASES if phase in rows
    ]
    planned = sum(p.total for p in phases)
    done = sum(p.done for p in phases)
    progress = Progress(phases=phases, planned=planned, done=done, current=next((p for p in phases if p.current), None))
    if cycle.state == RunState.COMPLETED:
        progress.percent = 100
    elif planned:
        progress.percent = min(100, int(100 * done / planned))
    if cycle.state == RunState.RUNNING and cycle.started_at and done:
        elapsed = max(0.001, ((now or timezone.now()) - cycle.started_at).total_seconds())
        progress.rate = done / elapsed
        progress.eta_seconds = int((planned - done) / progress.rate) if progress.rate else None
    return progress


def cycle_counts(cycle):
    """([Count], unchanged): the cycle's objects by action × status, summed over its chunks."""
    totals = {}
    unchanged = 0
    for counts in CycleChunk.objects.filter(cycle=cycle).values_list("counts", flat=True):
        for action, by_status in (counts or {}).items():
            if action == "unchanged":
                unchanged += sum(by_status.values())
                continue
            if action == "reference":  # reference failures, counted in their action too
                continue
            for status, n in by_status.items():
                totals[(action, status)] = totals.get((action, status), 0) + n
    if not totals and not CycleChunk.objects.filter(cycle=cycle).exists():
        # A cycle that ran before chunks existed, or one that failed at Test connection: read its log entries.
        for row in ProvisioningLog.objects.filter(cycle=cycle).values("action", "status").annotate(n=CountOf("id")):
            totals[(row["action"], row["status"])] = row["n"]
    rows = [
        Count(ProvisioningLog.Action(action).label, ProvisioningLog.Status(status).label, action, status, n)
        for (action, status), n in sorted(totals.items())
    ]
    return rows, unchanged


def _status_code(app):
    if app.provisioning_mode != Application.Mode.AUTOMATIC or not app.tenant_url or not app.has_credentials:
        return Application.JobStatus.NOT_CONFIGURED
    if app.job_status == Application.JobStatus.NOT_CONFIGURED:
        return Application.JobStatus.NOT_RUN
    return app.job_status


def _status_label(app):
    code = _status_code(app)
    label = Application.JobStatus(code).label
    on_off = "On" if app.provisioning_enabled else "Off"
    return f"{label} (Provisioning Status: {on_off})"


def _duration(seconds):
    if seconds is None:
        return ""
    if isinstance(seconds, float) and seconds < 10:
        return f"{seconds:.1f} s"  # a short cycle's duration: "0.4 s", not "0 s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _cycle_text(cycle, progress, counts, unchanged, interrupted):
    if cycle is None:
        return "Initial cycle not run."
    kind = cycle.get_kind_display()
    if cycle.state == RunState.QUEUED:
        return f"{kind} queued: waiting for a provisioning worker."
    if cycle.state == RunState.RUNNING:
        if interrupted:
            return (f"{kind} interrupted: no worker has reported for more than {lifecycle.lease_seconds():g} seconds "
                    f"({progress.done} of {progress.planned} objects done). It resumes where it stopped as soon as a "
                    "provisioning worker runs (celery -A portal worker), without repeating what was done.")
        if cycle.stop_requested:
            return f"{kind} stopping: the objects in flight finish and are recorded, then it stops (within seconds)."
        if cycle.phase == Phase.PLANNING:
            return f"{kind} running: planning, checking the connection to the target."
        current = progress.current
        text = f"{kind} running: {progress.percent}% complete ({progress.done} of {progress.planned} objects)"
        if current is not None:
            text += f"; {current.label.lower()}: {current.done} of {current.total} {current.noun}"
        if progress.rate:
            text += f"; {progress.rate:,.0f} objects/s"
        if progress.eta_seconds is not None:
            text += f", about {_duration(progress.eta_seconds)} left"
        return text + "."
    if cycle.state == RunState.COMPLETED:
        if cycle.kind == ProvisioningCycle.Kind.INCREMENTAL and not counts:
            since = timezone.localtime(cycle.watermark_from).strftime("%-m/%-d/%Y, %-I:%M:%S %p") if cycle.watermark_from else "the last cycle"
            return f"{kind} completed: no changes since {since}."
        done = sum(c.n for c in counts)
        took = (cycle.finished_at - cycle.started_at).total_seconds() if cycle.started_at and cycle.finished_at else None
        text = f"{kind} completed in {_duration(took) or '0 s'}: {done} object{'s' if done != 1 else ''} processed"
        if unchanged:
            text += f", {unchanged} unchanged (not logged)"
        return text + "."
    if cycle.state == RunState.STOPPED:
        return f"{kind} stopped after {progress.done} of {progress.planned} objects (what was done stays done)."
    return f"{kind} failed: {cycle.error}"


# --------------------------------------------------------------------------------- a cycle that did nothing

ASSIGN = ("Assign users and groups", "assignments")
SYNC_ALL = ("set Scope to Sync all users and groups", "scope")
SKIP_REASONS = {  # the words engine/scope.py puts in a skipped entry's description, by cause
    "not_assigned": "not assigned to the application",
    "disabled": "accountEnabled is False",
    "deleted": "deleted in the directory",
    "mapping_off": "provisioning is disabled in the Mappings",
}


def idle_cycle(app, cycle, counts, unchanged):
    """Why a completed cycle provisioned nothing (None when it did something, or found no change).

    From the cycle's counts, one aggregate over its skipped entries, and the app's configuration: a few
    queries whatever the directory's size."""
    if any(c.status != ProvisioningLog.Status.SKIPPED for c in counts):
        return None
    skipped = sum(c.n for c in counts)
    if not skipped and not unchanged:
        if cycle.kind == ProvisioningCycle.Kind.INCREMENTAL and cycle.watermark_from:
            return None  # "no changes since …" already says why
        return _nothing_evaluated(app)
    if not skipped:
        return IdleCycle(f"Nothing needed changing: all {unchanged} in-scope object{'s' if unchanged != 1 else ''} "
                         f"already match {app.name}.")
    return _all_skipped(app, cycle)


def _nothing_evaluated(app):
    if app.scope == Application.Scope.ASSIGNED:
        assigned = Assignment.objects.filter(application=app).aggregate(
            users=CountOf("id", filter=Q(user__isnull=False)), groups=CountOf("id", filter=Q(group__isnull=False)))
        scope = f"scope is '{Application.Scope.ASSIGNED.label}'"
        if not assigned["users"] and not assigned["groups"]:
            return IdleCycle(f"Nothing was provisioned: {scope} and nothing is assigned.", (ASSIGN, SYNC_ALL))
        members = DirectoryGroup.members.through.objects.filter(
            directorygroup__assignment__application=app).count()
        groups_on = ObjectMapping.objects.filter(application=app, object_type=ObjectMapping.ObjectType.GROUP, enabled=True).exists()
        if not assigned["users"] and not members and not groups_on:
            return IdleCycle(
                f"Nothing was provisioned: {scope}, only groups are assigned, they have no members, and group "
                "provisioning is off.", (("Assign users", "assignments"), ("turn on group provisioning", "mappings:group")))
        return IdleCycle(f"Nothing was provisioned: {scope}, and the {assigned['users']} assigned user(s) and "
                         f"{assigned['groups']} assigned group(s) gave nothing to provision.", (ASSIGN,))
    if not DirectoryUser.objects.exists() and not DirectoryGroup.objects.exists():
        return IdleCycle("Nothing was provisioned: the directory has no users or groups yet. Import or create them, then "
                         "Restart provisioning.")
    return IdleCycle("Nothing was provisioned: no user or group was in scope.")


def _all_skipped(app, cycle):
    entries = ProvisioningLog.objects.filter(cycle=cycle, status=ProvisioningLog.Status.SKIPPED)
    aggregates = {}
    for object_type in (ObjectMapping.ObjectType.USER, ObjectMapping.ObjectType.GROUP):
        of_type = Q(object_type=object_type)
        aggregates[f"{object_type}_total"] = CountOf("id", filter=of_type)
        for cause, words in SKIP_REASONS.items():
            aggregates[f"{object_type}_{cause}"] = CountOf("id", filter=of_type & Q(error_description__icontains=words))
        aggregates[f"{object_type}_scope"] = CountOf(
            "id", filter=of_type & Q(error_description__icontains="not in scope") & ~Q(_any_reason()))
    totals = entries.aggregate(**aggregates)
    titles = {}
    for object_type, title in ScopingFilter.objects.filter(object_mapping__application=app).values_list(
            "object_mapping__object_type", "title"):
        titles.setdefault(object_type, []).append(title)
    parts, fixes = [], []
    for object_type, noun in (("user", "user"), ("group", "group")):
        total = totals[f"{object_type}_total"]
        if not total:
            continue
        causes = _causes(app, object_type, noun, totals, titles.get(object_type, []))
        if len(causes) == 1 and causes[0][0] == total:
            n, reason, fix = causes[0]
            parts.append(f"{'all ' if total > 1 else ''}{total} {noun}{'s' if total != 1 else ''} "
                         f"{'are' if total != 1 else 'is'} {reason}")
            fixes.extend(fix)
        elif causes:
            listed = ", ".join(f"{n} {reason}" for n, reason, _ in causes)
            parts.append(f"of {total} {noun}s, {listed}")
            for _, _, fix in causes:
                fixes.extend(fix)
        else:
            parts.append(f"{total} {noun}{'s' if total != 1 else ''} skipped (see the provisioning logs)")
    unique = tuple(dict.fromkeys(fixes))
    return IdleCycle("Nothing was provisioned: " + "; ".join(parts) + ".", unique)


def _any_reason():
    q = Q()
    for words in SKIP_REASONS.values():
        q |= Q(error_description__icontains=words)
    return q


def _causes(app, object_type, noun, totals, titles):
    """[(count, words, fixes)] for one object type's skipped entries, biggest cause first."""
    scoping_words = (f"out of scope: scoping filter{'s' if len(titles) != 1 else ''} "
                     + ", ".join(f"'{t}'" for t in titles) + " excluded them") if titles else "out of scope"
    edit = (("Edit the filter" if len(titles) == 1 else "Edit the filters", f"scoping:{object_type}"),)
    causes = [
        (totals[f"{object_type}_scope"], scoping_words, edit if titles else ()),
        (totals[f"{object_type}_not_assigned"], "not assigned to the application", (ASSIGN, SYNC_ALL)),
        (totals[f"{object_type}_disabled"], "disabled in the directory (accountEnabled is False)", ()),
        (totals[f"{object_type}_deleted"], "deleted in the directory", ()),
        (totals[f"{object_type}_mapping_off"], f"left out because {noun} provisioning is off",
         (("turn on group provisioning", "mappings:group"),) if object_type == "group" else ()),
    ]
    return sorted(((n, words, fix) for n, words, fix in causes if n), key=lambda c: -c[0])


# --------------------------------------------------------------------------------- Graph's synchronizationStatus


def _iso(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment else None


GRAPH_CODES = {
    Application.JobStatus.NOT_CONFIGURED: "NotConfigured",
    Application.JobStatus.NOT_RUN: "NotRun",
    Application.JobStatus.ACTIVE: "Active",
    Application.JobStatus.PAUSED: "Paused",
    Application.JobStatus.QUARANTINE: "Quarantine",
}


def _execution(cycle):
    if cycle is None:
        return None
    rows, unchanged = cycle_counts(cycle)
    exported = sum(r.n for r in rows if r.status == "success" and r.action != "other")
    failed = sum(r.n for r in rows if r.status == "failure")
    state = {"completed": "EntryLevelErrors" if failed else "Succeeded", "failed": "Failed", "stopped": "Failed"}.get(cycle.state, "Running")
    return {
        "activityIdentifier": str(cycle.cycle_id),
        "countEntitled": sum(r.n for r in rows) + unchanged,
        "countExported": exported,
        "countEscrowed": failed,
        "error": {"code": "CycleFailed", "message": cycle.error} if cycle.error else None,
        "state": state,
        "timeBegan": _iso(cycle.started_at),
        "timeEnded": _iso(cycle.finished_at),
    }


def synchronization_status(app):
    """The job's status in Graph's synchronizationStatus shape (app_status, the API), plus what Graph leaves out:
    escrow counts and reasons, held deletions."""
    view = overview(app)
    last = app.cycles.exclude(state__in=[RunState.QUEUED, RunState.RUNNING]).first()
    last_success = app.cycles.filter(state=RunState.COMPLETED).first()
    failures_in_a_row = 0
    for state in app.cycles.exclude(state__in=[RunState.QUEUED, RunState.RUNNING]).values_list("state", flat=True)[:50]:
        if state == RunState.COMPLETED:
            break
        failures_in_a_row += 1
    held = view.quarantine
    running = view.cycle if view.is_running else None
    return {
        "code": GRAPH_CODES.get(view.status_code, "NotRun"),
        "countSuccessiveCompleteFailures": failures_in_a_row,
        "escrowsPruned": False,
        "lastExecution": _execution(last),
        "lastSuccessfulExecution": _execution(last_success),
        "progress": [
            {"completedUnits": phase.done, "totalUnits": phase.total, "units": phase.phase,
             "progressObservationDateTime": _iso(timezone.now())}
            for phase in view.progress.phases
        ] if running else [],
        "quarantine": {
            "currentBegan": _iso(held.began_at),
            "nextAttempt": _iso(held.next_attempt_at),
            "reason": held.reason,
            "seriesBegan": _iso(held.began_at),
            "seriesCount": held.attempts,
            "error": {"code": held.reason, "message": held.description, "tenantActionable": True, "recommendedFix": held.fix},
        } if held else None,
        "synchronizedEntryCountByType": [
            {"key": "user", "value": view.users_in_target}, {"key": "group", "value": view.groups_in_target},
        ],
        "escrowed": {
            "count": view.escrowed, "references": view.escrowed_references,
            "reasons": [{"code": code, "count": n, "example": example} for code, n, example in view.escrow_reasons],
        },
        "stagedDeletes": view.held_deletes,
    }


def job_status_code(app):
    """Graph's synchronizationStatus.code alone (the metrics read it for every app without the whole overview)."""
    return GRAPH_CODES.get(_status_code(app), "NotRun")


# ------------------------------------------------------------------------------------------ cycle history


@dataclass(frozen=True)
class CyclePoint:
    """One cycle of the Overview's history chart."""

    cycle_id: object
    kind: str
    state: str
    started_at: object
    duration_seconds: float
    changed: int  # objects created, updated, disabled or deleted successfully
    failures: int


HISTORY_CYCLES = 30


def cycle_history(app, limit=HISTORY_CYCLES, now=None):
    """The last `limit` cycles that started (oldest first) with duration, objects changed and failures: two
    queries, the cycles and their chunks' counts."""
    now = now or timezone.now()
    cycles = list(
        app.cycles.filter(started_at__isnull=False, dry_run=False).order_by("-started_at", "-id")
        .values_list("id", "cycle_id", "kind", "state", "started_at", "finished_at")[:limit]
    )
    changed, failures = {}, {}
    for cycle_pk, counts in CycleChunk.objects.filter(cycle_id__in=[c[0] for c in cycles]).values_list("cycle_id", "counts"):
        for action, by_status in (counts or {}).items():
            if action in ("unchanged", "reference"):  # reference failures are counted in their action too
                continue
            changed[cycle_pk] = changed.get(cycle_pk, 0) + (by_status.get("success", 0) if action != "other" else 0)
            failures[cycle_pk] = failures.get(cycle_pk, 0) + by_status.get("failure", 0)
    return [
        CyclePoint(cycle_id, kind, state, started, max(0.0, ((finished or now) - started).total_seconds()),
                   changed.get(pk, 0), failures.get(pk, 0))
        for pk, cycle_id, kind, state, started, finished in reversed(cycles)
    ]
