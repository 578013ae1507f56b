"""SCIM 2.0 client (plain Python + httpx, no Django): see client.py for requests, errors.py for failures,
connection.py for the Test Connection check."""

from provisioning.scim.client import ScimClient, ServiceProviderConfig, filter_eq
from provisioning.scim.errors import (
    ScimAuthError,
    ScimBadRequest,
    ScimConflict,
    ScimConnectionError,
    ScimError,
    ScimNotFound,
    ScimProtocolError,
    ScimRateLimited,
    ScimServerError,
)

__all__ = [
    "ScimClient",
    "ServiceProviderConfig",
    "filter_eq",
    "ScimError",
    "ScimAuthError",
    "ScimBadRequest",
    "ScimConflict",
    "ScimConnectionError",
    "ScimNotFound",
    "ScimProtocolError",
    "ScimRateLimited",
    "ScimServerError",
]
