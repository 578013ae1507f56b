"""ProvisioningLog: one entry per object per run, with the five steps, as Entra's provisioning logs."""

import uuid

from django.db import models
from django.db.models.functions import Upper


class ProvisioningLog(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        DELETE = "delete", "Delete"
        DISABLE = "disable", "Disable"
        # A disable or delete held back by the accidental-deletion threshold (Entra's StagedDelete).
        STAGED_DELETE = "staged", "StagedDelete"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        SKIPPED = "skipped", "Skipped"
        WARNING = "warning", "Warning"
        # On demand only: the entry exists while its steps run, so the page shows them as they complete.
        RUNNING = "running", "In progress"

    class InitiatedBy(models.TextChoices):
        CYCLE = "cycle", "Provisioning cycle"
        ON_DEMAND = "on_demand", "On-demand provisioning"
        ADMIN = "admin", "Administrator"
        CHANGE = "change", "Directory change"

    application = models.ForeignKey("provisioning.Application", on_delete=models.CASCADE, related_name="logs")
    cycle = models.ForeignKey("provisioning.ProvisioningCycle", null=True, blank=True, on_delete=models.SET_NULL, related_name="logs")
    on_demand_run = models.ForeignKey("provisioning.OnDemandRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="logs")
    change_id = models.UUIDField("Change ID", default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField("Date", db_index=True)
    initiated_by = models.CharField(max_length=12, choices=InitiatedBy.choices)
    initiated_by_user = models.CharField(max_length=150, blank=True)

    object_type = models.CharField(max_length=8)  # "user" | "group"
    source_id = models.CharField("Source ID", max_length=64, db_index=True)
    source_display_name = models.CharField(max_length=256, blank=True)
    source_upn = models.CharField(max_length=256, blank=True)
    target_id = models.CharField("Target ID", max_length=256, blank=True, db_index=True)

    action = models.CharField(max_length=8, choices=Action.choices)
    status = models.CharField(max_length=8, choices=Status.choices)
    error_code = models.CharField(max_length=128, blank=True)
    error_description = models.TextField(blank=True)
    recommended_fix = models.TextField(blank=True)
    # [{"name", "type", "status", "description", "details": {key: value}}] in pipeline order.
    steps = models.JSONField(default=list)
    # [{"name", "old", "new"}]
    modified_properties = models.JSONField(default=list)
    # The SCIM requests the entry made and their answers, bounded and masked (provisioning/scim/traffic.py):
    # [{"method", "url", "status", "ms", "request_headers", "request_body", "response_headers", "response_body", …}]
    traffic = models.JSONField(default=list, blank=True)
    # Retry of a failed entry: the entry it retried (the new entry links back; the old one lists its retries).
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["application", "-created_at"]),
            models.Index(fields=["application", "status", "-created_at"]),
            models.Index(fields=["application", "action", "-created_at"]),
            # The Overview's failure reasons link to the entries of one error code.
            models.Index(fields=["application", "error_code", "-created_at"]),
            # The Cycle ID filter and the Overview's per-cycle counts.
            models.Index(fields=["cycle", "-created_at"]),
            # The Identity filter's exact UPN match (iexact compares UPPER(source_upn)).
            models.Index(Upper("source_upn"), name="provisioning_log_upn_upper"),
        ]

    def __str__(self):
        return f"{self.get_action_display()} {self.source_display_name} {self.get_status_display()}"

    @property
    def identity(self):
        return self.source_display_name or self.source_upn or self.source_id
