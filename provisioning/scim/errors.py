"""Typed SCIM errors, each with an Entra-style error code and a recommended fix for the provisioning logs.

Every error is built from what the target answered (status, SCIM Error body) or from why no answer came
(DNS, refused, TLS, timeout). Nothing here ever holds the request, its headers or the secret token: the
client redacts the token out of every server text before it reaches an error.
"""

from __future__ import annotations

import email.utils
import html
import json
import re
import time
from http import HTTPStatus

import httpx

from provisioning.scim.answers import clean_text

DETAIL_LIMIT = 300
REDACTED = "[redacted]"


class ScimError(Exception):
    """A SCIM request failed. `str()` is the one-line reason shown in the logs."""

    default_code = "SystemForCrossDomainIdentityManagementServiceIncompatible"
    default_fix = (
        "Check the target's own logs for this request. If every request fails, run Test Connection "
        "to check the Tenant URL and Secret Token."
    )

    def __init__(
        self,
        problem: str,
        *,
        method: str = "",
        url: str = "",
        path: str = "",
        status: int | None = None,
        scim_type: str | None = None,
        detail: str = "",
        code: str | None = None,
        recommended_fix: str | None = None,
    ):
        self.problem = problem
        self.method = method
        self.url = url
        self.path = path or url
        self.status = status
        self.scim_type = scim_type
        self.detail = detail
        self.code = code or self.default_code
        self.recommended_fix = recommended_fix or self.default_fix
        super().__init__(self._summary())

    def _summary(self) -> str:
        text = f"Failed: {self.method} {self.path} {self.problem}".replace("  ", " ")
        if self.scim_type:
            text += f" (scimType {self.scim_type})"
        if self.detail:
            text += f': "{self.detail}"'
        return text

    def __str__(self) -> str:
        return self._summary()

    def __reduce__(self):
        # Celery and the engine may pickle errors; keyword-only constructors need this to round-trip.
        return _rebuild, (type(self), self.__dict__.copy())


def _rebuild(cls, state):
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, error._summary())
    return error


class ScimAuthError(ScimError):
    """401 (token rejected) or 403 (token lacks permission)."""

    default_code = "Unauthorized"
    default_fix = (
        "The target rejected the Secret Token. Generate a new token in the target application, paste it under "
        "Admin Credentials > Secret Token, run Test Connection and restart provisioning."
    )

    def __init__(self, problem: str, *, realm: str | None = None, **kwargs):
        self.realm = realm
        if kwargs.get("status") == 403:
            kwargs.setdefault("code", "InsufficientRights")
            kwargs.setdefault(
                "recommended_fix",
                "The target accepted the Secret Token but does not allow this operation with it. Give the token "
                "(or the account it belongs to) permission to read, create, update and delete users and groups.",
            )
        super().__init__(problem, **kwargs)


class ScimNotFound(ScimError):
    default_code = "NotFound"
    default_fix = (
        "The target has no resource at this address: it may have been deleted in the target. If every request "
        "fails this way, the Tenant URL is wrong: run Test Connection."
    )


class ScimConflict(ScimError):
    default_code = "Conflict"
    default_fix = (
        "The target already holds an object with the same unique value (for example userName or displayName). "
        "Make the existing object match (add that attribute as a matching attribute) or map a unique value."
    )

    def __init__(self, problem: str, **kwargs):
        if kwargs.get("scim_type") == "uniqueness":
            kwargs.setdefault("code", "EntryConflict")
        super().__init__(problem, **kwargs)


# What to do about each RFC 7644 §3.12 scimType on a 400.
_BAD_REQUEST_FIXES = {
    "invalidFilter": "The target does not accept this filter. Use a matching attribute the target can filter on "
    "(userName or externalId are the safest).",
    "tooMany": "The target refuses to return that many results. Use a more specific matching attribute.",
    "uniqueness": "The value is already used in the target. Map a unique value or match the existing object.",
    "mutability": "The request changes an attribute the target treats as read-only. Remove that attribute's "
    "mapping or set it to apply 'Only during object creation'.",
    "invalidSyntax": "The target could not parse the request. Turn 'Entra-compatible requests' on or off to "
    "match what the target was built for.",
    "invalidPath": "The target does not know an attribute path in the request. Remove or rename the mapping "
    "whose target attribute the target does not support.",
    "noTarget": "The request updates a value the target does not hold yet (for example a work email). Turn off "
    "'Entra-compatible requests' so values are added rather than replaced.",
    "invalidValue": "A mapped value is missing, of the wrong type or not allowed by the target. Check the "
    "mapping named in the detail.",
    "invalidVers": "The target refused the request's version. Retry; if it persists, turn off ETag use.",
    "sensitive": "The request carried sensitive data the target will not accept in that place.",
}


