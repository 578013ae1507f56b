"""AuditEntry: who changed what in the configuration, and when, as Entra's audit logs."""

from django.db import models


class AuditEntry(models.Model):
    class Category(models.TextChoices):
        # Entra's audit categories for the provisioning blade's changes.
        APPLICATION = "application", "ApplicationManagement"
        PROVISIONING = "provisioning", "ProvisioningManagement"
        ASSIGNMENT = "assignment", "UserManagement"
        DIRECTORY = "directory", "DirectoryManagement"

    created_at = models.DateTimeField("Date", db_index=True)
    # The app's name is kept beside the link, so an entry still names a deleted app.
    application = models.ForeignKey("provisioning.Application", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="audit_entries")
    application_name = models.CharField("Application", max_length=128, blank=True)
    initiated_by = models.CharField("Initiated by (actor)", max_length=150)
    category = models.CharField(max_length=16, choices=Category.choices)
    activity = models.CharField(max_length=128)
    target = models.CharField("Target", max_length=512, blank=True)
    # [{"name", "old", "new"}]; a secret's values are never stored, only "changed".
    modified_properties = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["application", "-created_at"])]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.initiated_by}: {self.activity}"
