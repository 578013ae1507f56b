"""A dry run: what a whole cycle would do, planned and evaluated by the real engine, with only reads sent.

The engine runs the cycle inside a transaction it rolls back (engine/dry_run.py); what it would have done is
copied out first, as the aggregate (summary) and one DryRunEntry per object with its old → new values.
"""

from django.db import models

from .runs import Run


class DryRun(Run):
    application = models.ForeignKey("provisioning.Application", on_delete=models.CASCADE, related_name="dry_runs")
    kind = models.CharField(max_length=12, blank=True)  # the cycle it evaluated: "initial" | "incremental"
    # {"actions": {action: {status: n}}, "updated_attributes": {name: n}, "members_added": n, "members_removed": n,
    #  "unchanged": n, "deletions": {"count", "threshold", "held"}}
    summary = models.JSONField(default=dict, blank=True)

    def __str__(self):
        return f"Dry run {self.pk} of {self.application_id} ({self.state})"


class DryRunEntry(models.Model):
    """One object's outcome in a dry run, as its log entry would have said."""

    dry_run = models.ForeignKey(DryRun, on_delete=models.CASCADE, related_name="entries")
    object_type = models.CharField(max_length=8)
    source_id = models.CharField(max_length=64)
    source_display_name = models.CharField(max_length=256, blank=True)
    source_upn = models.CharField(max_length=256, blank=True)
    target_id = models.CharField(max_length=256, blank=True)
    action = models.CharField(max_length=8)
    status = models.CharField(max_length=8)
    description = models.TextField(blank=True)
    recommended_fix = models.TextField(blank=True)
    modified_properties = models.JSONField(default=list)
    # "|title|department|": the attributes an update changes, for the filter (JSON containment is not on SQLite).
    changed_attributes = models.TextField(blank=True)

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["dry_run", "action", "status"])]
