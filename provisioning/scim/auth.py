"""How the SCIM client authenticates: which Authorization header an app sends, and what to do on a 401.

Entra offers three ways, and so does the portal (the Provisioning page's Authentication method):
* `StaticBearer`: a long-lived token the target issued (Secret Token), sent as is. A 401 is final.
* `PortalJwt`: a token the portal issues itself (Secret Token left blank in Entra): a JWT signed with the
  portal's key (RS256 or ES256), `iss` the portal's issuer URL, `aud` what the admin set, short-lived and
  signed again before it expires. The target validates it with the keys at /.well-known/jwks.json.
* `ClientCredentials`: OAuth 2.0 client-credentials grant (RFC 6749 §4.4) at the admin's token endpoint; the
  access token is kept in a shared cache until it expires and fetched again once after a 401.

Nothing here knows Django: the signing key and the shared cache are handed in (engine/credentials.py).
Token endpoint requests go through the same outbound rule as SCIM requests (scim/outbound.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

import httpx
import jwt

from provisioning.scim import tls
from provisioning.scim.outbound import OutboundRefused, SettingProblem, guarded_transport, url_refusal

# Sign again (or fetch again) this long before the credential expires, so no request carries one that
# expires in flight or on a target whose clock is a little ahead.
REFRESH_MARGIN_SECONDS = 300
# An access token answered without expires_in (RFC 6749 §5.1 makes it optional) is kept at most this long;
# a 401 before then fetches a new one anyway.
DEFAULT_EXPIRES_IN = 3600
TOKEN_ENDPOINT_TIMEOUT = 15.0
USER_AGENT = "Provisioning-Portal (OAuth 2.0 client)"


class Authenticator(Protocol):
    method: str

    def authorization(self) -> str:
        """The Authorization header value for the next request (may fetch or sign a new credential)."""

    def after_unauthorized(self, sent: str) -> bool:
        """The target answered 401 to `sent`: True if there is now a different credential worth one retry."""

    @property
    def secret(self) -> str:
        """The credential last sent (to redact from anything stored or shown)."""


class StaticBearer:
    method = "bearer"

    def __init__(self, token: str):
        self.token = token.strip()

    def authorization(self) -> str:
        return f"Bearer {self.token}"

    def after_unauthorized(self, sent: str) -> bool:
        return False  # the same token would be refused again; the admin must paste a new one

    @property
    def secret(self) -> str:
        return self.token


# ---------------------------------------------------------------------------------------------- portal JWT


@dataclass(frozen=True)
class SigningKey:
    """The portal's private key, as the JWT library takes it (a PEM string), with its key id and algorithm."""

    kid: str
    algorithm: str  # "RS256" or "ES256"
    private_pem: str


class PortalJwt:
    method = "portal_jwt"

    def __init__(self, key: SigningKey, *, issuer: str, audience: str, subject: str, lifetime: int = 3600,
                 jwks_url: str = "", clock=time.time):
        self.key, self.issuer, self.audience, self.subject = key, issuer, audience, subject
        self.jwks_url = jwks_url  # named in messages: where the target finds the keys
        self.lifetime = lifetime
        self.clock = clock
        self._lock = threading.Lock()
        self._token = ""
        self._expires_at = 0.0

    def authorization(self) -> str:
        with self._lock:
            now = self.clock()
            if not self._token or now >= self._expires_at - min(REFRESH_MARGIN_SECONDS, self.lifetime / 4):
                self._token, self._expires_at = self._sign(now), now + self.lifetime
            return f"Bearer {self._token}"

    def _sign(self, now: float) -> str:
        issued = int(now)
        # nbf a minute early: a target whose clock is a little behind still accepts a token signed just now.
        claims = {"iss": self.issuer, "aud": self.audience, "sub": self.subject, "iat": issued, "nbf": issued - 60,
                  "exp": issued + self.lifetime, "jti": str(uuid.uuid4())}
        return jwt.encode(claims, self.key.private_pem, algorithm=self.key.algorithm,
                          headers={"kid": self.key.kid, "typ": "JWT"})

    def after_unauthorized(self, sent: str) -> bool:
        # A new signature over the same issuer and audience would be refused the same way.
        return False

    @property
    def secret(self) -> str:
        return self._token


# ---------------------------------------------------------------------------------------------- OAuth 2.0


class TokenEndpointError(Exception):
    """The token endpoint gave no access token. `kind`: "refused" (it answered with an error), "unreachable"
    (no answer), "broken" (an answer that is not a token response), "blocked" (the outbound rule)."""

    def __init__(self, kind: str, message: str, *, status: int | None = None, error: str = "", description: str = "",
                 fix: str = ""):
        self.kind, self.status, self.error, self.description, self.fix = kind, status, error, description, fix
        super().__init__(message)