# Fixes that name the Entra-compatible requests switch say which way to flip it for this app (a fix that says
# "turn it on" when it is on is wrong advice): each sentence as written here → (when it is on, when it is off).
ENTRA_SWITCH = "'Entra-compatible requests' (Provisioning > Settings)"
_BY_MODE = {
    "Turn 'Entra-compatible requests' on or off to match what the target was built for.": (
        f"This app sends Entra's request shapes ({ENTRA_SWITCH} is on): turn it off if the target follows RFC 7644.",
        f"This app sends RFC 7644 requests ({ENTRA_SWITCH} is off): turn it on if the target was built for Entra ID.",
    ),
    "Turn off 'Entra-compatible requests' so values are added rather than replaced.": (
        f"Turn off {ENTRA_SWITCH}, which is on, so that values are added rather than replaced.",
        f"{ENTRA_SWITCH} is already off: apply that mapping Only during object creation, or remove it if the target "
        "cannot take the value.",
    ),
    "or turn on 'Entra-compatible requests' if the target was built for Entra ID.": (
        f"or turn off {ENTRA_SWITCH}, which is on, if the target follows RFC 7644.",
        f"or turn on {ENTRA_SWITCH} if the target was built for Entra ID.",
    ),
    "some targets need Entra-compatible requests (under Provisioning > Settings) for it.": (
        f"this app already sends active as Entra does ({ENTRA_SWITCH} is on): try it off.",
        f"some targets need {ENTRA_SWITCH} on for it.",
    ),
}


def fix_for_mode(fix: str, entra_compatible: bool) -> str:
    """The fix with its advice about the Entra-compatible switch made right for the app's own setting."""
    for sentence, (when_on, when_off) in _BY_MODE.items():
        if sentence in fix:
            fix = fix.replace(sentence, when_on if entra_compatible else when_off)
    return fix


class ScimBadRequest(ScimError):
    default_code = "SystemForCrossDomainIdentityManagementBadRequest"
    default_fix = (
        "The target refused the request as invalid. Check the detail for the attribute it names and fix that "
        "mapping, or turn on 'Entra-compatible requests' if the target was built for Entra ID."
    )

    def __init__(self, problem: str, **kwargs):
        if kwargs.get("scim_type") in _BAD_REQUEST_FIXES:
            kwargs.setdefault("recommended_fix", _BAD_REQUEST_FIXES[kwargs["scim_type"]])
        super().__init__(problem, **kwargs)


class ScimRateLimited(ScimError):
    default_code = "TooManyRequests"

    def __init__(self, problem: str, *, retry_after: float | None = None, **kwargs):
        self.retry_after = retry_after
        wait = f"the {retry_after:g} seconds it asked for (Retry-After)" if retry_after is not None else "a growing pause"
        kwargs.setdefault(
            "recommended_fix",
            f"The target is throttling requests. Every request to it waited {wait} and this one was sent again "
            "a few times within the cycle; an object that still fails is retried in later cycles. If it keeps "
            "happening, lower Concurrent requests under Provisioning > Settings > Advanced, or ask the target's "
            "vendor to raise the rate limit for this token.",
        )
        super().__init__(problem, **kwargs)


class ScimServerError(ScimError):
    retry_after = None  # a 503 may carry Retry-After
    default_code = "InternalServerError"
    default_fix = (
        "The target failed while handling the request. It was sent again a few times within the cycle; an "
        "object that still fails is retried in later cycles. If it keeps failing, check the target's status "
        "and logs."
    )


class ScimProtocolError(ScimError):
    default_code = "SystemForCrossDomainIdentityManagementServiceIncompatible"
    default_fix = (
        "The target's answer is not what SCIM 2.0 (RFC 7644) requires. Check that the Tenant URL is the SCIM "
        "base address (not a web page or login page) and that the target supports this operation."
    )


