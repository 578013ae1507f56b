"""Runtime state of provisioning: cycles, on-demand runs, and the source→target anchors."""

import uuid

from django.conf import settings
from django.db import models


class ProvisioningCycle(models.Model):
    class Kind(models.TextChoices):
        INITIAL = "initial", "Initial cycle"
        INCREMENTAL = "incremental", "Incremental cycle"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped"
        FAILED = "failed", "Failed"

    application = models.ForeignKey("provisioning.Application", on_delete=models.CASCADE, related_name="cycles")
    cycle_id = models.UUIDField("Cycle ID", default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    stop_requested = models.BooleanField(default=False)
    total_units = models.PositiveIntegerField(default=0)
    completed_units = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.get_kind_display()} {self.cycle_id}"

    @property
    def percent_complete(self):
        if self.state == self.State.COMPLETED:
            return 100
        if not self.total_units:
            return 0
        return min(100, int(100 * self.completed_units / self.total_units))

    @property
    def is_active(self):
        return self.state in (self.State.QUEUED, self.State.RUNNING)

    @property
    def duration_seconds(self):
        if self.started_at and self.finished_at:
            return int((self.finished_at - self.started_at).total_seconds())
        return None


class OnDemandRun(models.Model):
    """One click of Provision on demand: one user, or up to five members of a group."""

    MAX_GROUP_MEMBERS = 5

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"

    application = models.ForeignKey("provisioning.Application", on_delete=models.CASCADE, related_name="on_demand_runs")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    group = models.ForeignKey("provisioning.DirectoryGroup", null=True, blank=True, on_delete=models.SET_NULL)
    users = models.ManyToManyField("provisioning.DirectoryUser", blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    # Live progress while the task runs: [{"subject": {...}, "steps": [...], "log_id": id|None}, …]
    progress = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class TargetAnchor(models.Model):
    """The link between a source object and its object in the target (Entra caches the target id)."""

    application = models.ForeignKey("provisioning.Application", on_delete=models.CASCADE, related_name="anchors")
    object_type = models.CharField(max_length=8)  # "user" | "group"
    source_id = models.UUIDField()  # the source objectId
    target_id = models.CharField(max_length=256)
    # True once the engine has disabled the target object because the source left scope.
    disabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["application", "object_type", "source_id"], name="unique_anchor")
        ]
        indexes = [models.Index(fields=["application", "object_type", "target_id"])]
