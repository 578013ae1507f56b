"""Test Connection, as Entra does it, with a specific message and fix for every way it can fail.

The check is Entra's: `GET {tenant}/Users?filter=userName eq "<random GUID>"` with the bearer token must
answer 200 with an empty ListResponse. On failure it spends a few cheap extra requests to say *why*: is
the SCIM endpoint elsewhere (404 → "Did you mean …/scim/v2?"), or is it there but unable to filter?

Trailing slash: warned about and normalised, never failed. The client strips it for every request too,
so the check tests exactly what provisioning will send, and the admin learns the canonical form.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from dataclasses import dataclass, field, replace

import httpx

from provisioning.scim.client import (
    NotAListResponse,
    ScimClient,
    ci_get,
    filter_eq,
    read_list_response,
    classify_transport_error,
    tls_reason,
)
from provisioning.scim import tls
from provisioning.scim.answers import DEADLINE_SETTING, UnusableJson
from provisioning.scim.auth import Authenticator, ClientCredentials, PortalJwt, TokenEndpointError, bearer_error
from provisioning.scim.compliance import Target, run_checks
from provisioning.scim.errors import (
    ScimConnectionError,
    ScimError,
    bearer_realm,
    body_excerpt,
    looks_like_html,
    parse_error_body,
    parse_retry_after,
    redact,
    status_text,
    truncate,
)
from provisioning.scim.outbound import url_refusal
from provisioning.scim.tenant_url import tenant_url_problem, token_problem, without_userinfo

SUCCESS_MESSAGE = "The supplied credentials are authorized to enable provisioning"
SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
INCOMPATIBLE = "SystemForCrossDomainIdentityManagementServiceIncompatible"
# Probes only look for a SCIM endpoint nearby; they should not make a failing check slow.
PROBE_TIMEOUT = 5.0

URL_EXAMPLE = "for example https://scim.example.com/scim/v2"
_BLOCKED_FIX = (
    "Use the target's SCIM base address. Link-local and cloud-metadata addresses are refused so that the bearer "
    "token never reaches them; an operator who really runs a target there sets PORTAL_OUTBOUND_ALLOW "
    "(comma-separated CIDRs), and PORTAL_OUTBOUND_DENY refuses more."
)
FILTER_FIX = (
    "Provisioning matches users with 'userName eq \"value\"' filters and expects 200 with an empty "
    "ListResponse when nothing matches (RFC 7644 §3.4.2). Ask the target's vendor to support this; "
    "without it users cannot be matched."
)


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    message: str
    fix: str
    code: str
    details: list[tuple[str, str]]
    checked_url: str
    # Things that work but should be fixed (a trailing slash, plain http, no Groups endpoint).
    warnings: tuple[str, ...] = field(default=())
    # A 429 or 503's Retry-After, in seconds: how long the target asked every request to wait.
    retry_after: float | None = None
    # The compliance checklist (scim.compliance.Check lines) when one was asked for, and what it read.
    checks: tuple = ()
    target_schema: dict | None = None


def check_connection(tenant_url: str, token: str = "", *, timeout: float = 15.0, transport=None,
                     compliance: Target | None = None, write: bool = False, auth: Authenticator | None = None,
                     ssl_context=None, ca_certificate: str = "") -> ConnectionResult:
    """Entra's check; with `compliance`, also the checklist of what provisioning needs from the target
    (and with `write`, the create → read → patch → delete test, run only when the connection works).

    `auth` replaces `token` for the portal-issued JWT and OAuth client credentials (scim/auth.py), each with
    its own messages; `ca_certificate` (PEM) is the app's CA, trusted besides the public ones and named in
    TLS failures."""
    url = (tenant_url or "").strip()
    problem = tenant_url_problem(url)
    if problem:
        return _invalid_url(url, problem, token)
    if ca_certificate.strip() and ssl_context is None:
        ssl_context = tls.ssl_context(ca_certificate.strip())
    problem = token_problem(token) if auth is None else None
    if problem:
        return _failure(
            problem, "Paste the bearer token from the target application under Secret Token, then test again.",
            "InvalidSecretToken" if (token or "").strip() else "MissingSecretToken", [], redact(without_userinfo(url), token or ""),
        )
    refusal = url_refusal(url)
    if refusal:
        return _failure(refusal, _BLOCKED_FIX, "OutboundAddressBlocked", [], redact(without_userinfo(url), token))
    warnings = _url_warnings(url)
    if isinstance(auth, ClientCredentials):
        try:
            auth.authorization()  # first, so a refused client is told apart from a refused token
        except TokenEndpointError as exc:
            return _token_endpoint_failure(exc, auth, redact(without_userinfo(url), token))
    with ScimClient(url, token, timeout=timeout, transport=transport, auth=auth, ssl_context=ssl_context) as client:
        check = _Check(client, token, timeout, transport, warnings, auth=auth, ca_certificate=ca_certificate)
        result = check.run()
        if compliance is None:
            return result
        report = run_checks(client, token or client._token, compliance, write=write and result.ok, first=check.first)
        return replace(result, checks=tuple(report.checks), target_schema=report.schema)


class _Check:
    """One run of the check; holds what every message needs (client, URL, timings)."""

    def __init__(self, client: ScimClient, token: str, timeout: float, transport, warnings: list[str], *,
                 auth=None, ca_certificate=""):
        self.client = client
        self.base = client.base_url
        self.given_token = token
        self.auth = auth
        self.ca_certificate = ca_certificate
        self.timeout = timeout
        self.transport = transport
        self.warnings = warnings
        self.params = {"filter": filter_eq("userName", str(uuid.uuid4()))}
        self.checked_url = str(httpx.URL(self.base + "/Users", params=self.params))
        self.first = None  # (request text, answer or ScimConnectionError): the checklist's first line

    @property
    def token(self) -> str:
        """The credential sent (the Secret Token, the portal's JWT or the OAuth access token): redacted everywhere."""
        return self.client._token

    def run(self) -> ConnectionResult:
        started = time.perf_counter()
        try:
            response = self.client.send("GET", "/Users", params=self.params)
        except ScimConnectionError as exc:
            self.first = (f"GET {self.checked_url}", exc)
            return self._connection_failure(exc)
        self.first = (f"GET {self.checked_url}", response)
        elapsed = f"{(time.perf_counter() - started) * 1000:.0f} ms"
        details = [("HTTP status", status_text(response.status_code)), ("Elapsed", elapsed)]
        if response.status_code == 200:
            return self._answered(response, details)
        details.append(("Response", body_excerpt(response, self.token) or "(empty)"))
        return self._refused(response, details)

    # ------------------------------------------------------------------ 200

    def _answered(self, response: httpx.Response, details) -> ConnectionResult:
        try:
            data = response.json()
        except UnusableJson as exc:
            return self.fail(f"The target answered the user query with {exc}, which is not a ListResponse.",
                             FILTER_FIX, INCOMPATIBLE, details)
        except ValueError:
            return self._not_json(response, details)
        try:
            resources, total = read_list_response(data)
        except NotAListResponse as shape:
            details.append(("Response", truncate(redact(response.text, self.token), 200)))
            return self.fail(f"The target answered the user query with {shape}.", FILTER_FIX, INCOMPATIBLE, details)
        total = total or len(resources)
        if total:
            return self.fail(
                f"The target returned {total} user(s) for a filter that matches no one (userName equal to a "
                "random GUID): it ignores filters, so provisioning would match the wrong users.",
                FILTER_FIX, INCOMPATIBLE, details,
            )
        details.extend(self._server_facts())
        return ConnectionResult(True, SUCCESS_MESSAGE, "", "", details, self.checked_url, tuple(self.warnings))

    def _not_json(self, response: httpx.Response, details) -> ConnectionResult:
        excerpt = body_excerpt(response, self.token, 200)
        details.append(("Response", excerpt or "(empty)"))
        content_type = response.headers.get("content-type", "").split(";")[0] or "no Content-Type"
        if looks_like_html(response):
            return self.fail(
                f'The Tenant URL answers with a web page (HTML), not SCIM JSON: "{excerpt}".',
                "This is usually the application's sign-in page or website. Use the SCIM base address from the "
                f"target's documentation ({URL_EXAMPLE}) and check that it accepts bearer tokens.",
                INCOMPATIBLE, details,
            )
        if not response.content.strip():
            return self.fail(
                "The target answered the user query with 200 OK and an empty body instead of a ListResponse.",
                FILTER_FIX, INCOMPATIBLE, details,
            )
        return self.fail(
            f'The target answered with {content_type} that is not JSON: "{excerpt}".',
            "SCIM targets answer in JSON (application/scim+json). Check that the Tenant URL is the SCIM base "
            f"address ({URL_EXAMPLE}).",
            INCOMPATIBLE, details,
        )

    def _server_facts(self) -> list[tuple[str, str]]:
        """ServiceProviderConfig features and whether /Groups answers; warnings for what will not work."""
        facts = []
        try:
            spc = self.client.service_provider_config()
        except ScimError:
            spc = None
        if spc is None or not spc.discovered:
            facts.append(("Server features", "not published (no /ServiceProviderConfig); PATCH and filters assumed"))
        else:
            facts.append(("Server features", spc.describe()))
            if not spc.patch:
                self.warnings.append(
                    "The target says it does not support PATCH: updates, disabling users and group memberships "
                    "will fail. Turn off group provisioning under Mappings, or ask the vendor for PATCH support."
                )
        try:
            self.client.query("Groups", filter_eq("displayName", str(uuid.uuid4())), excluded_attributes=["members"])
        except ScimConnectionError:
            pass
        except ScimError as exc:
            facts.append(("Groups endpoint", f"not usable: {exc.problem}"))
            self.warnings.append(
                f"The target's Groups endpoint {exc.problem} to a group query. If the target has no groups, "
                "turn off group provisioning under Mappings; otherwise group provisioning will fail."
            )
        else:
            facts.append(("Groups endpoint", "answers"))
        return facts

    # ------------------------------------------------------------------ non-200

    def _refused(self, response: httpx.Response, details) -> ConnectionResult:
        status = response.status_code
        scim_type, detail = parse_error_body(response, self.token)
        said = f': "{detail}"' if detail else ""
        if status == 401 and self.auth is not None:
            return self._token_refused(response, details)
        if status == 403 and self.auth is not None:
            return self.fail(
                f"The target accepted the {self._credential_name} but refused access to its users (HTTP 403 Forbidden){said}.",
                "Give the client (or the identity the target maps the token to) permission to read and write users "
                "and groups in the target.",
                "InsufficientRights", details,
            )
        if status == 401:
            realm = bearer_realm(response)
            realm_text = f', realm "{realm}"' if realm else ""
            return self.fail(
                f"The target rejected the Secret Token (HTTP 401 Unauthorized{realm_text}).",
                "Copy a current token from the target application (tokens expire and can be revoked), paste "
                "only the token under Secret Token, and test again.",
                "Unauthorized", details,
            )
        if status == 403:
            return self.fail(
                f"The target accepted the Secret Token but refused access to its users (HTTP 403 Forbidden){said}.",
                "Give the token (or the account it was issued to) permission to read and write users and "
                "groups, or generate a token that has it.",
                "InsufficientRights", details,
            )
        if status == 404:
            return self._not_found(details)
        if 300 <= status < 400:
            return self._redirected(response, details)
        if status == 400:
            kind = f" (scimType {scim_type})" if scim_type else ""
            return self.fail(
                f"The target rejected the user query {self.params['filter']} with HTTP 400 Bad Request{kind}{said}.",
                FILTER_FIX, "SystemForCrossDomainIdentityManagementBadRequest", details,
            )
        if status in (405, 501):
            return self.fail(
                f"The target does not support querying users (HTTP {status_text(status)}){said}.",
                FILTER_FIX, "NotImplemented" if status == 501 else "MethodNotAllowed", details,
            )
        if status == 429:
            wait = parse_retry_after(response.headers.get("retry-after"))
            when = f"; it asks to retry after {wait:g} seconds" if wait is not None else ""
            return replace(self.fail(
                f"The target is throttling requests (HTTP 429 Too Many Requests){when}.",
                "Wait a moment and test again. If it persists, ask the target's vendor to raise the rate limit "
                "for this token.",
                "TooManyRequests", details,
            ), retry_after=wait)
        if status >= 500:
            return replace(self.fail(
                f"The target failed while answering the user query (HTTP {status_text(status)}){said}.",
                "The request reached the target but it failed. Check the target's status and logs, then test again.",
                "ServiceUnavailable" if status == 503 else "InternalServerError", details,
            ), retry_after=parse_retry_after(response.headers.get("retry-after")) if status == 503 else None)
        return self.fail(
            f"The target answered the user query with HTTP {status_text(status)}{said}.",
            FILTER_FIX, INCOMPATIBLE, details,
        )

    @property
    def _credential_name(self) -> str:
        return "token this portal issued" if isinstance(self.auth, PortalJwt) else "access token"

    def _token_refused(self, response: httpx.Response, details) -> ConnectionResult:
        error, description = bearer_error(response)
        _, body_detail = parse_error_body(response, self.token)
        said = description or body_detail
        said = f': "{redact(said, self.token)}"' if said else ""
        if error:
            details.append(("WWW-Authenticate error", error))
        if isinstance(self.auth, PortalJwt):
            jwt_auth = self.auth
            details.extend([("Issuer (iss)", jwt_auth.issuer), ("Audience (aud)", jwt_auth.audience),
                            ("Keys (JWKS)", jwt_auth.jwks_url or "/.well-known/jwks.json"),
                            ("Key ID (kid)", jwt_auth.key.kid)])
            audience = "audience" in said.lower() or "aud" in error.lower()
            cause = f'the audience "{jwt_auth.audience}" is not the one it expects' if audience else "it does not accept it"
            return self.fail(
                f"The target refused the token this portal issued (HTTP 401 Unauthorized){said}: {cause}. The token "
                f'was sent with aud "{jwt_auth.audience}", iss "{jwt_auth.issuer}", signed {jwt_auth.key.algorithm} '
                f'with key "{jwt_auth.key.kid}".',
                "Set Audience under Admin Credentials to the value the target expects, and configure the target to "
                f"trust the issuer {jwt_auth.issuer} with the signing keys published at "
                f"{jwt_auth.jwks_url or 'this portal’s /.well-known/jwks.json'}, then test again.",
                "Unauthorized", details,
            )
        config = self.auth.config
        details.extend([("Token endpoint", config.token_url), ("Client ID", config.client_id),
                        ("Scope", config.scope or "(none)")])
        return self.fail(
            f"The target refused the access token issued by {httpx.URL(config.token_url).host} (HTTP 401 "
            f"Unauthorized){said}, also after a new one was fetched.",
            "The token endpoint issued a token, but the target does not accept it. Check that the target trusts "
            "this authorization server, and that Scope under Admin Credentials is the one the target requires "
            f"(now: {config.scope or 'none'}); some servers need the target's own audience or resource in Scope.",
            "Unauthorized", details,
        )

    def _not_found(self, details) -> ConnectionResult:
        if self._endpoint_exists():
            return self.fail(
                f"The SCIM endpoint at {self.base} answers, but the user query with a filter returned "
                "404 Not Found instead of an empty ListResponse: the target does not support filters as SCIM requires.",
                FILTER_FIX, INCOMPATIBLE, details,
            )
        suggestion = self._nearby_endpoint()
        if suggestion:
            details.append(("SCIM endpoint found at", suggestion))
            return self.fail(
                f"There is no SCIM Users endpoint at {self.base}/Users (HTTP 404). Did you mean {suggestion}?",
                f"Change the Tenant URL to {suggestion} and test again.",
                "NotFound", details,
            )
        return self.fail(
            f"There is no SCIM Users endpoint at {self.base}/Users (HTTP 404 Not Found).",
            "Use the SCIM base address from the target's documentation or admin page: the address that /Users, "
            f"/Groups and /ServiceProviderConfig follow ({URL_EXAMPLE}).",
            "NotFound", details,
        )

    def _redirected(self, response: httpx.Response, details) -> ConnectionResult:
        location = redact(response.headers.get("location", ""), self.token)
        try:
            target = str(response.url.join(location)) if location else ""
        except (httpx.InvalidURL, ValueError):  # a Location that is no URL at all: shown as it came
            target = location
        details.append(("Redirects to", truncate(target, 200) or "(no Location header)"))
        fix = (
            "SCIM endpoints must answer directly. If the redirect goes to a sign-in page, this address does not "
            "accept bearer tokens: use the SCIM base address from the target's documentation."
        )
        suggestion = _https_equivalent(self.base, target)
        if suggestion:
            fix = f"Did you mean {suggestion}? The target redirects plain http to https: use https:// in the Tenant URL."
        return self.fail(
            f"The Tenant URL redirects (HTTP {status_text(response.status_code)}) to {truncate(target, 200)} "
            "instead of answering. SCIM requests do not follow redirects, so the redirect was not followed and "
            "the token was not sent there.",
            fix, INCOMPATIBLE, details,
        )

    def _connection_failure(self, exc: ScimConnectionError) -> ConnectionResult:
        target = httpx.URL(self.base)
        host = target.host
        address = f"{host}:{target.port or (443 if target.scheme == 'https' else 80)}"
        cause = exc.__cause__
        if exc.reason == "dns":
            return self.fail(
                f"The host name {host} in the Tenant URL does not resolve (DNS lookup failed).",
                "Check the host name for typos. If the target is on an internal network, check that this "
                "server's DNS can resolve it.",
                exc.code, [],
            )
        if exc.reason == "refused":
            return self.fail(
                f"Nothing accepts connections at {address}: the connection was refused.",
                "Check the port in the Tenant URL, that the target service is running, and that a firewall "
                "lets this server reach it.",
                exc.code, [],
            )
        if exc.reason == "timeout" and DEADLINE_SETTING in exc.problem:
            return self.fail(
                f"The target at {host} {exc.problem.replace(f' from {host}', '')}.",
                "A target that sends its answer this slowly holds every request for the whole deadline. Check the "
                "target's health and the network to it; an operator can change the deadline with "
                f"{DEADLINE_SETTING}.",
                exc.code, [],
            )
        if exc.reason == "timeout":
            return self.fail(
                f"The target at {host} did not answer within {self.timeout:g} seconds.",
                "Check that the target is up and not overloaded, and that the network between this server and "
                "the target lets traffic through (a firewall that drops packets looks like this).",
                exc.code, [],
            )
        if exc.reason == "tls":
            return self._tls_failure(host, cause, exc)
        if exc.reason == "blocked":
            return self.fail(f"The request to {host} {exc.problem}", _BLOCKED_FIX, exc.code, [])
        if exc.reason == "unusable":
            return self.fail(f"The target's answer to the user query could not be used: the target "
                             f"{exc.problem.removeprefix('got an answer that cannot be used: the target ')}.",
                             exc.recommended_fix, exc.code, [])
        return self.fail(
            f"Could not connect to {address}: {exc.problem.removeprefix('could not be sent: ')}.",
            "Check the Tenant URL and the network path from this server to the target.",
            exc.code, [],
        )

    def _tls_failure(self, host: str, cause, exc: ScimConnectionError) -> ConnectionResult:
        reason = tls_reason(classify_transport_error(cause)[1]) if cause is not None else exc.problem
        text = reason.lower()
        if "does not speak tls" not in text:
            url = httpx.URL(self.base)
            presented = tls.server_certificate(host, url.port or 443, timeout=min(self.timeout, PROBE_TIMEOUT))
            trusted = tls.describe(self.ca_certificate)
            message, fix = tls.explain(reason, host, presented, trusted)
            details = []
            if presented is not None:
                details = [("Certificate subject", presented.subject), ("Certificate issuer", presented.issuer),
                           ("Valid until", f"{presented.not_after:%Y-%m-%d %H:%M} UTC"),
                           ("Issued for", ", ".join(presented.names) or "(no subject alternative names)")]
            details += [("Trusted CA (saved for this app)", c.summary()) for c in trusted]
            return self.fail(message, fix, exc.code, details)
        if "self-signed" in text or "self signed" in text or "unable to get local issuer" in text:
            fix = ("The target's certificate is self-signed or issued by an authority this server does not trust. "
                   "Install a certificate from a public certificate authority on the target (Entra requires "
                   "one), or add the issuing CA to this server's trust store.")
        elif "expired" in text:
            fix = "The target's certificate has expired. Renew it on the target, then test again."
        elif "hostname mismatch" in text or "ip address mismatch" in text or "doesn't match" in text:
            fix = (f"The target's certificate is not issued for {host}. Use the host name the certificate names "
                   "in the Tenant URL, or re-issue the certificate for this host name.")
        elif "does not speak tls" in text:
            fix = "The server on this port does not use TLS. Use http:// in the Tenant URL, or the target's HTTPS port."
        else:
            fix = ("Check the target's certificate (valid, trusted, for this host name) and that it supports "
                   "TLS 1.2 or later.")
        return self.fail(f"The secure (TLS) connection to {host} failed: {reason}.", fix, exc.code, [])

    # ------------------------------------------------------------------ probes

    def _endpoint_exists(self) -> bool:
        """Does the Tenant URL itself serve SCIM (so the 404 was about the filter)?"""
        if _serves_scim_config(self.client):
            return True
        try:
            response = self.client.send("GET", "/Users", params={"count": "1"})
        except ScimConnectionError:
            return False
        try:
            read_list_response(response.json() if response.status_code == 200 else None)
        except ValueError:  # not JSON, or NotAListResponse
            return False
        return True

    def _nearby_endpoint(self) -> str | None:
        for candidate in _candidate_bases(self.base):
            with ScimClient(candidate, self.given_token, timeout=min(self.timeout, PROBE_TIMEOUT), transport=self.transport,
                            auth=self.auth, ssl_context=self.client.ssl_context) as probe:
                probe.deadline = min(probe.deadline, PROBE_TIMEOUT)  # six probes must not take six deadlines
                if _serves_scim_config(probe):
                    return candidate
        return None

    def fail(self, message: str, fix: str, code: str, details) -> ConnectionResult:
        return ConnectionResult(False, message, fix, code, details, self.checked_url, tuple(self.warnings))


def _token_endpoint_failure(exc: TokenEndpointError, auth: ClientCredentials, checked_url: str) -> ConnectionResult:
    """The token endpoint gave no token: nothing was sent to the target."""
    config = auth.config
    details = [("Token endpoint", config.token_url), ("Client ID", config.client_id), ("Scope", config.scope or "(none)"),
               ("Client authentication", config.client_authentication)]
    if exc.status is not None:
        details.append(("HTTP status", status_text(exc.status)))
    if exc.error:
        details.append(("error", exc.error))
    if exc.description:
        details.append(("error_description", exc.description))
    code = {"refused": "TokenEndpointRefused", "unreachable": "TokenEndpointUnreachable",
            "blocked": "OutboundAddressBlocked"}.get(exc.kind, "TokenEndpointIncompatible")
    message = redact(str(exc), config.client_secret) + " Nothing was sent to the target."
    return _failure(message, exc.fix, code, details, checked_url)


def _failure(message, fix, code, details, checked_url) -> ConnectionResult:
    return ConnectionResult(False, message, fix, code, details, checked_url)


def _invalid_url(url: str, problem: str, token: str) -> ConnectionResult:
    fix = f"Enter the target's SCIM base address under Tenant URL, {URL_EXAMPLE}."
    # Never shown back with a password in it.
    url = without_userinfo(url)
    without_extras = url.split("?")[0].split("#")[0].rstrip("/")
    if without_extras != url.rstrip("/") and tenant_url_problem(without_extras) is None:
        fix = f"Use {without_extras} as the Tenant URL."
    token = token or ""
    return _failure(problem, redact(fix, token), "InvalidTenantUrl", [], redact(url, token))


def _url_warnings(url: str) -> list[str]:
    warnings = []
    if url.endswith("/"):
        warnings.append(
            f"The Tenant URL ends with '/'. Requests go to {url.rstrip('/')}/Users without it; remove the "
            "trailing slash so the saved URL shows what is used."
        )
    parsed = httpx.URL(url)
    if parsed.scheme == "http" and not _is_loopback(parsed.host):
        warnings.append(
            "The Tenant URL uses http://, so the Secret Token travels unencrypted. Use https:// (Entra accepts "
            "only HTTPS) unless the target runs on this machine."
        )
    return warnings


def _https_equivalent(base: str, target: str) -> str | None:
    """The https:// form of the Tenant URL when `target` is the same endpoint moved from http to https."""
    if not target:
        return None
    try:
        before, after = httpx.URL(base), httpx.URL(target)
    except (httpx.InvalidURL, ValueError):
        return None
    if before.scheme != "http" or after.scheme != "https" or before.host != after.host:
        return None
    if not after.path.startswith(before.path.rstrip("/") + "/"):
        return None
    return str(after.copy_with(path=before.path, query=None, fragment=None)).rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _candidate_bases(base: str) -> list[str]:
    """Likely right SCIM bases near a wrong one, most likely first."""
    url = httpx.URL(base)
    root = base[: len(base) - len(url.raw_path.decode())] if url.raw_path != b"/" else base
    segments = [s for s in url.path.split("/") if s]
    parent = root + "".join(f"/{s}" for s in segments[:-1]) if segments else None
    candidates = []
    if segments and segments[-1].lower() in ("users", "groups", "serviceproviderconfig", "schemas", "resourcetypes"):
        candidates.append(parent)
    candidates += [base + "/scim/v2", base + "/v2", base + "/scim"]
    if parent:
        candidates += [parent, parent + "/scim/v2", parent + "/v2"]
    unique = []
    for candidate in candidates:
        if candidate and candidate != base and candidate not in unique:
            unique.append(candidate)
    return unique


def _serves_scim_config(client: ScimClient) -> bool:
    try:
        response = client.send("GET", "/ServiceProviderConfig")
        data = response.json() if response.status_code == 200 else None
    except (ScimConnectionError, ValueError):
        return False
    if not isinstance(data, dict):
        return False
    schemas = ci_get(data, "schemas") or []
    return (isinstance(schemas, list) and SERVICE_PROVIDER_CONFIG in schemas) or (
        isinstance(ci_get(data, "patch"), dict) and isinstance(ci_get(data, "filter"), dict)
    )


__all__ = ["ConnectionResult", "SUCCESS_MESSAGE", "check_connection"]
