"""Every API call, recorded: one function, so a general audit log can be fed from here later."""

import logging

from provisioning.models import ApiCall, ApiToken

logger = logging.getLogger(__name__)


def record_call(request, response, *, at, duration_ms):
    token = getattr(request, "auth", None)
    token = token if isinstance(token, ApiToken) else None
    ApiCall.objects.create(
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
