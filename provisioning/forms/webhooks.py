"""A webhook endpoint of an application: where its events go, signed with the endpoint's secret."""

import httpx
from django import forms

from provisioning.models import WebhookEndpoint
from provisioning.scim import outbound
from provisioning.scim.tenant_url import without_userinfo


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=WebhookEndpoint.Event.choices, widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event to send to this endpoint."})
    # Write-only, as the Secret Token: blank keeps the saved one.
    secret = forms.CharField(
        required=False, strip=False, max_length=256,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Each delivery carries X-Portal-Signature: sha256=HMAC-SHA256(secret, body). Leave blank to keep the saved one.")

    class Meta:
        model = WebhookEndpoint
        fields = ["name", "url", "events", "format", "failure_threshold", "enabled"]
        error_messages = {
            "url": {"invalid": "URL is not a valid address: enter the endpoint's full https:// address, e.g. "
                               "https://hooks.slack.com/services/…"},
            "name": {"required": "Name is required: e.g. On-call channel."},
        }

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, ValueError):  # Django's URL check is looser than the HTTP client's
            raise forms.ValidationError("URL cannot be sent to: enter the endpoint's full https:// address, e.g. "
                                        "https://hooks.slack.com/services/…") from None
        if parsed.port is not None and not 1 <= parsed.port <= 65535:
            raise forms.ValidationError(f"URL's port {parsed.port} does not exist: ports go from 1 to 65535.")
        if parsed.scheme not in ("http", "https"):
            raise forms.ValidationError("URL must start with https:// (or http://): webhooks are sent as HTTP POST.")
        if parsed.userinfo:
            # Never show the password back: the field re-renders without it.
            self.data = self.data.copy()
            self.data[self.add_prefix("url")] = without_userinfo(url)
            raise forms.ValidationError("URL must not contain a user name or password (user:password@): put a shared "
                                        "secret in Secret instead, and check the X-Portal-Signature header.")
        refused = outbound.url_refusal(url)
        if refused:
            raise forms.ValidationError(refused.replace("The Tenant URL is refused", "This URL is refused", 1))
        return url

    def clean_secret(self):
        secret = self.cleaned_data["secret"]
        if secret and (secret != secret.strip() or any(c in secret for c in "\r\n\t")):
            raise forms.ValidationError("Secret must not start or end with spaces or contain line breaks: paste it again.")
        return secret

    def save(self, commit=True):
        endpoint = super().save(commit=False)
        if self.cleaned_data.get("secret"):
            endpoint.set_secret(self.cleaned_data["secret"])
        if commit:
            endpoint.save()
        return endpoint
