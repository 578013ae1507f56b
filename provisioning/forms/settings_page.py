"""The Provisioning page (Entra's classic flow): mode, admin credentials, settings; and Test Connection."""

import ipaddress

import httpx
from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from provisioning.models import Application
from provisioning.scim import tls
from provisioning.scim.outbound import url_refusal
from provisioning.scim.tenant_url import URL_MAX_LENGTH, tenant_url_problem, token_problem, without_userinfo

TENANT_URL_EXAMPLE = "https://app.example.com/scim/v2"
TENANT_URL_HINT = f"Enter your app's SCIM base URL, e.g. {TENANT_URL_EXAMPLE}"
MANUAL_REFUSED = "To stop provisioning, set Provisioning Status to Off"
# Settings: accidental-deletion prevention; Advanced: how often and how fast the engine works on this app.
DELETIONS = ["prevent_accidental_deletions", "deletion_threshold"]
ADVANCED = ["sync_changes_immediately", "provisioning_interval_minutes", "max_concurrent_requests", "use_bulk"]
# Admin Credentials beyond the Tenant URL: the authentication method's fields and the CA certificate.
CREDENTIALS = ["authentication_method", "secret_token", "token_audience", "oauth_token_url", "oauth_client_id",
               "oauth_client_secret", "oauth_scope", "oauth_client_authentication", "ca_certificate"]
Method = Application.AuthenticationMethod
TOKEN_URL_EXAMPLE = "https://login.example.com/oauth2/v2.0/token"


