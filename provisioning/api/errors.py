"""Errors in Graph's shape: {"error": {"code", "message", "details"?, "innerError": {"date", "request-id"}}}.

Every 4xx the API answers goes through here, so a script sees one shape whatever went wrong, and the message
uses the words the pages use for the same mistake.
"""

import logging

from django.http import Http404
from django.http.request import RawPostDataException
from django.utils import timezone
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

logger = logging.getLogger(__name__)

# Graph's codes for each status.
CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "Authorization_RequestDenied",
    404: "Request_ResourceNotFound",
    405: "Request_BadRequest",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
}


class ApiError(HttpError):
    """An answer other than success, with Graph's code and, for several problems, details."""

    def __init__(self, status_code, message, *, code=None, details=None, headers=None):
        super().__init__(status_code, message)
        self.code = code or CODES.get(status_code, "BadRequest")
        self.details = details or []
        self.headers = headers or {}


def not_found(message):
    return ApiError(404, message)


def body(request, status, code, message, details=()):
    error = {
        "code": code,
        "message": message,
        "innerError": {
            "date": timezone.now().replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            "request-id": str(getattr(request, "api_request_id", "")),
        },
    }
    if details:
        error["details"] = list(details)
    return {"error": error}


def _where(loc):
    # ("body", "payload", "parameters", 0, "subjects") → parameters[0].subjects; the wrapper names are noise.
    parts = [p for p in loc[1:] if p not in ("payload", "body")] if loc and loc[0] == "body" else list(loc[1:] or loc)
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or (loc[0] if loc else "request")


def _validation_message(error):
    kind, msg = error.get("type", ""), error.get("msg", "")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a property the portal knows: remove it"
    return msg[0].lower() + msg[1:] if msg else "is not valid"


def install(api):
    """Graph-shaped handlers for everything ninja raises, and for the portal's own ApiError."""

    def respond(request, status, code, message, details=(), headers=None):
        response = api.create_response(request, body(request, status, code, message, details), status=status)
        for name, value in (headers or {}).items():
            response[name] = value
        return response

    @api.exception_handler(ApiError)
    def api_error(request, exc):
        return respond(request, exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @api.exception_handler(Throttled)
    def throttled(request, exc):
        wait = max(1, int(round(exc.wait or 1)))
        return respond(request, 429, CODES[429],
                       f"Too many requests with this token: wait {wait} seconds, then send the request again "
                       "(the Retry-After header says when).", headers={"Retry-After": str(wait)})

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        message = exc.message if exc.message != "Unauthorized" else (
            "Send an API token in the Authorization header ('Authorization: Bearer ppt_…'). An Administrator creates "
            "tokens on the API tokens page.")
        return respond(request, 401, CODES[401], message, headers={"WWW-Authenticate": 'Bearer realm="api"'})

    @api.exception_handler(HttpError)
    def http_error(request, exc):
        return respond(request, exc.status_code, CODES.get(exc.status_code, "BadRequest"), str(exc))

    @api.exception_handler(ValidationError)
    def invalid(request, exc):
        details = [
            {"code": "ValidationError", "target": _where(e.get("loc", ())), "message": f"{_where(e.get('loc', ()))} {_validation_message(e)}"}
            for e in exc.errors
        ]
        summary = "; ".join(d["message"] for d in details[:5])
        return respond(request, 400, CODES[400], f"The request is not valid: {summary}.", details)

    @api.exception_handler(Http404)
    def missing(request, exc):
        return respond(request, 404, CODES[404], str(exc) or "This resource doesn't exist: the address may be mistyped, or it has been deleted.")

    @api.exception_handler(RawPostDataException)
    def form_body(request, exc):
        # The body came as a form (multipart), which the portal's middleware already read: the API takes JSON.
        return respond(request, 400, CODES[400], "Send the request body as JSON, with Content-Type: application/json.")

    @api.exception_handler(Exception)
    def crashed(request, exc):
        logger.exception("API request %s %s failed (request-id %s)", request.method, request.path, getattr(request, "api_request_id", ""))
        return respond(request, 500, CODES[500],
                       "The portal failed to answer this request. It was logged with the request-id below: give it to "
                       "whoever runs the portal.")
