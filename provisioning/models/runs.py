"""Runtime state of provisioning: cycles and their chunks, on-demand runs, and the export state.

A cycle is a plan and chunks (DESIGN.md, *Cycles at scale*): the planner writes CycleChunk rows, any
worker leases one, runs its objects through the pipeline and records each export in ExportState as it
happens. On-demand runs share the run life cycle (claim, heartbeat, finish) of engine/lifecycle.py.
"""

import uuid

from django.conf import settings
from django.db import models


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    STOPPED = "stopped", "Stopped"
    FAILED = "failed", "Failed"


class Run(models.Model):
    """What a cycle and an on-demand run share: claimed once, a heartbeat while it runs, finished once."""

    State = RunState

    state = models.CharField(max_length=12, choices=RunState.choices, default=RunState.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Written by whoever works on the run; a running run without a recent heartbeat was interrupted.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def is_active(self):
        return self.state in (RunState.QUEUED, RunState.RUNNING)

    @property
    def duration_seconds(self):
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds())
        return None


class ProvisioningCycle(Run):
    class Kind(models.TextChoices):
        INITIAL = "initial", "Initial cycle"
        INCREMENTAL = "incremental", "Incremental cycle"

    class Phase(models.TextChoices):
        # In the order a cycle runs them.
        PLANNING = "planning", "Planning"
        USERS = "users", "Users"
        GROUPS = "groups", "Groups"
        MEMBERS = "members", "Group memberships"
        REFERENCES = "references", "References (manager)"
        REMOVALS = "removals", "Disables and deletes"
        FINALIZE = "finalize", "Finishing"

    application = models.ForeignKey("provisioning.Application", on_delete=models.CASCADE, related_name="cycles")
    cycle_id = models.UUIDField("Cycle ID", default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    stop_requested = models.BooleanField(default=False)
    # The phase being worked on, and the last one planned (later phases are planned when it is done).
    phase = models.CharField(max_length=12, choices=Phase.choices, default=Phase.PLANNING)
    planned_phase = models.CharField(max_length=12, choices=Phase.choices, blank=True)
    # The watermark this cycle reads changes after, and the one it leaves when it completes.
    watermark_from = models.DateTimeField(null=True, blank=True)
    watermark_to = models.DateTimeField(null=True, blank=True)
    # What the target said at planning (ServiceProviderConfig fields), shared by every chunk.
    target_features = models.JSONField(default=dict, blank=True)
    # The initial cycle listed the target once and matches locally (ListedTargetObject).
    target_listed = models.BooleanField(default=False)
    # When this cycle planned its members phase: membership changes after it are the next cycle's.
    members_checked_at = models.DateTimeField(null=True, blank=True)
    # Restart provisioning: the reset scopes it was asked with ("Watermark,Escrows,QuarantineState").
    restart_scopes = models.CharField(max_length=128, blank=True)
    # Allow deletes (Restart with ForceDeletes): this cycle sends the held disables and deletes, and only them.
    force_deletes = models.BooleanField(default=False)
    # A dry run's cycle: writes are answered by engine/dry_run.ReadOnlyClient, never sent; its transaction is rolled back.
    dry_run = models.BooleanField(default=False)
    # Queued by a directory change (engine/changes.py), not by the schedule: its entries say "Initiated by: change".
    initiated_by_change = models.BooleanField(default=False)

    class Meta(Run.Meta):
        pass

    def __str__(self):
        return f"{self.get_kind_display()} {self.cycle_id}"


class CycleChunk(models.Model):
    """A few hundred objects of one phase step; leased by one worker at a time, taken over when the lease expires."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    cycle = models.ForeignKey(ProvisioningCycle, on_delete=models.CASCADE, related_name="chunks")
    phase = models.CharField(max_length=12, choices=ProvisioningCycle.Phase.choices)
    # Chunks run in step order: all of step n finish before step n+1 starts (users by manager level).
    step = models.PositiveIntegerField()
    level = models.PositiveIntegerField(default=0)
    # Source primary keys (users or groups), or PendingRemoval ids in the removals phase.
    object_ids = models.JSONField(default=list)
    # Users: small manager levels share one chunk and run one after the other in it ([1, 4, 19] = the
    # first object is level n, the next 4 level n+1, …); empty = all of object_ids at once.
    level_sizes = models.JSONField(default=list, blank=True)
    total = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    lease_owner = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # A new token per lease; rows a chunk reserved carry it, so a takeover knows what may have been sent.
    lease_token = models.UUIDField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Objects whose outcome is recorded (export state + log entry), so a takeover does not repeat them.
    done_ids = models.JSONField(default=list)
    done = models.PositiveIntegerField(default=0)
    # {"create": {"success": n, ...}, ...}, this chunk's part of the cycle's counts.
    counts = models.JSONField(default=dict)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["step", "id"]
        indexes = [models.Index(fields=["cycle", "state", "step"])]

    def __str__(self):
        return f"{self.phase} chunk {self.pk} of {self.cycle_id}"


class OnDemandRun(Run):
    """One click of Provision on demand: one user, or up to five members of a group."""

    MAX_GROUP_MEMBERS = 5

    application = models.ForeignKey("provisioning.Application", on_delete=models.CASCADE, related_name="on_demand_runs")
    group = models.ForeignKey("provisioning.DirectoryGroup", null=True, blank=True, on_delete=models.SET_NULL)
    users = models.ManyToManyField("provisioning.DirectoryUser", blank=True)
    # The subjects in run order with their log entry once it exists: [{"subject": {...}, "log_id": id|None}].
    # The steps themselves live in the log entry, which grows as they complete.
    progress = models.JSONField(default=list, blank=True)
    # Retry of a failed log entry: the run provisions that entry's object, and its entry links back to it.
    retry_of = models.ForeignKey("provisioning.ProvisioningLog", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="retry_runs")

    class Meta(Run.Meta):
        pass


class ExportState(models.Model):
    """Entra's connector data store: per app and source object, its target object and what was last exported.

    The engine compares an object's desired state with this record, so an unchanged object costs no request.
    A row without a target id is a reservation: its match key is taken (no second source object may link to
    the same target object) and a create may have been sent; whoever finds it reserved by an earlier lease
    looks the object up in the target before creating it.
    """

    application = models.ForeignKey("provisioning.Application", on_delete=models.CASCADE, related_name="export_states")
    object_type = models.CharField(max_length=8)  # "user" | "group"
    source_id = models.UUIDField()  # the source objectId
    target_id = models.CharField(max_length=256, blank=True)
    # The first matching attribute with a value, normalised as the target compares it ("username:jane@x").
    match_key = models.CharField(max_length=512, null=True, blank=True)
    reserved_by = models.UUIDField(null=True, blank=True)
    # Target path → value as last sent (references as target ids).
    exported = models.JSONField(default=dict, blank=True)
    # Groups: the target ids of the members this app added.
    members = models.JSONField(default=list, blank=True)
    # True once the engine has disabled the target object because the source left scope.
    disabled = models.BooleanField(default=False)
    # The manager's objectId while the manager has no target object yet (the reference pass retries it).
    reference_pending = models.CharField(max_length=64, blank=True)
    # Groups: some members were left out because they are not provisioned yet.
    members_pending = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "object_type", "source_id"], name="unique_export_state"),
            # Never merge two people: one target object, one source object.
            models.UniqueConstraint(
                fields=["application", "object_type", "target_id"], condition=~models.Q(target_id=""),
                name="unique_export_target",
            ),
            models.UniqueConstraint(fields=["application", "object_type", "match_key"], name="unique_export_match_key"),
        ]
        indexes = [models.Index(fields=["application", "object_type", "target_id"])]

    def __str__(self):
        return f"{self.object_type} {self.source_id} → {self.target_id or '(not linked)'}"

    @property
    def linked(self):
        return bool(self.target_id)


class PendingRemoval(models.Model):
    """A disable or delete a cycle decided on, sent in its removals phase after the threshold is checked."""

    class Removal(models.TextChoices):
        DISABLE = "disable", "Disable"
        DELETE = "delete", "Delete"

    cycle = models.ForeignKey(ProvisioningCycle, on_delete=models.CASCADE, related_name="pending_removals")
    object_type = models.CharField(max_length=8)
    source_id = models.UUIDField()
    # The directory row, or None when it was hard-deleted (the tombstone speaks for it).
    source_pk = models.BigIntegerField(null=True, blank=True)
    removal = models.CharField(max_length=8, choices=Removal.choices)
    reason = models.TextField()
    # Held by the accidental-deletion threshold until an administrator allows or rejects them.
    staged = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cycle", "object_type", "source_id"], name="unique_pending_removal")]


class ListedTargetObject(models.Model):
    """The target's objects as an initial cycle listed them (GET /Users, /Groups paged), by matching key."""

    cycle = models.ForeignKey(ProvisioningCycle, on_delete=models.CASCADE, related_name="listed_objects")
    object_type = models.CharField(max_length=8)
    match_key = models.CharField(max_length=512)
    target_id = models.CharField(max_length=256)
    resource = models.JSONField()

    class Meta:
        indexes = [models.Index(fields=["cycle", "object_type", "match_key"])]


class Escrow(models.Model):
    """A failed object, retried in later cycles with growing intervals, as Entra escrows it.

    Written when an object's export fails, cleared when it succeeds (or by Restart with Escrows); every
    cycle takes the objects whose next retry is due along with the changed ones.
    """

    application = models.ForeignKey("provisioning.Application", on_delete=models.CASCADE, related_name="escrows")
    object_type = models.CharField(max_length=8)
    source_id = models.UUIDField()
    source_pk = models.BigIntegerField(null=True, blank=True)
    # Reference (manager) failures are counted apart, as Entra counts them.
    reference = models.BooleanField(default=False)
    attempts = models.PositiveIntegerField(default=1)
    error_code = models.CharField(max_length=128, blank=True)
    error_description = models.TextField(blank=True)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    next_retry_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["application", "object_type", "source_id"], name="unique_escrow")]

    def __str__(self):
        return f"{self.object_type} {self.source_id}: {self.error_code} ({self.attempts} attempts)"


