"""A small SCIM 2.0 (RFC 7644) client over one keep-alive httpx.Client.

It sends what the caller builds (the engine decides request shapes) and turns every answer that is not the
expected one into a typed ScimError. It never retries: the engine owns retries, backoff and escrow, using
ScimRateLimited.retry_after. The token lives only in the httpx client's headers; server texts are redacted
before they reach an error, and nothing logs headers.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import socket
import ssl
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import certifi
import httpx

from provisioning import request_metrics
from provisioning.scim import answers
from provisioning.scim.errors import (
    ScimAuthError,
    ScimConnectionError,
    ScimError,
    ScimProtocolError,
    ScimRateLimited,
    body_excerpt,
    error_for_response,
    redact,
    status_text,
    truncate,
)
from provisioning.scim.auth import Authenticator, StaticBearer, TokenEndpointError, credential_error
from provisioning.scim.outbound import OutboundRefused, SettingProblem, guarded_transport, url_refusal
from provisioning.scim.tenant_url import tenant_url_problem, token_problem, without_userinfo
from provisioning.scim.traffic import Traffic, shown_headers

logger = logging.getLogger(__name__)

SCIM_MEDIA_TYPE = "application/scim+json"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
USER_AGENT = "Provisioning-Portal (SCIM 2.0 client)"
# PATCH answered 200 with an empty body: applied or not, the target does not say.
UNCONFIRMED = type("Unconfirmed", (), {"__repr__": lambda self: "UNCONFIRMED", "__bool__": lambda self: False})()
# Guards against servers that ignore startIndex and return the same page forever.
MAX_PAGES = 1000
# Ids a target assigns are stored (export state, listings and log entries hold up to 256 characters) and sent
# back in URLs; no real target's are anywhere near this long.
MAX_ID_LENGTH = 256


@dataclass(frozen=True)
class ServiceProviderConfig:
    """What the target says it supports (RFC 7643 §5). `discovered` is False when it has no such endpoint."""

    patch: bool = True
    filter: bool = True
    bulk: bool = False
    etag: bool = False
    sort: bool = False
    change_password: bool = False
    filter_max_results: int | None = None
    bulk_max_operations: int | None = None
    bulk_max_payload_size: int | None = None
    discovered: bool = True

    @classmethod
    def from_json(cls, data: dict) -> ServiceProviderConfig:
        def feature(name):
            value = ci_get(data, name)
            return value if isinstance(value, dict) else {}

        def supported(name):
            return _truthy(ci_get(feature(name), "supported"))

        def number(name, key):
            value = ci_get(feature(name), key)
            try:
                return int(value) if value is not None and not isinstance(value, bool) else None
            except (TypeError, ValueError):
                return None

        return cls(
            patch=supported("patch"),
            filter=supported("filter"),
            bulk=supported("bulk"),
            etag=supported("etag"),
            sort=supported("sort"),
            change_password=supported("changePassword"),
            filter_max_results=number("filter", "maxResults"),
            bulk_max_operations=number("bulk", "maxOperations"),
            bulk_max_payload_size=number("bulk", "maxPayloadSize"),
        )

    @classmethod
    def assumed(cls) -> ServiceProviderConfig:
        # No /ServiceProviderConfig: assume what Entra requires of every target (PATCH and eq filters).
        return cls(discovered=False)

    def describe(self) -> str:
        features = []
        if self.patch:
            features.append("PATCH")
        if self.filter:
            limit = f" (max {self.filter_max_results} results)" if self.filter_max_results else ""
            features.append(f"filter{limit}")
        if self.bulk:
            features.append("bulk")
        if self.etag:
            features.append("ETag")
        if self.sort:
            features.append("sort")
        if self.change_password:
            features.append("change password")
        return ", ".join(features) or "none"


def ci_get(data: dict, name: str, default=None):
    """RFC 7643 §2.1: attribute names are case-insensitive, and some targets do send "resources"."""
    if name in data:
        return data[name]
    lowered = name.lower()
    for key, value in data.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return default


def _truthy(value) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def filter_eq(attribute: str, value: Any) -> str:
    """`attribute eq "value"` with the value as a JSON literal, which is what RFC 7644 §3.4.2.2 specifies
    (so `"` becomes `\\"` and `\\` becomes `\\\\`); booleans, numbers and null stay unquoted."""
    if not isinstance(attribute, str) or not attribute.strip() or attribute != attribute.strip():
        raise ValueError(f"A filter attribute must be a non-empty attribute path, got {attribute!r}")
    return f"{attribute} eq {json.dumps(value, ensure_ascii=False)}"


@functools.cache
def _default_ssl_context():
    # Loading the CA bundle costs ~60 ms; one shared context keeps on-demand provisioning fast.
    return ssl.create_default_context(cafile=certifi.where())


class ScimClient:
    """One target: `ScimClient(tenant_url, token)`, used as a context manager or closed with .close()."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 15.0, transport: httpx.BaseTransport | None = None,
                 max_connections: int = 8, auth: Authenticator | None = None, ssl_context: ssl.SSLContext | None = None):
        """`auth` (scim/auth.py) replaces `token` for a portal-issued JWT or OAuth client credentials;
        `ssl_context` replaces the public CAs (an app's own CA certificate, scim/tls.py)."""
        problem = tenant_url_problem(base_url)
        if problem:
            raise ScimConnectionError(
                "could not be sent: " + problem,
                reason="other",
                url=redact(without_userinfo(str(base_url)), token or ""),
                code="InvalidTenantUrl",
                recommended_fix="Enter the target's SCIM base address under Admin Credentials > Tenant URL, "
                "for example https://scim.example.com/scim/v2.",
            )
        refusal = url_refusal(base_url)
        if refusal:
            raise ScimConnectionError("was not sent: " + refusal, reason="blocked", url=without_userinfo(base_url))
        problem = token_problem(token) if auth is None else None
        if problem:
            raise ScimAuthError(
                "not sent: " + problem,
                url=without_userinfo(base_url),
                recommended_fix="Paste the target's bearer token under Admin Credentials > Secret Token.",
            )
        # A trailing slash would give ".../v2//Users", which many targets answer with 404.
        self.base_url = base_url.strip().rstrip("/")
        self.timeout = timeout
        self._auth = auth or StaticBearer(token)
        self.ssl_context = ssl_context
        self._lock = threading.Lock()
        self._recording = threading.local()  # the Traffic this thread's requests belong to (traffic.py)
        self._requests_sent = 0
        self._spc: ServiceProviderConfig | None = None
        # Authorization is added per request (scim/auth.py): a portal JWT is signed again before it expires, and an
        # OAuth access token is fetched again after a 401.
        self._headers = {
            "Accept": SCIM_MEDIA_TYPE,
            "Content-Type": SCIM_MEDIA_TYPE,
            "User-Agent": USER_AGENT,
        }
        self._shown_headers = shown_headers(self._headers)
        self._timeout = httpx.Timeout(timeout).as_dict()
        # Bounds of every answer (scim/answers.py): its size before and after decompression, and the total
        # time one request may take, however slowly the target sends.
        self.max_response_bytes = answers.max_response_bytes()
        self.deadline = answers.deadline_seconds()
        # Requests go straight to httpx's transport (one keep-alive connection per concurrent request; a
        # cycle's threads share it): httpx.Client would add cookie, auth and redirect handling that SCIM calls
        # never use, and a fifth more CPU per request (0.73 → 0.58 ms measured against scim2-server). Redirects
        # are not followed: the transport never does. Every new connection passes the outbound rule
        # (scim/outbound.py) after DNS resolution.
        self._transport = transport or guarded_transport(
            verify=ssl_context or _default_ssl_context(),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    def __repr__(self):
        return f"<ScimClient {self.base_url}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self._transport.close()

    @property
    def _token(self) -> str:
        """The credential last sent: redacted from every text stored or shown."""
        return self._auth.secret

    @property
    def requests_sent(self) -> int:
        return self._requests_sent

    @contextlib.contextmanager
    def recording(self, traffic: Traffic | None):
        """Requests sent by this thread inside the block are recorded in `traffic` (one object's log entry)."""
        previous = getattr(self._recording, "traffic", None)
        self._recording.traffic = traffic
        try:
            yield traffic
        finally:
            self._recording.traffic = previous

    def record_operation(self, traffic: Traffic, operation: dict, answer, *, error: str = ""):
        """One /Bulk operation's share of the request, in the traffic of the object it belongs to."""
        traffic.record_operation(self.base_url, operation, answer, error=error, secret=self._token)

    # ------------------------------------------------------------------ operations

    def service_provider_config(self) -> ServiceProviderConfig:
        """What the target publishes at /ServiceProviderConfig, read once per client.

        The endpoint is optional in practice (Entra never reads it), so an answer that is not a usable
        config (404, 501, an HTML catch-all page, a 500 on an unknown route) gives `assumed()`. Only what
        would fail every other request too (no connection, 401, 429) is raised."""
        if self._spc is None:
            path = "/ServiceProviderConfig"
            try:
                data = self._json(self.send("GET", path), "GET", path)
            except (ScimConnectionError, ScimRateLimited):
                raise
            except ScimError as exc:
                if exc.status == 401:
                    raise
                logger.debug("No usable ServiceProviderConfig at %s: %s", self.base_url, exc)
                data = None
            self._spc = ServiceProviderConfig.from_json(data) if isinstance(data, dict) else ServiceProviderConfig.assumed()
        return self._spc

    def query(self, resource_type: str, filter: str, *, excluded_attributes=None) -> list[dict]:
        """Every resource matching `filter`, following pages when the target paginates."""
        path = f"/{_resource_type(resource_type)}"
        params = {"filter": filter}
        if excluded_attributes:
            params["excludedAttributes"] = _attribute_list(excluded_attributes)
        resources: list[dict] = []
        seen_first_ids: set = set()
        for _ in range(MAX_PAGES):
            if resources:
                params["startIndex"] = str(len(resources) + 1)
            page, total = self._list_response(self.send("GET", path, params=params), path)
            if not page and not resources and total:
                # Taken as "no match", this answer would make a duplicate of what the target says it holds.
                raise self._protocol_error("GET", path, f"returned a ListResponse with totalResults {total} but no "
                                           "Resources: the answer contradicts itself", status=200)
            first_id = page[0].get("id") if page else None
            if first_id is not None and first_id in seen_first_ids:
                break  # the target ignores startIndex
            seen_first_ids.add(first_id)
            resources.extend(page)
            if not page or total is None or len(resources) >= total:
                break
        return resources

    def list_page(self, resource_type: str, start_index: int, count: int, *, excluded_attributes=None) -> tuple[list[dict], int | None]:
        """One page of every resource of a type (RFC 7644 §3.4.2.4): (resources, totalResults)."""
        path = f"/{_resource_type(resource_type)}"
        params = {"startIndex": str(start_index), "count": str(count)}
        if excluded_attributes:
            params["excludedAttributes"] = _attribute_list(excluded_attributes)
        return self._list_response(self.send("GET", path, params=params), path)

    def bulk(self, operations: list[dict]) -> list[dict]:
        """POST /Bulk (RFC 7644 §3.7) with failOnErrors unset, so one failed operation fails only itself.

        Returns the response's Operations in request order (matched by bulkId); an operation the target
        left out of its answer comes back as {"status": None}."""
        path = "/Bulk"
        body = {"schemas": [BULK_REQUEST], "Operations": operations}
        data = self._json(self.send("POST", path, body=body), "POST", path)
        answered = ci_get(data, "Operations") if isinstance(data, dict) else None
        if not isinstance(answered, list):
            raise self._protocol_error("POST", path, "returned a BulkResponse without Operations",
                                       detail=truncate(redact(json.dumps(data), self._token), 200))
        by_id = {ci_get(op, "bulkId"): op for op in answered if isinstance(op, dict)}
        return [by_id.get(op.get("bulkId"), {"status": None}) for op in operations]

    def bulk_result(self, operation: dict, answer: dict) -> dict | None:
        """One bulk operation's answer as create/patch/delete would return it, or its typed error."""
        method, path = operation["method"], operation["path"]
        status = ci_get(answer, "status")
        if isinstance(status, dict):  # SCIM drafts wrote {"code": "201"}
            status = ci_get(status, "code")
        try:
            code = int(str(status).split()[0]) if status is not None else None
        except ValueError:
            code = None
        if code is None:
            raise self._protocol_error(method, path, "got no result for this operation in the BulkResponse")
        if code >= 300:
            body = ci_get(answer, "response")
            response = httpx.Response(code, json=body if isinstance(body, dict) else {})
            raise error_for_response(response, method=method, url=self.base_url + path, path=path, secret=self._token)
        if method == "DELETE":
            return None
        resource = ci_get(answer, "response")
        if isinstance(resource, dict) and ci_get(resource, "id") not in (None, ""):
            resource = self._with_id(resource, method, path)
            if method == "PATCH":  # about the object the operation named, or it did not happen to that one
                resource = self._same_resource(resource, unquote(path.rsplit("/", 1)[-1]), method, path)
            return resource
        if method == "PATCH":
            return None  # a bulk result carries a status and a location, not the resource (RFC 7644 §3.7.3): applied
        location = ci_get(answer, "location") or ""
        resource_id = unquote(str(location).rstrip("/").rsplit("/", 1)[-1]) if location else ""
        if method == "POST" and not resource_id:
            raise self._protocol_error(method, path, "answered a bulk create without the new resource's location")
        return self._with_id({"id": resource_id}, method, path) if resource_id else None

    def find_by(self, resource_type: str, attribute: str, value: Any, *, excluded_attributes=None) -> list[dict]:
        return self.query(resource_type, filter_eq(attribute, value), excluded_attributes=excluded_attributes)

    def get(self, resource_type: str, resource_id, *, excluded_attributes=None) -> dict:
        path = _resource_path(resource_type, resource_id)
        params = {"excludedAttributes": _attribute_list(excluded_attributes)} if excluded_attributes else None
        return self._same_resource(self._resource(self.send("GET", path, params=params), "GET", path), resource_id, "GET", path)

    def create(self, resource_type: str, resource: dict) -> dict:
        path = f"/{_resource_type(resource_type)}"
        # 201 is what RFC 7644 §3.3 requires; 200 with the created resource is accepted from lenient targets.
        return self._resource(self.send("POST", path, body=resource), "POST", path)

    def patch(self, resource_type: str, resource_id, operations: list[dict]) -> dict | None:
        """None for 204 No Content (RFC 7644 §3.5.2: applied); the resource for a 200 with it; UNCONFIRMED for
        a 200 with no body, which says nothing about what the target did (the caller reads it back)."""
        path = _resource_path(resource_type, resource_id)
        body = {"schemas": [PATCH_OP], "Operations": list(operations)}
        response = self._ok(self.send("PATCH", path, body=body), "PATCH", path)
        if response.status_code == 204:
            return None
        if not response.content.strip():
            return UNCONFIRMED
        return self._same_resource(self._resource(response, "PATCH", path), resource_id, "PATCH", path)

    def delete(self, resource_type: str, resource_id) -> None:
        path = _resource_path(resource_type, resource_id)
        self._ok(self.send("DELETE", path), "DELETE", path)

    # ------------------------------------------------------------------ transport

    def send(self, method: str, path: str, *, params: dict | None = None, body: Any = None) -> httpx.Response:
        """One request to base_url + path. Returns any HTTP answer (the caller judges the status);
        raises ScimConnectionError when no answer comes, or none that can be used (reason "unusable": too large,
        falsely encoded). Test Connection uses this directly."""
        url = self.base_url + path
        content = json.dumps(body).encode() if body is not None else None
        with self._lock:
            self._requests_sent += 1
        started = time.perf_counter()
        traffic = getattr(self._recording, "traffic", None)
        try:
            request, response = self._exchange(method, url, params, content)
            if response.status_code == 401 and self._auth.after_unauthorized(request.headers["Authorization"]):
                # OAuth: the access token was revoked or expired early; one retry with a new one (scim/auth.py).
                response.close()
                request, response = self._exchange(method, url, params, content)
        except answers.AnswerRefused as exc:
            response = exc.response
            request = response.request
            request_metrics.record(self.base_url, method, response.status_code, time.perf_counter() - started)
            error = ScimConnectionError(f"got an answer that cannot be used: the target {exc}", reason="unusable",
                                        method=method, url=url, path=path, status=response.status_code)
            if traffic is not None:
                traffic.record(method=method, url=request.url, status=response.status_code,
                               elapsed_ms=(time.perf_counter() - started) * 1000, request_headers=self._shown_headers,
                               request_body=content, response_headers=shown_headers(response.headers), error=str(error),
                               secret=self._token)
            raise error from None
        except TokenEndpointError as exc:
            error = credential_error(exc, method=method, url=url, path=path)
            if traffic is not None:
                traffic.record(method=method, url=url, elapsed_ms=0, request_headers=self._shown_headers,
                               request_body=content, error=str(error), secret=self._token)
            raise error from exc
        except httpx.TransportError as exc:
            request = httpx.Request(method, url, params=params)
            request_metrics.record(self.base_url, method, None, time.perf_counter() - started)
            error = self._connection_error(exc, method, path)
            if traffic is not None:
                traffic.record(method=method, url=request.url, elapsed_ms=(time.perf_counter() - started) * 1000,
                               request_headers=self._shown_headers, request_body=content, error=str(error), secret=self._token)
            raise error from exc
        except (OutboundRefused, SettingProblem) as exc:
            request = httpx.Request(method, url, params=params)
            error = ScimConnectionError(f"was not sent: {exc}", reason="blocked", method=method, url=url, path=path)
            if traffic is not None:
                traffic.record(method=method, url=request.url, elapsed_ms=0, request_headers=self._shown_headers,
                               request_body=content, error=str(error), secret=self._token)
            raise error from exc
        elapsed = (time.perf_counter() - started) * 1000
        request_metrics.record(self.base_url, method, response.status_code, elapsed / 1000)
        if traffic is not None:
            traffic.record(method=method, url=request.url, status=response.status_code, elapsed_ms=elapsed,
                           request_headers=self._shown_headers, request_body=content,
                           response_headers=shown_headers(response.received_headers), response_body=response.content,
                           secret=self._token)
        logger.debug("SCIM %s %s -> %s in %.0f ms", method, path, response.status_code, elapsed)
        return response

    def _exchange(self, method, url, params, content) -> tuple[httpx.Request, httpx.Response]:
        headers = {**self._headers, "Authorization": self._auth.authorization()}
        request = httpx.Request(method, url, params=params, headers=headers, content=content,
                                extensions={"timeout": self._timeout})
        # The answer is read within the request's total deadline and size cap (scim/answers.py).
        with answers.deadline(self.deadline):
            response = self._transport.handle_request(request)
            response.request = request  # as httpx.Client sets it (redirect Location joins read it)
            try:
                response = answers.read_answer(response, limit=self.max_response_bytes)
            except answers.AnswerRefused as exc:
                exc.response = response
                raise
        return request, response

    def _connection_error(self, exc: httpx.TransportError, method: str, path: str) -> ScimConnectionError:
        target = httpx.URL(self.base_url)
        host = target.host
        address = f"{host}:{target.port or (443 if target.scheme == 'https' else 80)}"
        reason, cause = classify_transport_error(exc)
        if reason == "timeout" and answers.deadline.passed():
            problem = (f"got no complete answer from {host} within {self.deadline:g} seconds, the most one request may "
                       f"take ({answers.DEADLINE_SETTING}); the target kept sending too slowly")
        elif reason == "timeout":
            problem = f"got no answer from {host} within {self.timeout:g} seconds"
        elif reason == "dns":
            problem = f"could not be sent: the host name {host} does not resolve"
        elif reason == "refused":
            problem = f"could not be sent: nothing accepts connections at {address} (connection refused)"
        elif reason == "tls":
            problem = f"could not be sent: the TLS handshake with {host} failed ({tls_reason(cause)})"
        else:
            problem = f"could not be sent: {truncate(redact(str(exc) or type(exc).__name__, self._token), 200)}"
        return ScimConnectionError(problem, reason=reason, method=method, url=self.base_url + path, path=path)

    # ------------------------------------------------------------------ reading answers

    def _ok(self, response: httpx.Response, method: str, path: str) -> httpx.Response:
        if not response.is_success:
            raise error_for_response(response, method=method, url=self.base_url + path, path=path, secret=self._token)
        return response

    def _json(self, response: httpx.Response, method: str, path: str) -> Any:
        self._ok(response, method, path)
        try:
            return response.json()
        except answers.UnusableJson as exc:
            raise self._protocol_error(method, path, f"returned {status_text(response.status_code)} with {exc}",
                                       status=response.status_code) from None
        except ValueError:
            status = status_text(response.status_code)
            if not response.content.strip():
                raise self._protocol_error(method, path, f"returned {status} with an empty body")
            content_type = response.headers.get("content-type", "").split(";")[0] or "no Content-Type"
            raise self._protocol_error(
                method,
                path,
                f"returned {status} with a body that is not JSON ({content_type})",
                detail=body_excerpt(response, self._token, 200),
                status=response.status_code,
            )

    def _resource(self, response: httpx.Response, method: str, path: str) -> dict:
        data = self._json(response, method, path)
        if not isinstance(data, dict):
            raise self._protocol_error(
                method, path, "returned JSON that is not a SCIM resource object", status=response.status_code
            )
        return self._with_id(data, method, path, status=response.status_code)

    def _with_id(self, data: dict, method: str, path: str, *, status=None) -> dict:
        """The resource with its id checked and under the key "id" (RFC 7643 §2.1: names are case-insensitive)."""
        value = ci_get(data, "id")
        if value in (None, ""):
            raise self._protocol_error(
                method, path, "returned a resource without an id", status=status,
                detail=truncate(redact(json.dumps(data, default=str), self._token), 200),
            )
        checked, problem = checked_id(value)
        if problem:
            raise self._protocol_error(method, path, f"returned a resource whose id {problem}", status=status)
        kind = wrong_kind(data, path)
        if kind:
            raise self._protocol_error(method, path, f"returned {kind} (id {truncate(checked, 80)})", status=status)
        if data.get("id") != checked:
            data = {**data, "id": checked}
        return data

    def _same_resource(self, data: dict, resource_id, method: str, path: str) -> dict:
        """An answer about one resource must be about the one asked for: another id means the target acted on (or
        returned) something else, and taking it as success would record a change that did not happen."""
        if str(data["id"]).casefold() != str(resource_id).casefold():
            raise ScimProtocolError(
                f"returned another resource (id {truncate(data['id'], 80)}) instead of {truncate(str(resource_id), 80)}",
                method=method, url=self.base_url + path, path=path,
                recommended_fix="The target answered about a different object than the one in the request, so the "
                "request cannot be taken as done. Check in the target whether the object was changed; report the "
                "target's behaviour to its vendor.",
            )
        return data

    def _list_response(self, response: httpx.Response, path: str) -> tuple[list[dict], int | None]:
        data = self._json(response, "GET", path)
        try:
            resources, total = read_list_response(data)
        except NotAListResponse as exc:
            excerpt = truncate(redact(json.dumps(data), self._token), 200)
            raise self._protocol_error("GET", path, f"returned {exc}", status=response.status_code, detail=excerpt)
        # Every listed resource is a candidate for matching: an unusable id fails the answer, not later a PATCH.
        return [self._with_id(resource, "GET", path, status=response.status_code) for resource in resources], total

    def _protocol_error(self, method, path, problem, *, detail="", status=None) -> ScimProtocolError:
        url = self.base_url + path
        return ScimProtocolError(problem, method=method, url=url, path=path, status=status, detail=detail)


class NotAListResponse(ValueError):
    """str() says what the answer is instead, e.g. "a single resource instead of a ListResponse"."""


def read_list_response(data: Any) -> tuple[list[dict], int | None]:
    """(Resources, totalResults) of a ListResponse (RFC 7644 §3.4.2), read leniently: names in any case,
    no `schemas`, a numeric string total, Resources left out when there are none."""
    if isinstance(data, list):
        raise NotAListResponse("a JSON array instead of a ListResponse")
    if not isinstance(data, dict):
        kind = {type(None): "null", str: "string", bool: "boolean", int: "number", float: "number"}.get(type(data), type(data).__name__)
        raise NotAListResponse(f"JSON {kind} instead of a ListResponse")
    schemas = ci_get(data, "schemas") or []
    total = ci_get(data, "totalResults")
    resources = ci_get(data, "Resources")
    if not (isinstance(schemas, list) and LIST_RESPONSE in schemas) and total is None and resources is None:
        raise NotAListResponse(f"{'a single resource' if 'id' in data else 'a JSON object'} instead of a ListResponse")
    if total is not None:
        if isinstance(total, bool) or not (isinstance(total, int) or (isinstance(total, str) and total.isdigit())):
            raise NotAListResponse(f"a ListResponse whose totalResults is {total!r}")
        total = int(total)
    if resources is None:
        if total:  # Resources may be left out only when there are none
            raise NotAListResponse(f"a ListResponse with totalResults {total} but no Resources")
        per_page = ci_get(data, "itemsPerPage")
        if isinstance(per_page, int) and not isinstance(per_page, bool) and per_page > 0:
            raise NotAListResponse(f"a ListResponse with itemsPerPage {per_page} but no Resources")
        resources = []
    if not isinstance(resources, list) or not all(isinstance(item, dict) for item in resources):
        raise NotAListResponse("a ListResponse whose Resources is not a list of objects")
    return resources, total


def classify_transport_error(exc: BaseException) -> tuple[str, BaseException]:
    """("timeout" | "tls" | "dns" | "refused" | "other", the innermost cause that decided it)."""
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", exc
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return "tls", current
        if isinstance(current, socket.gaierror):
            return "dns", current
        if isinstance(current, ConnectionRefusedError):
            return "refused", current
        current = current.__cause__ or current.__context__
    text = str(exc)
    if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
        return "dns", exc
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text:
        return "tls", exc
    if "Connection refused" in text:
        return "refused", exc
    return "other", exc


def tls_reason(cause: BaseException) -> str:
    if isinstance(cause, ssl.SSLCertVerificationError) and cause.verify_message:
        return f"certificate not trusted: {cause.verify_message}"
    text = str(getattr(cause, "reason", None) or cause)
    if "WRONG_VERSION_NUMBER" in text or "record layer" in text.lower() or "packet length too long" in text:
        return "the server does not speak TLS on this port: try http:// instead of https://, or the TLS port"
    return truncate(text, 160)


# The resource kinds a resource says it is (RFC 7643 §3: meta.resourceType, and the core schema in schemas).
_KINDS = {"Users": ("User", "urn:ietf:params:scim:schemas:core:2.0:User"),
          "Groups": ("Group", "urn:ietf:params:scim:schemas:core:2.0:Group")}


def wrong_kind(resource: dict, path: str) -> str:
    """"a Group" when a resource answered for /Users… says it is a Group (by meta.resourceType or its core
    schema), else "". A resource that says nothing about its kind is taken as asked."""
    endpoint = path.lstrip("/").split("/", 1)[0]
    if endpoint not in _KINDS:
        return ""
    expected, expected_schema = _KINDS[endpoint]
    meta = ci_get(resource, "meta")
    declared = ci_get(meta, "resourceType") if isinstance(meta, dict) else None
    if isinstance(declared, str) and declared.strip() and declared.strip().lower() != expected.lower():
        return f"a {truncate(declared, 40)} (meta.resourceType) where a {expected} was asked for"
    schemas = ci_get(resource, "schemas")
    if isinstance(schemas, list):
        lowered = {s.lower() for s in schemas if isinstance(s, str)}
        for other, (name, schema) in _KINDS.items():
            if other != endpoint and schema.lower() in lowered and expected_schema.lower() not in lowered:
                return f"a {name} (its schemas name {schema}) where a {expected} was asked for"
    return ""


def _resource_type(resource_type: str) -> str:
    if not isinstance(resource_type, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", resource_type):
        raise ValueError(f"resource_type must be an endpoint name such as 'Users' or 'Groups', got {resource_type!r}")
    return resource_type


def checked_id(value) -> tuple[str, str]:
    """(the id as text, "") or ("", why it is unusable): ids are non-empty strings (RFC 7643 §3.1); a whole
    number is taken as its digits, anything else (an object, a list, true, 1.5) is refused."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        kind = {dict: "an object", list: "a list", bool: "a boolean", float: "a number with a fraction"}.get(type(value), type(value).__name__)
        return "", f"is {kind}, not a string (RFC 7643 §3.1: an id is a string)"
    text = str(value)
    if not text.strip():
        return "", "is only spaces"
    if len(text) > MAX_ID_LENGTH:
        return "", f"is {len(text):,} characters long (at most {MAX_ID_LENGTH:,} are accepted)"
    # U+FFFD: answers.py replaced a NUL or a lone surrogate there; the target's real id is not that text.
    if "\ufffd" in text or any(unicodedata.category(ch) in ("Cc", "Cs") for ch in text):
        return "", "contains control characters or text that is not valid Unicode"
    return text, ""


def _resource_path(resource_type: str, resource_id) -> str:
    if resource_id is None or str(resource_id) == "":
        raise ValueError("resource_id must not be empty")
    segment = quote(str(resource_id), safe="")
    if set(segment) == {"."}:
        # "." and ".." would be removed as dot segments ("/Users/.." is the service root): send them encoded.
        segment = segment.replace(".", "%2E")
    return f"/{_resource_type(resource_type)}/{segment}"


def _attribute_list(attributes) -> str:
    return attributes if isinstance(attributes, str) else ",".join(attributes)



