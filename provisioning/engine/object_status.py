"""Provisioning to applications: where one directory user or group stands in every app, in one look.

The helpdesk's question — "why has Jane no account in Slack?" — is answered per app by the engine's own
scope decision (engine/scope.py through the app's RunContext, exactly what the next cycle would decide),
the linked target id (ExportState), the object's last log entry, its escrow and the app's quarantine.

Loaded in bulk: the export states, last log entries, escrows, quarantines and the assignments through
groups come in one query each for all apps; each app adds its mappings and scoping filters (3 queries) and
its assignments (at most 3) to the RunContext, as a cycle's chunk would load them. Nothing is written: the
RunContext is never prepared (that reserves matching keys) and sends no request.
"""

from dataclasses import dataclass, field

from django.db.models import OuterRef, Subquery

from provisioning.engine import source as sources
from provisioning.engine.context import INITIATED_BY, RunContext
from provisioning.engine.errors import ObjectFailure
from provisioning.engine.source import GROUP, USER
from provisioning.models import Application, Assignment, DirectoryGroup, Escrow, ExportState, ProvisioningLog, Quarantine


@dataclass
class AppStatus:
    """One row of Provisioning to applications."""

    application: Application
    configured: bool
    in_scope: bool | None = None  # None: the scope could not be decided (see failure)
    reason: str = ""  # the condition that decided, in Entra's words
    failed_conditions: list = field(default_factory=list)  # [(condition, explanation)] of the Determine-scope step
    fix: str = ""  # what would let an out-of-scope object in
    failure: str = ""  # a scoping clause that cannot be evaluated
    assigned_through: list = field(default_factory=list)  # "Directly" and/or group names (assigned apps only)
    target_id: str = ""
    disabled_in_target: bool = False
    last_log: ProvisioningLog | None = None
    escrow: Escrow | None = None
    quarantine: Quarantine | None = None

    @property
    def other_failed_conditions(self):
        """The failed conditions the reason does not already say (a scoping clause's reason quotes it)."""
        return [(c, e) for c, e in self.failed_conditions if not (e and e in self.reason)]


def for_user(user):
    return _statuses(sources.load_users([user.pk]), user.object_id, USER)


def for_group(group):
    return _statuses(sources.load_groups([group.pk]), group.object_id, GROUP)


def _statuses(loaded, object_id, object_type):
    apps = list(Application.objects.order_by("name"))
    if not apps or not loaded:
        return []
    subject = loaded[0]
    by_app = {app.pk: {} for app in apps}
    for state in ExportState.objects.filter(object_type=object_type, source_id=object_id).only("application_id", "target_id", "disabled"):
        by_app[state.application_id]["state"] = state
    for escrow in Escrow.objects.filter(object_type=object_type, source_id=object_id):
        by_app[escrow.application_id]["escrow"] = escrow
    for quarantine in Quarantine.objects.filter(lifted_at__isnull=True).order_by("began_at"):
        by_app[quarantine.application_id]["quarantine"] = quarantine
    # The newest entry per app, through the (source_id) index: one subquery per app row, one query in all.
    newest = ProvisioningLog.objects.filter(application=OuterRef("pk"), source_id=str(object_id)).order_by("-created_at", "-id")
    last_ids = dict(Application.objects.annotate(last_log=Subquery(newest.values("pk")[:1])).values_list("pk", "last_log"))
    logs = ProvisioningLog.objects.defer("steps", "traffic", "modified_properties").in_bulk([i for i in last_ids.values() if i])
    through = _assignments(subject)
    rows = []
    for app in apps:
        known = by_app[app.pk]
        state = known.get("state")
        row = AppStatus(
            application=app,
            configured=app.provisioning_mode == Application.Mode.AUTOMATIC and bool(app.tenant_url),
            assigned_through=through.get(app.pk, []),
            target_id=state.target_id if state else "",
            disabled_in_target=bool(state and state.target_id and state.disabled),
            last_log=logs.get(last_ids.get(app.pk)),
            escrow=known.get("escrow"),
            quarantine=known.get("quarantine"),
        )
        _decide(row, app, subject)
        rows.append(row)
    return rows


def _decide(row, app, subject):
    """The engine's own decision, from the app's RunContext loaded as a cycle loads it."""
    ctx = RunContext(application=app, initiated_by=INITIATED_BY.ADMIN)
    ctx.load_assignments([subject])
    try:
        row.in_scope, row.reason, conditions = ctx.in_scope(subject)
    except ObjectFailure as failure:
        row.failure = f"{failure.code}: {failure.description}"
        return
    row.failed_conditions = [(condition, explanation) for condition, result, explanation in conditions if result == "Failed"]
    if not row.in_scope:
        row.fix = ctx.scope_fix(subject)


def _assignments(subject):
    """App pk → how the subject is assigned ("Directly", or the names of its groups that are), for every app at once."""
    through = {}
    if subject.object_type == GROUP:
        for app_id in Assignment.objects.filter(group_id=subject.pk).values_list("application_id", flat=True):
            through.setdefault(app_id, []).append("Directly")
        return through
    for app_id in Assignment.objects.filter(user_id=subject.pk).values_list("application_id", flat=True):
        through.setdefault(app_id, []).append("Directly")
    groups = DirectoryGroup.objects.filter(members__pk=subject.pk, deleted_at__isnull=True)
    for app_id, name in Assignment.objects.filter(group__in=groups).values_list("application_id", "group__display_name").order_by("group__display_name"):
        through.setdefault(app_id, []).append(name)
    return through
