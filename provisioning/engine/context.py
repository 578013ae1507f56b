"""What a run (a cycle's chunk or an on-demand request) loads once, in bulk, and every object reuses.

`prepare(sources)` loads, for the objects at hand, their export state, the export state of their managers
and members, their assignments and (in an initial cycle) the target objects listed under their matching
keys, and reserves the matching key of each object that may be created. The pipeline then decides from
memory; `record()` keeps each outcome, and `flush()` writes them (export state, log entries, escrow,
pending removals) in one transaction.
"""

import copy
import threading
import uuid
from dataclasses import asdict, dataclass, field
from functools import cached_property

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Prefetch

from provisioning.engine import bulk_write, escrow, keys
from provisioning.engine.credentials import client_options
from provisioning.engine.errors import ObjectFailure
from provisioning.engine.mapping import evaluate_mapping, lookup
from provisioning.engine.source import GROUP, USER
from provisioning.models import (
    Application,
    Assignment,
    AttributeMapping,
    DirectoryGroup,
    DirectoryUser,
    ExportState,
    ListedTargetObject,
    ObjectMapping,
    PendingRemoval,
    ProvisioningLog,
    ScopingFilter,
)
from provisioning.scim import ScimClient, ServiceProviderConfig
from provisioning.scim.quirks import Quirks
from provisioning.scoping import Clause, ScopingFilterSpec

INITIATED_BY = ProvisioningLog.InitiatedBy
EXPORT_FIELDS = ["target_id", "match_key", "reserved_by", "exported", "members", "disabled", "reference_pending", "members_pending"]


EMPTY_EXPORT = {"target_id": "", "match_key": None, "reserved_by": None, "exported": {}, "members": [], "disabled": False,
                "reference_pending": "", "members_pending": False}


@dataclass
class State:
    """One object's ExportState as a run holds it in memory (a plain record: a chunk holds hundreds)."""

    object_type: str
    source_id: uuid.UUID
    target_id: str = ""
    match_key: str | None = None
    reserved_by: uuid.UUID | None = None
    exported: dict = field(default_factory=dict)
    members: list = field(default_factory=list)
    disabled: bool = False
    reference_pending: str = ""
    members_pending: bool = False

    @property
    def linked(self):
        return bool(self.target_id)

    @classmethod
    def rows(cls, queryset):
        for values in queryset.values("object_type", "source_id", *EXPORT_FIELDS):
            yield cls(**values)


@dataclass
class Outcome:
    """What happened to one object: its log entry (None when not logged) and what to remember of it."""

    source: object
    log: ProvisioningLog | None
    status: str
    action: str
    export: dict | None = None  # ExportState fields to set; {"forget": True} drops the row
    removal: tuple | None = None  # (PendingRemoval.Removal, reason): decided now, sent in the removals phase
    reference_failure: bool = False
    row: dict | None = None  # the ExportState fields to write, taken when the outcome was recorded