def token_url_problem(url: str) -> str | None:
    """Why the Token endpoint URL cannot be used (the client secret is sent there), or None."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        return f"Token endpoint URL is not a valid URL ({exc}): enter the authorization server's token address, e.g. {TOKEN_URL_EXAMPLE}"
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return f"Token endpoint URL must start with https:// and name a host, e.g. {TOKEN_URL_EXAMPLE}"
    if parsed.userinfo:
        return ("Token endpoint URL must not contain a user name or password: enter the client's ID and secret in "
                "Client ID and Client secret instead.")
    if parsed.scheme == "http" and not _loopback(parsed.host):
        return ("Token endpoint URL must use https://: the client secret is sent there, and OAuth 2.0 requires TLS "
                "for it (RFC 6749 §3.2). Plain http is accepted only for a token endpoint on this machine.")
    refusal = url_refusal(url)
    if refusal:
        return refusal.replace("The Tenant URL is refused", "Token endpoint URL is refused")
    return None


def secret_problem(secret: str, field: str) -> str | None:
    """A pasted secret is refused, not trimmed: spaces, line breaks or a masked placeholder mean a bad paste."""
    if secret != secret.strip():
        return f"{field} starts or ends with a space or line break: paste only the secret itself."
    if any(ch.isspace() for ch in secret):
        return f"{field} contains a space or line break: paste the secret on one line, exactly as issued."
    if set(secret) <= set("*•●·x") and len(secret) >= 4:
        return f"{field} looks like a masked placeholder ({secret[:8]}…): paste the secret itself, not the dots."
    return None


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ProvisioningSettingsForm(forms.ModelForm):
    """Everything the Save button stores. Provisioning Status is not a model field here on purpose:
    the view switches it through the engine (start_provisioning / stop_provisioning), which also
    queues or stops cycles."""

    provisioning_mode = forms.ChoiceField(
        label="Provisioning Mode", choices=Application.Mode.choices, widget=forms.RadioSelect
    )
    # Checked with the same rules as Test Connection and the SCIM client (scim/tenant_url.py), not the model's
    # URLValidator: that one refuses single-label hosts such as http://scim-target/scim/v2.
    tenant_url = forms.CharField(
        label="Tenant URL",
        required=False,
        strip=True,
        max_length=URL_MAX_LENGTH,
        error_messages={"max_length": "Tenant URL is too long: use at most %(limit_value)d characters."},
    )
    # Write-only: never rendered back (render_value=False), blank keeps the saved token. Not stripped: a
    # token pasted with a space or line break is refused with the reason, not changed silently.
    secret_token = forms.CharField(
        label="Secret Token",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    authentication_method = forms.ChoiceField(
        label="Authentication method", choices=Method.choices, widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Authentication method is not one of the choices: choose Bearer token, "
                        "Token issued by this portal, or OAuth 2.0 client credentials grant."},
    )
    oauth_token_url = forms.CharField(label="Token endpoint URL", required=False, strip=True, max_length=512,
                                      error_messages={"max_length": "Token endpoint URL is too long: use at most %(limit_value)d characters."})
    # Write-only, as the Secret Token.
    oauth_client_secret = forms.CharField(
        label="Client secret", required=False, strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    scope = forms.ChoiceField(label="Scope", choices=Application.Scope.choices)
    provisioning_status = forms.ChoiceField(
        label="Provisioning Status", choices=[("on", "On"), ("off", "Off")], widget=forms.RadioSelect
    )

    # The page's order, so the error summary lists problems top to bottom.
    field_order = [
        "provisioning_mode", "tenant_url", *CREDENTIALS, "entra_compatible",
        "notification_email", "notify_on_failure", "scope", "provisioning_status", *DELETIONS, *ADVANCED,
    ]

    class Meta:
        model = Application
        fields = ["provisioning_mode", "authentication_method", "token_audience", "oauth_client_id", "oauth_scope",
                  "oauth_client_authentication", "ca_certificate", "entra_compatible", "notification_email", "notify_on_failure", "scope",
                  *DELETIONS, *ADVANCED]
        error_messages = {
            "notification_email": {
                "invalid": "Notification Email is not a valid email address: enter one address, e.g. oncall@contoso.com",
            },
            "provisioning_interval_minutes": {
                "invalid": "Provisioning interval must be a whole number of minutes, from 5 to 1440 (24 hours).",
                "min_value": "Provisioning interval must be at least 5 minutes: shorter would start cycles back to back.",
                "max_value": "Provisioning interval can be at most 1440 minutes (24 hours), so that changes reach the target daily.",
                "required": "Provisioning interval is required: enter the minutes between cycles, e.g. 40 as Entra uses.",
            },
            "deletion_threshold": {
                "invalid": "Accidental deletion threshold must be a whole number of disables and deletes, e.g. 500.",
                "min_value": "Accidental deletion threshold must be at least 1; to turn the protection off, clear "
                             "Prevent accidental deletions instead.",
            },
            "max_concurrent_requests": {
                "invalid": "Concurrent requests must be a whole number from 1 to 64.",
                "min_value": "Concurrent requests must be at least 1.",
                "max_value": "Concurrent requests can be at most 64: beyond that targets refuse or slow down, and workers gain nothing.",
                "required": "Concurrent requests is required: 8 suits most targets.",
            },
        }

    def __init__(self, *args, instance, **kwargs):
        # What is saved now, before the posted values are copied onto the instance.
        self.saved_mode = instance.provisioning_mode
        self.saved_enabled = instance.provisioning_enabled
        self.has_saved_token = instance.has_secret_token
        self.has_saved_client_secret = instance.has_oauth_client_secret
        self.saved_ca = tls.describe(instance.ca_certificate)
        initial = kwargs.setdefault("initial", {})
        initial["provisioning_status"] = "on" if instance.provisioning_enabled else "off"
        initial.setdefault("tenant_url", instance.tenant_url)
        initial.setdefault("oauth_token_url", instance.oauth_token_url)
        super().__init__(*args, instance=instance, **kwargs)
        self.url_problem = None
        if self.is_bound and "tenant_url" in self.data:
            # Decided on the URL as typed; the page then shows it back without any user:password@.
            typed = self.data.get("tenant_url") or ""
            self.url_problem = (tenant_url_problem(typed) or url_refusal(typed)) if typed.strip() else None
            if without_userinfo(typed) != typed.strip():
                self.data = self.data.copy()
                self.data["tenant_url"] = without_userinfo(typed)
        for name in ("provisioning_interval_minutes", "max_concurrent_requests", "deletion_threshold"):
            field = self.fields[name]
            # Left out of a post (an older form, a script): keep what is saved rather than refuse the Save.
            field.required = False
            # The model's validators give the range; the browser shows it too.
            for validator in Application._meta.get_field(name).validators:
                if isinstance(validator, MinValueValidator):
                    field.min_value = validator.limit_value
                elif isinstance(validator, MaxValueValidator):
                    field.max_value = validator.limit_value
        self.fields["provisioning_mode"].error_messages["required"] = (
            "Provisioning Mode is required: choose Manual or Automatic."
        )
        if self.is_bound and "authentication_method" not in self.data:
            # A post from before the method existed (or a script): keep the saved method rather than refuse.
            self.data = self.data.copy()
            self.data["authentication_method"] = instance.authentication_method
            self.data.setdefault("oauth_client_authentication", instance.oauth_client_authentication)
        self.fields["oauth_client_authentication"].required = False
        self.fields["token_audience"].strip = True
        self.fields["provisioning_status"].error_messages["required"] = (
            "Provisioning Status is required: choose On or Off."
        )
        self.fields["scope"].error_messages["invalid_choice"] = (
            "Scope is not one of the choices: choose “Sync only assigned users and groups” or “Sync all users and groups”."
        )

    @property
    def extra_sections(self):
        """(heading, anchor, fields) of the Settings' sub-sections, in page order."""
        return [("Prevent accidental deletions", "deletions", [self[name] for name in DELETIONS]),
                ("Advanced", "advanced", [self[name] for name in ADVANCED])]

    @property
    def advanced_errors(self):
        return any(self[name].errors for name in (*DELETIONS, *ADVANCED))

    @property
    def manual_locked(self):
        """Entra: once Automatic is saved there is no way back to Manual; turning provisioning Off is the way to stop."""
        return self.saved_mode == Application.Mode.AUTOMATIC

    @property
    def enable_requested(self):
        return self.cleaned_data.get("provisioning_status") == "on"

    def clean_tenant_url(self):
        url = self.cleaned_data.get("tenant_url", "")
        if self.url_problem:
            # A problem that already names the URL to use ("… without /Users: use https://…") needs no example.
            hint = "" if " use " in self.url_problem else f" {TENANT_URL_HINT}"
            raise forms.ValidationError(self.url_problem + hint)
        return url

    def clean_secret_token(self):
        token = self.cleaned_data.get("secret_token", "")
        problem = token_problem(token) if token else None
        if problem:
            raise forms.ValidationError(problem)
        return token

    def clean_oauth_token_url(self):
        url = self.cleaned_data.get("oauth_token_url", "")
        problem = token_url_problem(url) if url else None
        if problem:
            raise forms.ValidationError(problem)
        return url

    def clean_oauth_client_secret(self):
        secret = self.cleaned_data.get("oauth_client_secret", "")
        problem = secret_problem(secret, "Client secret") if secret else None
        if problem:
            raise forms.ValidationError(problem)
        return secret

    def clean_oauth_client_authentication(self):
        return self.cleaned_data.get("oauth_client_authentication") or self.instance.oauth_client_authentication

    def clean_token_audience(self):
        audience = self.cleaned_data.get("token_audience", "")
        if any(ch.isspace() for ch in audience):
            raise forms.ValidationError("Audience contains a space or line break: enter the one value the target "
                                        "expects in the aud claim, e.g. https://scim.example.com or its client ID.")
        return audience

    def clean_ca_certificate(self):
        pem = (self.cleaned_data.get("ca_certificate") or "").strip()
        problem = tls.ca_problem(pem)
        if problem:
            raise forms.ValidationError(problem)
        return pem + "\n" if pem else ""

    @property
    def ca_details(self):
        """Subject, issuer, expiry of the CA certificate as saved (or as typed, once valid)."""
        if self.is_bound and not self.errors.get("ca_certificate") and hasattr(self, "cleaned_data"):
            return tls.describe(self.cleaned_data.get("ca_certificate", ""))
        return self.saved_ca

    def clean_provisioning_interval_minutes(self):
        value = self.cleaned_data.get("provisioning_interval_minutes")
        return self.instance.provisioning_interval_minutes if value is None else value

    def clean_deletion_threshold(self):
        value = self.cleaned_data.get("deletion_threshold")
        return self.instance.deletion_threshold if value is None else value

    def clean_max_concurrent_requests(self):
        value = self.cleaned_data.get("max_concurrent_requests")
        return self.instance.max_concurrent_requests if value is None else value

    def clean(self):
        cleaned = super().clean()
        mode = cleaned.get("provisioning_mode")
        if mode == Application.Mode.MANUAL and self.manual_locked:
            self.add_error(
                "provisioning_mode",
                f"Provisioning Mode cannot go back to Manual once Automatic has been saved. {MANUAL_REFUSED}.",
            )
        if mode == Application.Mode.AUTOMATIC:
            if not cleaned.get("tenant_url") and "tenant_url" not in self.errors:
                self.add_error(
                    "tenant_url",
                    "Tenant URL is required for Automatic provisioning: enter your app's SCIM base URL, "
                    f"e.g. {TENANT_URL_EXAMPLE}",
                )
            self._require_credentials(cleaned)
        if cleaned.get("notify_on_failure") and not cleaned.get("notification_email") and "notification_email" not in self.errors:
            self.add_error(
                "notification_email",
                "Notification Email is required when “Send an email notification when a failure occurs” is on: "
                "enter the address that should get failure alerts, or clear the checkbox.",
            )
        if cleaned.get("provisioning_status") == "on" and mode != Application.Mode.AUTOMATIC and mode:
            self.add_error(
                "provisioning_status",
                "Provisioning Status can be On only in Automatic mode: set Provisioning Mode to Automatic and "
                "enter the Admin Credentials, or leave Provisioning Status Off.",
            )
        return cleaned

    def _require_credentials(self, cleaned):
        """What the chosen authentication method needs, each message naming the field to fill."""
        method = cleaned.get("authentication_method")
        if method == Method.BEARER and not cleaned.get("secret_token") and not self.has_saved_token:
            self.add_error("secret_token", "Secret Token is required for Automatic provisioning: enter the bearer token your "
                           "app issued for provisioning. (Or choose another Authentication method.)")
        if method == Method.PORTAL_JWT:
            if cleaned.get("secret_token"):
                self.add_error("secret_token", "Secret Token is not used when the portal issues the token: leave it "
                               "blank, or choose Bearer token as the Authentication method.")
            if not cleaned.get("token_audience") and "token_audience" not in self.errors:
                self.add_error("token_audience", "Audience is required when the portal issues the token: enter the "
                               "aud value the target validates, e.g. https://scim.example.com.")
        if method == Method.OAUTH:
            if not cleaned.get("oauth_token_url") and "oauth_token_url" not in self.errors:
                self.add_error("oauth_token_url", "Token endpoint URL is required for the client credentials grant: "
                               f"enter the authorization server's token address, e.g. {TOKEN_URL_EXAMPLE}")
            if not cleaned.get("oauth_client_id"):
                self.add_error("oauth_client_id", "Client ID is required for the client credentials grant: enter "
                               "the ID of the client registered for provisioning at the authorization server.")
            if not cleaned.get("oauth_client_secret") and not self.has_saved_client_secret and "oauth_client_secret" not in self.errors:
                self.add_error("oauth_client_secret", "Client secret is required for the client credentials grant: "
                               "enter the secret issued with the Client ID.")

    def save(self, commit=True):
        app = super().save(commit=False)
        app.tenant_url = self.cleaned_data.get("tenant_url", "")
        app.oauth_token_url = self.cleaned_data.get("oauth_token_url", "")
        if self.cleaned_data.get("secret_token"):
            app.set_secret_token(self.cleaned_data["secret_token"])
        if self.cleaned_data.get("oauth_client_secret"):
            app.set_oauth_client_secret(self.cleaned_data["oauth_client_secret"])
        if commit:
            app.save()
        return app