class TokenCache(Protocol):
    """Shared by every worker (engine/credentials.py keeps it in the database)."""

    def get(self, key: str) -> tuple[str, float] | None: ...

    def put(self, key: str, token: str, expires_at: float) -> None: ...

    def discard(self, key: str, token: str) -> None: ...


class MemoryCache:
    """A TokenCache for one process (Test Connection, tests)."""

    def __init__(self):
        self.entries: dict[str, tuple[str, float]] = {}

    def get(self, key):
        return self.entries.get(key)

    def put(self, key, token, expires_at):
        self.entries[key] = (token, expires_at)

    def discard(self, key, token):
        if self.entries.get(key, ("",))[0] == token:
            del self.entries[key]


@dataclass(frozen=True)
class ClientCredentialsConfig:
    token_url: str
    client_id: str
    client_secret: str
    scope: str = ""
    # "client_secret_basic" (RFC 6749 §2.3.1, HTTP Basic: what the RFC asks servers to support) or
    # "client_secret_post" (in the form body, for endpoints that accept only that).
    client_authentication: str = "client_secret_basic"

    @property
    def cache_key(self) -> str:
        # A change of any of these must not reuse a token fetched with the old ones.
        material = json.dumps([self.token_url, self.client_id, self.client_secret, self.scope, self.client_authentication])
        return hashlib.sha256(material.encode()).hexdigest()


class ClientCredentials:
    method = "oauth_client_credentials"

    def __init__(self, config: ClientCredentialsConfig, cache: TokenCache | None = None, *,
                 ssl_context: ssl.SSLContext | None = None, transport: httpx.BaseTransport | None = None,
                 timeout: float = TOKEN_ENDPOINT_TIMEOUT, clock=time.time):
        self.config = config
        self.cache = cache if cache is not None else MemoryCache()
        self.ssl_context = ssl_context
        self.transport = transport
        self.timeout = timeout
        self.clock = clock
        self._lock = threading.Lock()
        self._token = ""
        self._expires_at = 0.0  # of _token: requests use it without asking the shared cache until close to this
        self.fetches = 0  # token requests this object sent

    def authorization(self) -> str:
        with self._lock:
            if not self._token or self.clock() >= self._expires_at - REFRESH_MARGIN_SECONDS:
                cached = self.cache.get(self.config.cache_key)
                if cached and self.clock() < cached[1] - REFRESH_MARGIN_SECONDS:
                    self._token, self._expires_at = cached
                else:
                    self._token = self._fetch()
            return f"Bearer {self._token}"

    def after_unauthorized(self, sent: str) -> bool:
        """Once per refused token: forget it and fetch a new one (another thread may have already)."""
        with self._lock:
            refused = sent.removeprefix("Bearer ")
            self.cache.discard(self.config.cache_key, refused)
            if self._token and self._token != refused:
                return True
            self._token = self._fetch()
            return self._token != refused

    @property
    def secret(self) -> str:
        return self._token

    def _fetch(self) -> str:
        config = self.config
        refusal = url_refusal(config.token_url)
        if refusal:
            raise TokenEndpointError("blocked", refusal.replace("The Tenant URL is refused", "The Token endpoint URL is refused"),
                                     fix="Use the authorization server's token endpoint; link-local and cloud-metadata "
                                     "addresses are refused unless the operator allows them with PORTAL_OUTBOUND_ALLOW.")
        form = {"grant_type": "client_credentials"}
        if config.scope:
            form["scope"] = config.scope
        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded",
                   "User-Agent": USER_AGENT}
        if config.client_authentication == "client_secret_post":
            form.update(client_id=config.client_id, client_secret=config.client_secret)
        else:
            # RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined for Basic.
            pair = f"{quote(config.client_id, safe='')}:{quote(config.client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        transport = self.transport or guarded_transport(verify=self.ssl_context or tls.ssl_context(None))
        host = httpx.URL(config.token_url).host
        self.fetches += 1
        try:
            with httpx.Client(transport=transport, timeout=self.timeout, follow_redirects=False) as client:
                response = client.post(config.token_url, data=form, headers=headers)
        except (OutboundRefused, SettingProblem) as exc:
            raise TokenEndpointError("blocked", f"The token endpoint {host} was not asked for a token: {exc}",
                                     fix="Correct the Token endpoint URL, or ask the operator to allow it with PORTAL_OUTBOUND_ALLOW.") from exc
        except httpx.TransportError as exc:
            from provisioning.scim.client import classify_transport_error, tls_reason

            reason, cause = classify_transport_error(exc)
            why = {"timeout": f"no answer within {self.timeout:g} seconds", "dns": f"the host name {host} does not resolve",
                   "refused": "the connection was refused", "tls": f"the TLS handshake failed ({tls_reason(cause)})"}.get(
                reason, _clip(str(exc) or type(exc).__name__, config.client_secret))
            raise TokenEndpointError(
                "unreachable", f"The token endpoint {config.token_url} is unreachable: {why}.",
                fix="Check the Token endpoint URL under Admin Credentials (the authorization server's token address, "
                "for example https://login.example.com/oauth2/token) and that this server can reach it.",
            ) from exc
        return self._read(response)

    def _read(self, response: httpx.Response) -> str:
        config = self.config
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {}
        error, description = str(data.get("error") or ""), _clip(str(data.get("error_description") or ""), config.client_secret)
        said = f': {error}' + (f' — "{description}"' if description else "") if error else ""
        if status >= 400:
            fix = _REFUSAL_FIXES.get(error) or (
                "Check the Client ID and Client secret under Admin Credentials against the client registered at the "
                "authorization server." if status in (400, 401, 403) else
                "The token endpoint failed; check the authorization server's status and try again.")
            kind = "refused" if status in (400, 401, 403) else "broken"
            raise TokenEndpointError(kind, f"The token endpoint refused to issue a token (HTTP {status}){said}"
                                     + ("" if said.endswith('"') else "."),
                                     status=status, error=error, description=description, fix=fix)
        if 300 <= status < 400:
            raise TokenEndpointError("broken", f"The token endpoint redirects (HTTP {status}) instead of answering; "
                                     "redirects are not followed, so the client secret was not sent elsewhere.",
                                     status=status, fix="Use the token endpoint's final address as the Token endpoint URL.")
        token = data.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise TokenEndpointError("broken", f"The token endpoint answered HTTP {status} without an access_token.",
                                     status=status, fix="Check that the Token endpoint URL is the OAuth 2.0 token "
                                     "endpoint (it answers a client-credentials request with JSON holding access_token).")
        token_type = str(data.get("token_type") or "Bearer")
        if token_type.lower() != "bearer":
            raise TokenEndpointError("broken", f"The token endpoint issued a {token_type!r} token; SCIM requests carry "
                                     "bearer tokens (RFC 6750).", status=status,
                                     fix="Configure the client at the authorization server to issue bearer tokens.")
        expires_in = data.get("expires_in")
        try:
            lifetime = float(expires_in) if expires_in is not None and not isinstance(expires_in, bool) else DEFAULT_EXPIRES_IN
        except (TypeError, ValueError):
            lifetime = DEFAULT_EXPIRES_IN
        lifetime = max(0.0, min(lifetime, 24 * 3600.0))
        self._expires_at = self.clock() + lifetime
        self.cache.put(config.cache_key, token, self._expires_at)
        return token