class Quarantine(models.Model):
    """A provisioning job in quarantine (Graph's synchronizationQuarantine): why, since when, the next attempt.

    One row per quarantine event; the active one has no lifted_at. While it is active the app's job status
    is Quarantine and cycles wait for next_attempt_at (6 h, 12 h, 24 h, then daily; after 28 days the job
    is disabled)."""

    class Reason(models.TextChoices):
        # Graph's quarantineReason values, which admins search for.
        CREDENTIALS = "EncounteredQuarantineException", "EncounteredQuarantineException"
        PROPORTION = "EncounteredEscrowProportionThreshold", "EncounteredEscrowProportionThreshold"
        BASE = "EncounteredBaseEscrowThreshold", "EncounteredBaseEscrowThreshold"
        TOTAL = "EncounteredTotalEscrowThreshold", "EncounteredTotalEscrowThreshold"
        TOO_MANY_DELETES = "TooManyDeletes", "TooManyDeletes"

    application = models.ForeignKey("provisioning.Application", on_delete=models.CASCADE, related_name="quarantines")
    cycle = models.ForeignKey(ProvisioningCycle, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=64, choices=Reason.choices)
    # What happened and which request or threshold decided it, in a sentence; and what to do.
    description = models.TextField()
    fix = models.TextField()
    began_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)  # failed attempts since it began (seriesCount)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt = models.TextField(blank=True)  # when the latest attempt ran and what it got back
    emailed_at = models.DateTimeField(null=True, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lifted_by = models.CharField(max_length=150, blank=True)
    lifted_how = models.CharField(max_length=256, blank=True)

    class Meta:
        ordering = ["-began_at"]

    def __str__(self):
        return f"{self.reason} since {self.began_at:%Y-%m-%d %H:%M}"

    @property
    def active(self):
        return self.lifted_at is None