class TestConnectionForm(forms.Form):
    """The Tenant URL and Secret Token as typed (unsaved); a blank token means the saved one."""

    __test__ = False  # not a pytest test class, despite the name

    # A CharField, not a URLField: the connection check explains a malformed URL better than "invalid".
    tenant_url = forms.CharField(
        label="Tenant URL",
        max_length=512,
        strip=True,
        error_messages={
            "required": f"Tenant URL is required to test the connection: enter your app's SCIM base URL, e.g. {TENANT_URL_EXAMPLE}",
            "max_length": "Tenant URL is too long: use at most %(limit_value)d characters.",
        },
    )
    secret_token = forms.CharField(label="Secret Token", required=False, strip=False)
    # The other credentials as typed; a field left out of the post means the saved value.
    authentication_method = forms.ChoiceField(label="Authentication method", choices=Method.choices, required=False)
    token_audience = forms.CharField(label="Audience", required=False, max_length=512)
    oauth_token_url = forms.CharField(label="Token endpoint URL", required=False, max_length=512)
    oauth_client_id = forms.CharField(label="Client ID", required=False, max_length=256)
    oauth_client_secret = forms.CharField(label="Client secret", required=False, strip=False)
    oauth_scope = forms.CharField(label="Scope", required=False, max_length=1024)
    oauth_client_authentication = forms.ChoiceField(choices=Application.ClientAuthentication.choices, required=False)
    ca_certificate = forms.CharField(label="CA certificate", required=False)
    # The second button: also create, read back, patch and delete a throw-away user.
    write_test = forms.BooleanField(required=False)

    OVERRIDES = ["authentication_method", "token_audience", "oauth_token_url", "oauth_client_id", "oauth_scope",
                 "oauth_client_authentication", "ca_certificate"]

    def __init__(self, *args, app, **kwargs):
        self.app = app
        self.has_saved_token = app.has_secret_token
        super().__init__(*args, **kwargs)

    def clean_oauth_token_url(self):
        url = self.cleaned_data["oauth_token_url"]
        problem = token_url_problem(url) if url else None
        if problem:
            raise forms.ValidationError(problem)
        return url

    def clean_oauth_client_secret(self):
        secret = self.cleaned_data["oauth_client_secret"]
        problem = secret_problem(secret, "Client secret") if secret else None
        if problem:
            raise forms.ValidationError(problem)
        return secret

    def clean_ca_certificate(self):
        pem = self.cleaned_data["ca_certificate"].strip()
        problem = tls.ca_problem(pem)
        if problem:
            raise forms.ValidationError(problem)
        return pem

    def clean(self):
        cleaned = super().clean()
        method = cleaned.get("authentication_method") if self.data.get("authentication_method") else self.app.authentication_method
        if method == Method.BEARER and not cleaned.get("secret_token") and not self.has_saved_token \
                and "secret_token" not in self.errors:
            self.add_error("secret_token", "Secret Token is required to test the connection: enter the bearer "
                           "token your app issued for provisioning.")
        return cleaned

    def draft(self):
        """The app as typed (not saved): the settings Test Connection uses."""
        import copy

        app = copy.copy(self.app)
        for name in self.OVERRIDES:
            if name in self.data:
                setattr(app, name, self.cleaned_data.get(name) or getattr(Application(), name))
        if self.cleaned_data.get("oauth_client_secret"):
            app.set_oauth_client_secret(self.cleaned_data["oauth_client_secret"])
        return app