_CONNECTION_CODES = {
    "dns": "NameResolutionFailure",
    "refused": "ConnectionRefused",
    "tls": "TlsHandshakeFailure",
    "timeout": "Timeout",
    "blocked": "OutboundAddressBlocked",
    "unusable": "UnusableResponse",
    "other": "ConnectionFailure",
}
_CONNECTION_FIXES = {
    "dns": "The Tenant URL's host name does not resolve. Check the spelling of the host in the Tenant URL.",
    "refused": "Nothing accepts connections at the Tenant URL's host and port. Check the port in the Tenant URL "
    "and that the target service is running.",
    "tls": "The secure connection to the target failed. Check that the target's certificate is valid, not "
    "expired, issued for the Tenant URL's host name and trusted, and that the URL's http/https is right.",
    "timeout": "The target did not answer in time. The request was sent again a few times within the cycle "
    "(a create only after checking that it had not been made); an object that still fails is retried in "
    "later cycles. If it keeps happening, check the target's health and the network to it.",
    "blocked": "The Tenant URL points at an address the portal never sends requests to (link-local or a cloud's "
    "metadata service), so the bearer token cannot leak there. Use the target's SCIM base address; an operator "
    "can change the rule with PORTAL_OUTBOUND_ALLOW / PORTAL_OUTBOUND_DENY (comma-separated CIDRs).",
    "unusable": "The target's answer was too large or not encoded as it said (scim/answers.py), so it was not used. If "
    "the target legitimately answers this large (a group with very many members), an operator can raise "
    "SCIM_MAX_RESPONSE_BYTES; otherwise check the target's health and ask its vendor why it answers this way.",
    "other": "The connection to the target failed. Check the Tenant URL and the network path to the target.",
}


class ScimConnectionError(ScimError):
    """No HTTP answer: `.reason` is one of "dns", "refused", "tls", "timeout", "blocked" (the outbound rule), "other";
    or "unusable": an answer came but could not be read within bounds (too large, a false Content-Encoding)."""

    def __init__(self, problem: str, *, reason: str = "other", **kwargs):
        self.reason = reason if reason in _CONNECTION_CODES else "other"
        kwargs.setdefault("code", _CONNECTION_CODES[self.reason])
        kwargs.setdefault("recommended_fix", _CONNECTION_FIXES[self.reason])
        super().__init__(problem, **kwargs)


# ---------------------------------------------------------------- what to do about an error

TRANSIENT = "transient"  # worth sending again in a moment: throttling, an overloaded or restarting target, no answer
PERMANENT = "permanent"  # this request will fail the same way until the data or the configuration changes
CREDENTIAL = "credential"  # the target refuses the token: every request fails; stop and quarantine
BROKEN = "broken"  # the target does not answer as a SCIM service (HTML, not JSON, a redirect, DNS, TLS)

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


def error_kind(exc: BaseException) -> str:
    """The one classification every part of the engine uses (DESIGN.md, Bad days)."""
    if isinstance(exc, ScimAuthError):
        return CREDENTIAL
    if isinstance(exc, ScimRateLimited):
        return TRANSIENT
    if isinstance(exc, ScimConnectionError):
        return TRANSIENT if exc.reason in ("timeout", "refused", "other") else BROKEN
    if isinstance(exc, ScimProtocolError):
        return BROKEN
    if isinstance(exc, ScimError) and exc.status in TRANSIENT_STATUSES:
        return TRANSIENT
    return PERMANENT


def is_transient(exc: BaseException) -> bool:
    return error_kind(exc) == TRANSIENT


def answer_lost(exc: BaseException) -> bool:
    """The request may have reached the target and been applied, but its answer did not arrive."""
    return isinstance(exc, ScimConnectionError) and exc.reason in ("timeout", "other", "unusable")


def wait_hint(exc: BaseException) -> float | None:
    """Seconds the target asked us to wait (Retry-After on a 429 or 503), or None."""
    return getattr(exc, "retry_after", None)


# ---------------------------------------------------------------- building errors from responses


def redact(text: str, secret: str) -> str:
    if secret and secret in text:
        text = text.replace(secret, REDACTED)
    return text


def truncate(text: str, limit: int = DETAIL_LIMIT) -> str:
    """One line of at most `limit` characters; every excerpt of a target's text passes here, so it is also
    made storable (no NUL, no lone surrogate)."""
    text = clean_text(" ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def looks_like_html(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "").lower()
    return "html" in content_type or response.text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))


