"""Webhooks: where an application's provisioning events are pushed (on-call chat, an incident tool), and
what each delivery got back."""

from django.db import models

from provisioning import secrets


class WebhookEndpoint(models.Model):
    class Event(models.TextChoices):
        CYCLE_COMPLETED = "cycle.completed", "Cycle completed (with its counts)"
        CYCLE_FAILED = "cycle.failed", "Cycle failed"
        QUARANTINE_ENTERED = "quarantine.entered", "Quarantine entered"
        QUARANTINE_LIFTED = "quarantine.lifted", "Quarantine lifted"
        DELETIONS_STAGED = "deletions.staged", "Deletions staged for approval"
        FAILURES = "provisioning.failures", "Provisioning failures over the threshold"

    class Format(models.TextChoices):
        JSON = "json", "Generic JSON"
        SLACK = "slack", "Slack incoming webhook"
        TEAMS = "teams", "Microsoft Teams incoming webhook"

    application = models.ForeignKey("provisioning.Application", on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=100)
    url = models.URLField("URL", max_length=2048)
    secret_encrypted = models.TextField(blank=True, editable=False)
    events = models.JSONField(default=list)  # Event values
    format = models.CharField(max_length=8, choices=Format.choices, default=Format.JSON)
    failure_threshold = models.PositiveIntegerField(
        default=10, help_text="provisioning.failures is sent when a cycle ends with at least this many failed objects")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return f"{self.name} ({self.url})"

    def set_secret(self, secret):
        self.secret_encrypted = secrets.encrypt(secret) if secret else ""

    def get_secret(self):
        return secrets.decrypt(self.secret_encrypted) if self.secret_encrypted else ""


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32)
    payload = models.JSONField()  # the event as generic JSON; Slack and Teams bodies are made from it
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)  # the last attempt's failure, in words
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
