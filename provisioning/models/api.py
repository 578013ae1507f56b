"""API tokens (the REST API's credentials) and the audit of every API call."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A credential for /api/v1/, created and revoked by an Administrator on the API tokens page.

    The token is `ppt_<prefix>_<secret>`: the prefix finds the row, only a SHA-256 of the whole token is
    kept, so the token itself is shown once, when it is created, and never again.
    """

    class Role(models.TextChoices):
        # The pages' roles: a read-only token reads what Helpdesk reads; an admin token does what Administrators do.
        READ_ONLY = "read_only", "Read-only (Helpdesk)"
        ADMIN = "admin", "Administrator"

    name = models.CharField(max_length=128)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    token_hash = models.CharField(max_length=64, editable=False)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.READ_ONLY)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="api_tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField("Expires")
    revoked_at = models.DateTimeField("Revoked", null=True, blank=True)
    revoked_by = models.CharField(max_length=150, blank=True)
    last_used_at = models.DateTimeField("Last used", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self):
        # Also the throttling key (ninja hashes str(request.auth)): one bucket per token.
        return f"{self.name} ({self.prefix})"

    @property
    def is_admin(self):
        return self.role == self.Role.ADMIN

    def state(self, now=None):
        if self.revoked_at:
            return "Revoked"
        if self.expires_at <= (now or timezone.now()):
            return "Expired"
        return "Active"


class ApiCall(models.Model):
    """One request to /api/v1/: who (the token's name survives the token), what, the answer's status."""

    at = models.DateTimeField(db_index=True)
    token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    token_name = models.CharField(max_length=128, blank=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    query = models.CharField(max_length=1024, blank=True)
    status_code = models.PositiveSmallIntegerField()
    duration_ms = models.PositiveIntegerField(default=0)
    request_id = models.UUIDField("request-id")
    remote_addr = models.CharField(max_length=45, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "API call"

    def __str__(self):
        return f"{self.method} {self.path} {self.status_code}"
