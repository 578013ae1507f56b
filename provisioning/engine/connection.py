"""Test Connection for an application: Entra's credential check against its saved or typed-in settings."""

from django.conf import settings

from provisioning.scim.connection import ConnectionResult, check_connection
from provisioning.secrets import SecretUnreadable


def test_connection(app, *, tenant_url=None, token=None) -> ConnectionResult:
    """Check tenant_url/token, falling back to the saved ones (Test Connection on an unsaved form)."""
    url = (tenant_url if tenant_url is not None else app.tenant_url) or ""
    if not token:
        try:
            token = app.get_secret_token()
        except SecretUnreadable as exc:
            return ConnectionResult(
                ok=False, message=str(exc), fix="Enter the Secret Token again and save.", code="SecretUnreadable",
                details=[], checked_url=url,
            )
    return check_connection(url, token or "", timeout=settings.SCIM_TIMEOUT_SECONDS)


# pytest would collect a module-level function named test_*: tell it this is not a test.
test_connection.__test__ = False