_REFUSAL_FIXES = {
    "invalid_client": "The authorization server does not know this client or its secret: check the Client ID and "
    "paste a current Client secret under Admin Credentials (secrets expire), and that the client may use the "
    "client-credentials grant.",
    "unauthorized_client": "This client may not use the client-credentials grant: allow it for the client at the "
    "authorization server, or use a client that may.",
    "invalid_scope": "The authorization server does not grant this Scope to the client: correct Scope under Admin "
    "Credentials (for example the SCIM API's scope), or grant it to the client.",
    "invalid_grant": "The authorization server refused the grant: check that the client may use client credentials.",
    "unsupported_grant_type": "This endpoint does not offer the client-credentials grant: check the Token endpoint "
    "URL (it must be the OAuth 2.0 token endpoint).",
    "invalid_request": "The token endpoint did not accept the request; if it takes client credentials only in the "
    "form body (or only as HTTP Basic), change Client authentication under Admin Credentials.",
}


def _clip(text: str, secret: str, limit: int = 300) -> str:
    if secret:
        text = text.replace(secret, "[redacted]")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bearer_error(response: httpx.Response) -> tuple[str, str]:
    """(error, error_description) from a 401's WWW-Authenticate: Bearer error="invalid_token", … (RFC 6750 §3)."""
    header = response.headers.get("www-authenticate", "")
    found = {}
    for name in ("error", "error_description"):
        marker = f'{name}="'
        start = header.find(marker)
        if start >= 0 and (start == 0 or header[start - 1] in " ,"):
            end = header.find('"', start + len(marker))
            if end > 0:
                found[name] = header[start + len(marker):end]
    return found.get("error", ""), _clip(found.get("error_description", ""), "")


def credential_error(exc: TokenEndpointError, *, method: str, url: str, path: str):
    """The SCIM client's typed error for a token endpoint that gave no token: a refusal is a credential
    failure (quarantine, as a rejected Secret Token), no answer a connection failure (retried)."""
    from provisioning.scim.errors import ScimAuthError, ScimConnectionError

    problem = f"was not sent: {exc}"
    if exc.kind in ("unreachable", "blocked"):
        return ScimConnectionError(problem, reason="blocked" if exc.kind == "blocked" else "other", method=method,
                                   url=url, path=path, code="TokenEndpointUnreachable", recommended_fix=exc.fix)
    return ScimAuthError(problem, method=method, url=url, path=path, code="TokenEndpointRefused",
                         recommended_fix=exc.fix)
