"""Every API call, recorded: one function, so a general audit log can be fed from here later."""

import logging
from datetime import timedelta

from django.conf import settings

from provisioning.models import ApiCall, ApiToken

logger = logging.getLogger(__name__)
# Older records are deleted once every this many calls (an indexed range delete), so the table stays bounded
# without a scheduled job.
PRUNE_EVERY = 1000


def record_call(request, response, *, at, duration_ms):
    token = getattr(request, "auth", None)
    token = token if isinstance(token, ApiToken) else None
    call = ApiCall.objects.create(
        at=at,
        token=token,
        token_name=token.name if token else "",
        method=request.method[:8],
        path=request.path[:512],
        query=request.META.get("QUERY_STRING", "")[:1024],
        status_code=response.status_code,
        duration_ms=duration_ms,
        request_id=request.api_request_id,
        remote_addr=(request.META.get("REMOTE_ADDR") or "")[:45],
    )
    if token and request.method not in ("GET", "HEAD", "OPTIONS") and response.status_code < 400:
        logger.info("API %s %s by token '%s' (%s): %s", request.method, request.path, token.name, token.prefix,
                    response.status_code)
    if call.pk % PRUNE_EVERY == 0:
        prune(at)


def prune(now):
    """Delete the records older than PORTAL_API_CALL_RETENTION_DAYS; returns how many."""
    deleted, _ = ApiCall.objects.filter(at__lt=now - timedelta(days=settings.PORTAL_API_CALL_RETENTION_DAYS)).delete()
    return deleted
