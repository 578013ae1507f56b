"""The REST API under /api/v1/, in Microsoft Graph's shape (servicePrincipals, synchronization jobs,
auditLogs/provisioning, users, groups), so a Graph script needs only a new base URL.

Endpoint modules are thin: fetch, call the domain (provisioning.engine, mapping_config, filters), serialise.
"""