def html_excerpt(markup: str) -> str:
    """The page title and visible text of an HTML page, for a one-line excerpt."""
    title = re.search(r"<title[^>]*>(.*?)</title>", markup, re.I | re.S)
    body = re.sub(r"<(script|style|head)\b.*?</\1\s*>", " ", markup, flags=re.I | re.S)
    body = html.unescape(re.sub(r"<[^>]+>", " ", body))
    text = " ".join(body.split())
    if title:
        heading = " ".join(html.unescape(title.group(1)).split())
        if heading and not text.startswith(heading):
            text = f"{heading} — {text}" if text else heading
    return text


def body_excerpt(response: httpx.Response, secret: str = "", limit: int = DETAIL_LIMIT) -> str:
    try:
        text = response.text
    except Exception:  # undecodable bytes: say so rather than fail while reporting a failure
        return f"<{len(response.content)} bytes of undecodable content>"
    text = html_excerpt(text) if looks_like_html(response) else text
    return truncate(redact(text, secret), limit)


def parse_error_body(response: httpx.Response, secret: str = "") -> tuple[str | None, str]:
    """(scimType, detail) from an error answer: SCIM Error bodies, SCIM 1.1 "Errors", OAuth-style or plain text."""
    try:
        data = response.json()
    except ValueError:
        return None, body_excerpt(response, secret)
    if not isinstance(data, dict):
        return None, truncate(redact(json.dumps(data), secret))
    scim_type = data.get("scimType")
    detail = data.get("detail")
    if detail is None:
        legacy = data.get("Errors")
        if isinstance(legacy, list) and legacy and isinstance(legacy[0], dict):
            detail = legacy[0].get("description") or legacy[0].get("message")
    if detail is None:
        detail = data.get("message") or data.get("error_description") or data.get("error")
    if detail is None:
        detail = json.dumps(data)
    if not isinstance(detail, str):
        detail = json.dumps(detail)
    return (str(scim_type) if scim_type else None), truncate(redact(detail, secret))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def bearer_realm(response: httpx.Response) -> str | None:
    match = re.search(r'realm="([^"]*)"', response.headers.get("www-authenticate", ""), re.I)
    return match.group(1) if match else None


def error_for_response(response: httpx.Response, *, method: str, url: str, path: str, secret: str) -> ScimError:
    """The typed error for a non-2xx answer."""
    status = response.status_code
    scim_type, detail = parse_error_body(response, secret)
    common = dict(method=method, url=url, path=path, status=status, scim_type=scim_type, detail=detail)
    problem = f"returned {status_text(status)}"
    if status in (401, 403):
        realm = bearer_realm(response)
        return ScimAuthError(problem, realm=realm, **common)
    if status == 404:
        return ScimNotFound(problem, **common)
    if status == 409:
        return ScimConflict(problem, **common)
    if status == 400:
        return ScimBadRequest(problem, **common)
    if status == 429:
        return ScimRateLimited(problem, retry_after=parse_retry_after(response.headers.get("retry-after")), **common)
    if status == 501:
        return ScimServerError(
            problem,
            code="NotImplemented",
            recommended_fix="The target does not implement this operation. Turn off the mapping or object type "
            "that needs it (for example group provisioning when PATCH is not supported).",
            **common,
        )
    if status >= 500:
        code = "ServiceUnavailable" if status == 503 else "InternalServerError"
        error = ScimServerError(problem, code=code, **common)
        error.retry_after = parse_retry_after(response.headers.get("retry-after"))
        return error
    if 300 <= status < 400:
        location = response.headers.get("location", "")
        where = f" to {truncate(redact(location.split('?')[0], secret), 200)}" if location else ""
        return ScimProtocolError(
            f"{problem}, a redirect{where}",
            recommended_fix="SCIM endpoints must answer directly, not redirect (often to a login page); SCIM requests "
            "do not follow redirects, so the request was not sent on. Use the final SCIM base address as the Tenant "
            "URL, and check that the target accepts bearer tokens.",
            **common,
        )
    codes = {405: "MethodNotAllowed", 412: "PreconditionFailed", 413: "RequestEntityTooLarge",
             415: "UnsupportedMediaType", 422: "UnprocessableEntity"}
    return ScimError(problem, code=codes.get(status, "SystemForCrossDomainIdentityManagementBadRequest"), **common)
