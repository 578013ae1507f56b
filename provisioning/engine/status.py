"""What the Overview page shows: job status, the current or last cycle, counts, statistics to date."""

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count as CountOf

from provisioning.models import Application, ProvisioningCycle, ProvisioningLog, TargetAnchor


@dataclass(frozen=True)
class Count:
    action_label: str
    status_label: str
    action: str
    status: str
    n: int


@dataclass
class Overview:
    status_code: str
    status_label: str
    cycle: ProvisioningCycle | None
    cycle_status_text: str
    counts: list = field(default_factory=list)
    users_in_target: int = 0
    groups_in_target: int = 0
    statistics: dict = field(default_factory=dict)
    is_running: bool = False


def overview(app):
    cycle = app.cycles.filter(state__in=[ProvisioningCycle.State.QUEUED, ProvisioningCycle.State.RUNNING]).first()
    if cycle is None:
        cycle = app.cycles.exclude(state=ProvisioningCycle.State.QUEUED).first()
    last_completed = app.cycles.filter(state=ProvisioningCycle.State.COMPLETED).first()
    anchors = dict(
        TargetAnchor.objects.filter(application=app).values_list("object_type").annotate(n=CountOf("id")).values_list("object_type", "n")
    )
    return Overview(
        status_code=_status_code(app),
        status_label=_status_label(app),
        cycle=cycle,
        cycle_status_text=_cycle_text(cycle),
        counts=_counts(cycle),
        users_in_target=anchors.get("user", 0),
        groups_in_target=anchors.get("group", 0),
        statistics={
            "completed": last_completed.finished_at if last_completed else None,
            "duration_seconds": last_completed.duration_seconds if last_completed else None,
            "next_cycle_at": app.next_cycle_at if app.provisioning_enabled else None,
            "interval_minutes": settings.PROVISIONING_INTERVAL_MINUTES,
        },
        is_running=bool(cycle and cycle.is_active),
    )


def _status_code(app):
    if app.provisioning_mode != Application.Mode.AUTOMATIC or not app.tenant_url or not app.has_secret_token:
        return Application.JobStatus.NOT_CONFIGURED
    if app.job_status == Application.JobStatus.NOT_CONFIGURED:
        return Application.JobStatus.NOT_RUN
    return app.job_status


def _status_label(app):
    code = _status_code(app)
    label = Application.JobStatus(code).label
    on_off = "On" if app.provisioning_enabled else "Off"
    return f"{label} (Provisioning Status: {on_off})"


def _cycle_text(cycle):
    if cycle is None:
        return "Initial cycle not run."
    kind = cycle.get_kind_display()
    if cycle.state == ProvisioningCycle.State.QUEUED:
        return f"{kind} queued: waiting for a provisioning worker."
    if cycle.state == ProvisioningCycle.State.RUNNING:
        return f"{kind} running: {cycle.percent_complete}% complete ({cycle.completed_units} of {cycle.total_units} objects)."
    if cycle.state == ProvisioningCycle.State.COMPLETED:
        return f"{kind} completed."
    if cycle.state == ProvisioningCycle.State.STOPPED:
        return f"{kind} stopped after {cycle.completed_units} of {cycle.total_units} objects."
    return f"{kind} failed: {cycle.error}"


def _counts(cycle):
    if cycle is None:
        return []
    rows = (
        ProvisioningLog.objects.filter(cycle=cycle).values("action", "status").annotate(n=CountOf("id")).order_by("action", "status")
    )
    return [
        Count(ProvisioningLog.Action(r["action"]).label, ProvisioningLog.Status(r["status"]).label, r["action"], r["status"], r["n"])
        for r in rows
    ]
