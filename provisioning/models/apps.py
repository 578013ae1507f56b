"""Application: one enterprise application and its provisioning configuration (the blade's Provisioning page)."""

import secrets as pysecrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from provisioning import secrets


def default_interval():
    return settings.PROVISIONING_INTERVAL_MINUTES


def new_job_id():
    # Entra's non-gallery SCIM jobs are named "scim.<hex>".
    return f"scim.{pysecrets.token_hex(16)}"


class Application(models.Model):
    class Mode(models.TextChoices):
        MANUAL = "manual", "Manual"
        AUTOMATIC = "automatic", "Automatic"

    class Scope(models.TextChoices):
        ASSIGNED = "assigned", "Sync only assigned users and groups"
        ALL = "all", "Sync all users and groups"

    class AuthenticationMethod(models.TextChoices):
        # Entra's three ways to authenticate to a SCIM target (scim/auth.py).
        BEARER = "bearer", "Bearer token (Secret Token)"
        PORTAL_JWT = "portal_jwt", "Token issued by this portal (signed JWT)"
        OAUTH = "oauth_client_credentials", "OAuth 2.0 client credentials grant"

    class ClientAuthentication(models.TextChoices):
        BASIC = "client_secret_basic", "HTTP Basic (client_secret_basic)"
        POST = "client_secret_post", "In the request body (client_secret_post)"

    class JobStatus(models.TextChoices):
        # Graph synchronizationStatus.code, in the blade's words.
        NOT_CONFIGURED = "not_configured", "Not configured"
        NOT_RUN = "not_run", "Initial cycle not run"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        QUARANTINE = "quarantine", "Quarantine"

    name = models.CharField(max_length=128, unique=True)
    description = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    job_id = models.CharField("Job ID", max_length=64, default=new_job_id, unique=True, editable=False)

    provisioning_mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.MANUAL)
    tenant_url = models.URLField("Tenant URL", max_length=512, blank=True)
    secret_token_encrypted = models.TextField(blank=True, editable=False)
    authentication_method = models.CharField(
        "Authentication method", max_length=32, choices=AuthenticationMethod.choices, default=AuthenticationMethod.BEARER,
    )
    token_audience = models.CharField(
        "Audience", max_length=512, blank=True,
        help_text="The aud claim of the tokens the portal issues for this app: the value the target expects.",
    )
    oauth_token_url = models.CharField("Token endpoint URL", max_length=512, blank=True)
    oauth_client_id = models.CharField("Client ID", max_length=256, blank=True)
    oauth_client_secret_encrypted = models.TextField(blank=True, editable=False)
    oauth_scope = models.CharField("Scope", max_length=1024, blank=True)
    oauth_client_authentication = models.CharField(
        "Client authentication", max_length=32, choices=ClientAuthentication.choices, default=ClientAuthentication.BASIC,
    )
    # PEM; public, so stored as is. Added to the public CAs for this app's SCIM and token requests (scim/tls.py).
    ca_certificate = models.TextField("CA certificate", blank=True)
    entra_compatible = models.BooleanField(
        "Entra-compatible requests",
        default=False,
        help_text="Send requests as Entra does by default (\"False\" as a string, capitalised ops, "
        "Entra's group schema). Leave off for targets that follow RFC 7644 strictly.",
    )
    notification_email = models.EmailField("Notification Email", blank=True)
    notify_on_failure = models.BooleanField("Send an email notification when a failure occurs", default=False)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.ASSIGNED)
    provisioning_enabled = models.BooleanField("Provisioning Status", default=False)

    # Settings > Advanced
    provisioning_interval_minutes = models.PositiveIntegerField(
        "Provisioning interval (minutes)",
        default=default_interval,
        validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
        help_text="Time between the end of one cycle and the start of the next, from 5 minutes to 24 hours. "
        "Entra uses a fixed 40 minutes; incremental cycles that find no change cost nothing here, so a short "
        "interval is cheap.",
    )
    max_concurrent_requests = models.PositiveSmallIntegerField(
        "Concurrent requests to the target",
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(64)],
        help_text="How many SCIM requests may be in flight to this target at once, across all workers. More "
        "is faster until the target is saturated; lower it for targets that rate-limit or run on small servers.",
    )
    use_bulk = models.BooleanField(
        "Use SCIM bulk requests when the target offers them",
        default=True,
        help_text="When the target's /ServiceProviderConfig advertises bulk, creates and updates travel in "
        "POST /Bulk requests of many operations (each with its own log entry). Turn off for targets whose "
        "bulk endpoint misbehaves.",
    )

    # Accidental-deletion prevention, as Entra: at or over the threshold in one cycle, none of its disables
    # and deletes is sent until an admin allows them.
    prevent_accidental_deletions = models.BooleanField(
        "Prevent accidental deletions",
        default=True,
        help_text="Hold a cycle's disables and deletes when there are as many as the threshold, and wait for an "
        "administrator to allow or reject them.",
    )
    deletion_threshold = models.PositiveIntegerField(
        "Accidental deletion threshold",
        default=500,
        validators=[MinValueValidator(1)],
        help_text="Disables and deletes together, per cycle. At this many, none of them is sent.",
    )

    job_status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.NOT_CONFIGURED)
    next_cycle_at = models.DateTimeField(null=True, blank=True)
    # Advanced only when a cycle completes; incremental cycles read source changes since then.
    watermark = models.DateTimeField(null=True, blank=True)
    # Shared by every worker talking to this target: a 429 or 503 (Retry-After) holds all requests until then.
    sync_changes_immediately = models.BooleanField(
        "Sync changes immediately", default=True,
        help_text="Provision a change to a user or group within seconds (an incremental cycle of just the changes), "
        "without waiting for the next cycle.",
    )
    # engine/changes.py: a directory change committed; a change cycle is due from this time (None: nothing waiting).
    change_sync_due_at = models.DateTimeField(null=True, blank=True)
    throttled_until = models.DateTimeField(null=True, blank=True)
    # The target's /ServiceProviderConfig as last read (initial cycles read it again), so incremental
    # cycles need no request to know whether the target takes bulk requests.
    target_features = models.JSONField(default=dict, blank=True, editable=False)
    # The target's /Schemas and /ResourceTypes as Test Connection (or Refresh on the mapping page) last read
    # them (mapping_config.target_schema.discovery_document): the mapping editor's pick list and Save's rules.
    target_schema = models.JSONField(default=dict, blank=True, editable=False)
    target_schema_read_at = models.DateTimeField(null=True, blank=True, editable=False)
    # What the engine learned about the target from its answers (scim/quirks.py): the request shapes it takes,
    # the PATCH paths it refuses and the attributes it drops; shown on the Provisioning page, forgotten there.
    target_quirks = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def has_secret_token(self):
        return bool(self.secret_token_encrypted)

    def set_secret_token(self, token: str):
        self.secret_token_encrypted = secrets.encrypt(token) if token else ""

    def get_secret_token(self) -> str:
        return secrets.decrypt(self.secret_token_encrypted) if self.secret_token_encrypted else ""

    @property
    def has_oauth_client_secret(self):
        return bool(self.oauth_client_secret_encrypted)

    def set_oauth_client_secret(self, secret: str):
        self.oauth_client_secret_encrypted = secrets.encrypt(secret) if secret else ""

    def get_oauth_client_secret(self) -> str:
        return secrets.decrypt(self.oauth_client_secret_encrypted) if self.oauth_client_secret_encrypted else ""

    @property
    def has_credentials(self):
        """Whatever the authentication method needs is saved (what Start and on-demand require)."""
        method = self.AuthenticationMethod
        if self.authentication_method == method.PORTAL_JWT:
            return bool(self.token_audience)
        if self.authentication_method == method.OAUTH:
            return bool(self.oauth_token_url and self.oauth_client_id and self.oauth_client_secret_encrypted)
        return self.has_secret_token

    @property
    def missing_credentials(self) -> str:
        """What to enter, in the page's words, when has_credentials is False."""
        method = self.AuthenticationMethod
        if self.authentication_method == method.PORTAL_JWT:
            return "enter the Audience"
        if self.authentication_method == method.OAUTH:
            return "enter the Token endpoint URL, Client ID and Client secret"
        return "enter the Secret Token"

    def schedule_next_cycle(self, minutes):
        self.next_cycle_at = timezone.now() + timezone.timedelta(minutes=minutes)
