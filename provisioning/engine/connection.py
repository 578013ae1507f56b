"""Test Connection for an application: Entra's credential check against its saved or typed-in settings,
and the compliance checklist of what the app's own mappings need from the target."""

from django.conf import settings
from django.utils import timezone

from provisioning.engine.credentials import client_options, ssl_context
from provisioning.scim.filters import matching_filter
from provisioning.models import Application, ObjectMapping
from provisioning.scim.compliance import MatchingAttribute, Target, probe_value
from provisioning.scim.connection import ConnectionResult, check_connection
from provisioning.secrets import SecretUnreadable


def test_connection(app, *, tenant_url=None, token=None) -> ConnectionResult:
    """Check tenant_url/token, falling back to the saved ones. Cycles and on-demand runs use this: an OAuth
    access token comes from the workers' shared cache, as their requests' will."""
    url, options, unreadable = _credentials(app, tenant_url, token, shared_cache=True)
    if unreadable:
        return unreadable
    return check_connection(url, timeout=settings.SCIM_TIMEOUT_SECONDS, **options)


# pytest would collect a module-level function named test_*: tell it this is not a test.
test_connection.__test__ = False


def check_target(app, *, tenant_url=None, token=None, write=False) -> ConnectionResult:
    """Test Connection with the compliance checklist for this app's mappings (and, with write, a test user).

    The target's schema it reads is stored on the app when the tested Tenant URL is the saved one, so the
    mapping editor's pick list and Save's rules follow the target."""
    url, options, unreadable = _credentials(app, tenant_url, token)
    if unreadable:
        return unreadable
    result = check_connection(url, timeout=settings.SCIM_TIMEOUT_SECONDS, compliance=compliance_target(app),
                              write=write, **options)
    if result.target_schema is not None and _same_url(url, app.tenant_url):
        app.target_schema, app.target_schema_read_at = result.target_schema, timezone.now()
        Application.objects.filter(pk=app.pk).update(target_schema=app.target_schema,
                                                     target_schema_read_at=app.target_schema_read_at)
    return result


def compliance_target(app) -> Target:
    """What the app's mappings ask of the target, from one query for the mappings and their attributes."""
    matching, user_attributes, groups_enabled = [], [], False
    for mapping in app.object_mappings.prefetch_related("attribute_mappings"):
        resource = "Groups" if mapping.object_type == ObjectMapping.ObjectType.GROUP else "Users"
        if resource == "Groups":
            groups_enabled = mapping.enabled
        for attribute in mapping.attribute_mappings.all():
            if attribute.is_matching:
                matching.append(MatchingAttribute(resource, attribute.target_attribute, attribute.matching_precedence or 1,
                                                  matching_filter(attribute.target_attribute, probe_value())))
            if resource == "Users" and attribute.mapping_type != attribute.MappingType.NONE:
                user_attributes.append(attribute.target_attribute)
    return Target(matching=matching, groups_enabled=groups_enabled, user_attributes=user_attributes,
                  entra_compatible=app.entra_compatible)


def _credentials(app, tenant_url, token, *, shared_cache=False):
    """(url, check_connection's credential options, or a ConnectionResult when a stored secret is unreadable).

    Without shared_cache (the Test Connection button) the OAuth token is asked for afresh, not the workers'
    cached one, so the test says whether the client credentials as typed work now."""
    url = (tenant_url if tenant_url is not None else app.tenant_url) or ""
    if token and app.authentication_method == Application.AuthenticationMethod.BEARER:
        return url, {"token": token, "auth": None, "ssl_context": ssl_context(app), "ca_certificate": app.ca_certificate}, None
    try:
        options = client_options(app, shared_cache=shared_cache)
    except SecretUnreadable as exc:
        oauth = app.authentication_method == Application.AuthenticationMethod.OAUTH
        message = str(exc).replace("Secret Token", "Client secret") if oauth else str(exc)
        return url, {}, ConnectionResult(
            ok=False, message=message, fix=f"Enter the {'Client secret' if oauth else 'Secret Token'} again and save.",
            code="SecretUnreadable", details=[], checked_url=url,
        )
    return url, {**options, "ca_certificate": app.ca_certificate}, None


def _same_url(tested, saved):
    return bool(saved) and tested.strip().rstrip("/") == saved.strip().rstrip("/")
