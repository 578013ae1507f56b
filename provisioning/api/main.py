"""The NinjaAPI: token auth and throttling on every operation, Graph-shaped errors, the audit of each call.

The schema is at /api/v1/openapi.json and Swagger UI at /api/v1/docs, from ninja's own static files (ninja is
in INSTALLED_APPS, so the page loads them from this server, not a CDN).
"""

import time
import uuid
from functools import wraps

from django.http import HttpResponseNotAllowed, JsonResponse
from django.urls import path
from django.utils import timezone
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from provisioning.api import audit, directory, errors, jobs, logs, options
from provisioning.api.security import TokenAuth, TokenThrottle

api = NinjaAPI(
    title="Provisioning Portal API",
    version="1.0",
    description=(
        "Microsoft Graph's synchronization, provisioning-log and directory resources, so a Graph script needs only a "
        "new base URL. Authenticate with `Authorization: Bearer ppt_…`: an Administrator creates tokens on the API "
        "tokens page. A read-only token reads; writes need a token with the Administrator role. Errors have Graph's "
        'shape: `{"error": {"code", "message", "innerError": {"date", "request-id"}}}`.'
    ),
    urls_namespace="api",
    auth=TokenAuth(),
    throttle=[TokenThrottle()],
    docs=Swagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
errors.install(api)
api.add_decorator(options.checked(api), mode="operation")
api.add_router("", jobs.router)
api.add_router("", logs.router)
api.add_router("", directory.router)


def audited(view):
    """Give the request its request-id (in the answer's header and in Graph's innerError) and record the call."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        request.api_request_id = uuid.uuid4()
        at, started = timezone.now(), time.monotonic()
        if request.content_type == "application/json" and b"\\u0000" in request.body.lower():
            # PostgreSQL refuses NUL in text; refused here in words rather than as a database error.
            response = JsonResponse(errors.body(request, 400, errors.CODES[400], (
                "The request body contains a NUL character (\\u0000), which no property accepts. Remove it — it "
                "usually comes from pasting binary text — and send the request again.")), status=400)
        else:
            response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            response = _not_allowed(request, response)
        response = options.apply_select(request, response)
        response["request-id"] = str(request.api_request_id)
        audit.record_call(request, response, at=at, duration_ms=int((time.monotonic() - started) * 1000))
        return response

    # The API authenticates by token, not by the login session.
    wrapper.login_required = False
    return wrapper


def _not_allowed(request, response):
    allowed = response["Allow"]
    answer = JsonResponse(errors.body(request, 405, errors.CODES[405],
                                      f"{request.method} is not a method of {request.path}: use {allowed}."), status=405)
    answer["Allow"] = allowed
    return answer


def no_such_resource(request, rest):
    return JsonResponse(errors.body(request, 404, errors.CODES[404],
                                    f"There is no resource at {request.path}: the address may be mistyped. The API's "
                                    "resources are listed at /api/v1/docs."), status=404)


def urls():
    patterns, app_name, namespace = api.urls
    # Last: any other address under /api/v1/ answers in Graph's shape too, not with the portal's HTML 404 page.
    patterns = [*patterns, path("<path:rest>", no_such_resource, name="no-such-resource")]
    for pattern in patterns:
        pattern.callback = audited(pattern.callback)
    return patterns, app_name, namespace