@dataclass
class RunContext:
    application: Application
    initiated_by: str  # ProvisioningLog.InitiatedBy
    initiated_by_user: str = ""
    cycle: object = None  # ProvisioningCycle | None
    on_demand_run: object = None  # OnDemandRun | None
    # Read each linked object from the target before deciding (on demand, as Entra); a cycle trusts the
    # export state so that an unchanged object costs no request.
    verify: bool = True
    # A cycle sends disables and deletes in its removals phase, after the deletion threshold is checked.
    defer_removals: bool = False
    # Skips of unchanged objects are logged on demand and in initial cycles, counted in incremental ones.
    log_unchanged: bool = True
    lease_token: uuid.UUID = field(default_factory=uuid.uuid4)
    phase: str = ""  # the cycle phase of a chunk ("references": its failures are reference failures)
    features: ServiceProviderConfig | None = None
    _client: ScimClient | None = field(default=None, repr=False)

    def __post_init__(self):
        self.states = {}  # (type, objectId) → ExportState
        self.owner_of_target = {}  # (type, target id) → objectId linked to it
        self.assigned_users = set()
        self.assigned_groups = set()
        self.listed = None  # (type, key) → [(target id, resource)] when the cycle listed the target
        self.possibly_sent = set()  # (type, objectId) reserved by an earlier lease: a create may have been sent
        self.key_conflicts = {}  # (type, objectId) → the other objectId holding the same match key
        self.removing = set()  # (type, objectId) with a pending removal in this cycle
        self.outcomes = []
        self._recorded = threading.Lock()
        self.member_names = {}  # objectId → display name of the members of the groups at hand (for the log)
        self._scope = {}
        self._matching = {}

    # ------------------------------------------------------------------ configuration

    @cached_property
    def object_mappings(self):
        """ObjectMapping by object type, with attribute mappings and scoping filters prefetched."""
        mappings = ObjectMapping.objects.filter(application=self.application).prefetch_related(
            Prefetch("attribute_mappings", queryset=AttributeMapping.objects.order_by("position", "id")),
            Prefetch("scoping_filters", queryset=ScopingFilter.objects.prefetch_related("clauses")),
        )
        return {m.object_type: m for m in mappings}

    @cached_property
    def _scoping_specs(self):
        return {
            object_type: tuple(
                ScopingFilterSpec(title=f.title, clauses=tuple(Clause(c.attribute, c.operator, c.value) for c in f.clauses.all()))
                for f in mapping.scoping_filters.all()
            )
            for object_type, mapping in self.object_mappings.items()
        }

    def scoping_filters(self, object_type):
        return self._scoping_specs.get(object_type, ())

    def matching_mappings(self, object_type):
        mapping = self.object_mappings.get(object_type)
        if mapping is None:
            return []
        return sorted((m for m in mapping.attribute_mappings.all() if m.is_matching), key=lambda m: (m.matching_precedence or 0, m.position))

    @property
    def dry_run(self):
        return bool(self.cycle is not None and self.cycle.dry_run)

    @property
    def sync_all(self):
        return self.application.scope == Application.Scope.ALL

    @property
    def client(self):
        if self._client is None:
            limit = self.application.max_concurrent_requests
            self._client = ScimClient(self.application.tenant_url, timeout=settings.SCIM_TIMEOUT_SECONDS,
                                      max_connections=limit, **client_options(self.application))
            if self.dry_run:
                from provisioning.engine.dry_run import ReadOnlyClient

                self._client = ReadOnlyClient(self._client)
        return self._client

    def target_features(self):
        """What the target supports (its /ServiceProviderConfig), read when a request first needs it: once
        per cycle (kept on the cycle for its other chunks) or once per on-demand run. A cycle with
        nothing to send never reads it."""
        if self.features is None:
            known = (self.cycle.target_features if self.cycle is not None else None) or self.application.target_features
            if known:
                self.features = ServiceProviderConfig(**known)
            else:
                self.refresh_target_features()
        return self.features

    def refresh_target_features(self):
        """Read /ServiceProviderConfig now and remember it on the app (and the cycle)."""
        self.features = self.client.service_provider_config()
        features = asdict(self.features)
        self.application.target_features = features
        Application.objects.filter(pk=self.application.pk).update(target_features=features)
        if self.cycle is not None:
            self.cycle.target_features = features
            type(self.cycle).objects.filter(pk=self.cycle.pk).update(target_features=features)
        return self.features

    @cached_property
    def quirks(self):
        """What was learned about this target (scim/quirks.py), as the app held it when the run started."""
        return Quirks.of(self.application)

    def learn(self, change):
        """Remember a lesson about the target: change(stored JSON) → new JSON, applied with a conditional
        update so that workers learning at the same time keep each other's lessons. A dry run learns nothing
        (it sends no writes)."""
        if self.dry_run:
            return
        for _ in range(5):
            stored = Application.objects.filter(pk=self.application.pk).values_list("target_quirks", flat=True).first() or {}
            updated = change(stored)
            if updated == stored or Application.objects.filter(pk=self.application.pk, target_quirks=stored).update(target_quirks=updated):
                break
        else:  # pragma: no cover - five workers rewriting it at once
            return
        self.application.target_quirks = updated
        self.quirks.data = copy.deepcopy(updated)

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    def log_fields(self):
        return {
            "application": self.application,
            "cycle": self.cycle,
            "on_demand_run": self.on_demand_run,
            "initiated_by": self.initiated_by,
            "initiated_by_user": self.initiated_by_user,
        }

    # ------------------------------------------------------------------ loading in bulk

    def prepare(self, sources):
        """Load what these objects need in a few queries, and reserve the matching keys of new ones."""
        app = self.application
        wanted = {(s.object_type, s.object_id) for s in sources}
        wanted |= {(USER, s.manager_id) for s in sources if s.manager_id}
        wanted |= {(USER, m) for s in sources for m in s.members}
        self._load_states(wanted - set(self.states))
        self.load_assignments(sources)
        members = [m for s in sources for m in s.members if m not in self.member_names]
        for i in range(0, len(members), 5000):
            for object_id, name, upn in DirectoryUser.objects.filter(object_id__in=members[i:i + 5000]).values_list(
                    "object_id", "display_name", "user_principal_name"):
                self.member_names[object_id] = name or upn
        if self.cycle is not None:
            self.removing |= {
                (t, s) for t, s in PendingRemoval.objects.filter(cycle=self.cycle, source_id__in=[k[1] for k in wanted]).values_list("object_type", "source_id")
            }
            if self.cycle.target_listed:
                self._load_listing(sources)
        self._reserve(sources)

    def load_assignments(self, sources):
        """Which of these users and groups are assigned to the app (users directly or through a group), for scope."""
        app = self.application
        users = [s.pk for s in sources if s.object_type == USER and s.pk is not None]
        if users and not self.sync_all:
            self.assigned_groups |= set(Assignment.objects.filter(application=app, group__isnull=False).values_list("group_id", flat=True))
            self.assigned_users |= set(Assignment.objects.filter(application=app, user_id__in=users).values_list("user_id", flat=True))
            # A soft-deleted group assigns nobody any more.
            self.assigned_users |= set(
                DirectoryGroup.members.through.objects.filter(directoryuser_id__in=users, directorygroup__assignment__application=app,
                                                              directorygroup__deleted_at__isnull=True)
                .values_list("directoryuser_id", flat=True)
            )
        if any(s.object_type == GROUP for s in sources) and not self.sync_all:
            self.assigned_groups |= set(Assignment.objects.filter(application=app, group__isnull=False).values_list("group_id", flat=True))

    def _load_states(self, wanted):
        by_type = {}
        for object_type, source_id in wanted:
            by_type.setdefault(object_type, []).append(source_id)
        for object_type, ids in by_type.items():
            for state in State.rows(ExportState.objects.filter(application=self.application, object_type=object_type, source_id__in=ids)):
                self._remember(state)

    def _remember(self, state):
        self.states[(state.object_type, state.source_id)] = state
        if state.target_id:
            self.owner_of_target[(state.object_type, state.target_id)] = state.source_id

    def _load_listing(self, sources):
        self.listed = self.listed or {}
        wanted = {}
        for source in sources:
            for _, _, key in self.matching_values(source):
                wanted.setdefault(source.object_type, set()).add(key)
        for object_type, wanted_keys in wanted.items():
            rows = ListedTargetObject.objects.filter(cycle=self.cycle, object_type=object_type, match_key__in=list(wanted_keys))
            for key, target_id, resource in rows.values_list("match_key", "target_id", "resource"):
                self.listed.setdefault((object_type, key), []).append((target_id, resource))

    def _reserve(self, sources):
        """Claim each new in-scope object's first matching key, so no second object can take its target."""
        claims = {}
        for source in sources:
            state = self.states.get(source.key)
            if state is not None and state.linked:
                continue
            try:
                if not self.in_scope(source)[0]:
                    continue
            except ObjectFailure:
                continue  # the object's own steps record the failure
            values = self.matching_values(source)
            if values:
                claims[source.key] = values[0][2]
        if not claims:
            return
        app = self.application
        fresh = [
            {"application_id": app.pk, "object_type": t, "source_id": s, "match_key": key, "reserved_by": self.lease_token,
             **{name: default for name, default in EMPTY_EXPORT.items() if name not in ("match_key", "reserved_by")}}
            for (t, s), key in claims.items() if (t, s) not in self.states
        ]
        inserted = {(t, s) for t, s in bulk_write.insert(ExportState, fresh, ignore_conflicts=True, returning=["object_type", "source_id"])}
        for row in fresh:
            if (row["object_type"], row["source_id"]) in inserted:
                self._remember(State(row["object_type"], row["source_id"], match_key=row["match_key"], reserved_by=self.lease_token))
        # What did not go in: an earlier lease's reservation of the same object, or another object's key.
        refused = {key: claim for key, claim in claims.items() if key not in inserted}
        for object_type in {t for t, _ in refused}:
            ids = [s for t, s in refused if t == object_type]
            taken = [claim for (t, _), claim in refused.items() if t == object_type]
            rows = ExportState.objects.filter(application=app, object_type=object_type, source_id__in=ids) | ExportState.objects.filter(
                application=app, object_type=object_type, match_key__in=taken)
            owners = {}
            for state in State.rows(rows):
                if state.source_id in ids:
                    self._remember(state)
                if state.match_key:
                    owners[state.match_key] = state.source_id
            for (t, source_id), key in refused.items():
                if t != object_type:
                    continue
                state = self.states.get((t, source_id))
                owner = owners.get(key)
                if owner is not None and owner != source_id:
                    self.key_conflicts[(t, source_id)] = owner
                elif state is not None and not state.linked and state.reserved_by != self.lease_token:
                    self.possibly_sent.add((t, source_id))

    # ------------------------------------------------------------------ what the pipeline asks

    def state(self, source):
        return self.states.get(source.key)

    def target_id(self, object_type, source_id, *, active_only=False):
        state = self.states.get((object_type, source_id))
        if state is None or not state.target_id or (active_only and state.disabled):
            return None
        return state.target_id

    def linked_elsewhere(self, object_type, target_id, source_id):
        """The objectId of another source object already linked to this target object, or None."""
        owner = self.owner_of_target.get((object_type, target_id))
        if owner is None and target_id:
            owner = ExportState.objects.filter(application=self.application, object_type=object_type, target_id=target_id).values_list("source_id", flat=True).first()
        return owner if owner is not None and owner != source_id else None

    def in_scope(self, source):
        """(in scope, reason, rows for the Determine-scope step), computed once per object."""
        if source.key not in self._scope:
            from provisioning.engine.scope import decide

            try:
                self._scope[source.key] = decide(self, source)
            except ObjectFailure as failure:
                # Remembered, so the object's own steps report it without evaluating the pattern again.
                self._scope[source.key] = failure
        decided = self._scope[source.key]
        if isinstance(decided, ObjectFailure):
            raise decided
        return decided

    def scope_fix(self, source):
        """What would let an out-of-scope object in (engine/scope.py fix_for)."""
        from provisioning.engine.scope import fix_for

        return fix_for(self, source, self.in_scope(source)[2])

    def matching_values(self, source):
        """[(mapping, value, key)] for each matching attribute with a value, in precedence order."""
        if source.key not in self._matching:
            values = []
            for mapping in self.matching_mappings(source.object_type):
                if mapping.mapping_type == AttributeMapping.MappingType.DIRECT:
                    value = lookup(source.attributes, mapping.source_attribute)
                else:
                    try:
                        value, _ = evaluate_mapping(mapping, {**source.attributes, "IsSoftDeleted": False})
                    except Exception:  # noqa: BLE001 - the pipeline reports the expression error itself
                        value = None
                key = keys.match_key(mapping.target_attribute, value)
                if key:
                    values.append((mapping, value, key))
            self._matching[source.key] = values
        return self._matching[source.key]

    # ------------------------------------------------------------------ recording and writing

    def record(self, outcome: Outcome):
        """Keep one object's outcome; its export state is visible to the next objects at once, and the
        row to write is taken now, so that `write` may run on another thread."""
        source = outcome.source
        if outcome.export is not None and not outcome.export.get("forget"):
            state = self.states.get(source.key)
            if state is None:
                state = State(source.object_type, source.object_id)
            old_target = state.target_id
            for name, value in outcome.export.items():
                setattr(state, name, value)
            if state.target_id and state.target_id != old_target:
                self.owner_of_target[(source.object_type, state.target_id)] = source.object_id
            self.states[source.key] = state
            outcome.row = {name: getattr(state, name) for name in EXPORT_FIELDS}
        elif outcome.export is not None:
            state = self.states.pop(source.key, None)
            if state is not None and state.target_id:
                self.owner_of_target.pop((source.object_type, state.target_id), None)
        if outcome.removal is not None:
            self.removing.add(source.key)
        with self._recorded:
            self.outcomes.append(outcome)

    def take(self):
        """The outcomes recorded since the last take (safe against a concurrent record)."""
        with self._recorded:
            outcomes, self.outcomes = self.outcomes, []
        return outcomes

    def flush(self, also=None):
        """Write what was recorded; returns it."""
        outcomes = self.take()
        self.write(outcomes, also)
        return outcomes

    def write(self, outcomes, also=None):
        """Write outcomes in one transaction, with also(outcomes) (e.g. the chunk's progress) inside it;
        nothing is written when also() raises. Runs on any thread: it reads only the outcomes."""
        if not outcomes and also is None:
            return
        try:
            with transaction.atomic():
                self._write(outcomes)
                if also is not None:
                    also(outcomes)
        except IntegrityError:
            # Two workers linked one target object at the same moment: write one object at a time, and
            # the loser fails instead of merging two people.
            with transaction.atomic():
                for outcome in outcomes:
                    try:
                        with transaction.atomic():
                            self._write([outcome])
                    except IntegrityError:
                        self._lost_link(outcome)
                        with transaction.atomic():
                            self._write([outcome])
                if also is not None:
                    also(outcomes)

    def _write(self, outcomes):
        app = self.application
        forget, keep = [], {}
        for outcome in outcomes:
            if outcome.export is None:
                continue
            if outcome.export.get("forget"):
                forget.append(outcome.source.key)
                keep.pop(outcome.source.key, None)
            else:
                keep[outcome.source.key] = outcome.row
        for object_type in {t for t, _ in forget}:
            ExportState.objects.filter(application=app, object_type=object_type, source_id__in=[s for t, s in forget if t == object_type]).delete()
        if keep:
            rows = [{"application_id": app.pk, "object_type": t, "source_id": s, **row} for (t, s), row in keep.items()]
            bulk_write.insert(ExportState, rows, conflict=["application", "object_type", "source_id"], update=[*EXPORT_FIELDS, "updated_at"])
        escrow.record(self.application, outcomes)  # first: it adds the retry schedule to the failures' entries
        logs = [o.log for o in outcomes if o.log is not None and o.log.pk is None]
        bulk_write.insert(ProvisioningLog, logs)
        created = {id(log) for log in logs}
        for outcome in outcomes:
            if outcome.log is not None and id(outcome.log) not in created:
                outcome.log.save()  # a live entry (on demand), written while its steps ran
        if self.cycle is not None:
            removals = [
                PendingRemoval(cycle=self.cycle, object_type=o.source.object_type, source_id=o.source.object_id, source_pk=o.source.pk,
                               removal=o.removal[0], reason=o.removal[1])
                for o in outcomes if o.removal is not None
            ]
            if removals:
                PendingRemoval.objects.bulk_create(removals, ignore_conflicts=True)

    def _lost_link(self, outcome):
        source = outcome.source
        target_id = (outcome.row or {}).get("target_id", "")
        other = ExportState.objects.filter(application=self.application, object_type=source.object_type, target_id=target_id).exclude(
            source_id=source.object_id).values_list("source_id", flat=True).first()
        if outcome.row is not None:
            outcome.row = {**outcome.row, "target_id": "", "match_key": None}
        log = outcome.log
        if log is not None:
            log.status = ProvisioningLog.Status.FAILURE
            log.error_code = "DuplicateTargetEntries"
            log.error_description = (
                f"The target object {target_id} is already linked to another directory object ({other}); "
                f"'{source.name}' was not linked to it, so two people are not merged into one account."
            )
            log.recommended_fix = "Give each directory object a unique value for the matching attribute under Mappings."
        outcome.status = ProvisioningLog.Status.FAILURE

