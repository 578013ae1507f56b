"""An app's credentials as the SCIM client takes them: the authenticator for its method (scim/auth.py), the
portal's signing key and published keys (JWKS), the shared OAuth token cache, and its TLS trust."""

from __future__ import annotations

import datetime
import logging
import threading

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from provisioning import secrets
from provisioning.models import AccessToken, Application, SigningKey
from provisioning.scim import auth, tls

logger = logging.getLogger(__name__)


def issuer() -> str:
    return (settings.PORTAL_TOKEN_ISSUER or settings.PORTAL_BASE_URL).rstrip("/")


def jwks_url() -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse("jwks")


# ---------------------------------------------------------------------------------------------- signing key


def signing_key() -> SigningKey:
    """The key tokens are signed with: the oldest unretired one of the configured algorithm, made on first use.

    Two processes that both make one at once both publish it, so either signature validates."""
    algorithm = settings.PORTAL_TOKEN_ALGORITHM
    key = SigningKey.objects.filter(retired_at=None, algorithm=algorithm).order_by("created_at", "pk").first()
    return key or _generate(algorithm)


def _generate(algorithm: str) -> SigningKey:
    if algorithm == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    kid = _thumbprint(jwk)
    jwk.update(kid=kid, use="sig", alg=algorithm)
    try:
        with transaction.atomic():
            return SigningKey.objects.create(kid=kid, algorithm=algorithm, private_key_encrypted=secrets.encrypt(pem),
                                             public_jwk=jwk)
    except IntegrityError:  # pragma: no cover - the same thumbprint twice would be a broken random generator
        return SigningKey.objects.get(kid=kid)


def _thumbprint(jwk: dict) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): a kid that names the key itself."""
    import base64
    import hashlib
    import json

    members = {k: jwk[k] for k in (("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("e", "kty", "n"))}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def published_keys() -> dict:
    """The JWKS document: every unretired key, and retired ones for a token lifetime after."""
    since = timezone.now() - datetime.timedelta(seconds=settings.PORTAL_TOKEN_LIFETIME_SECONDS)
    keys = SigningKey.objects.filter(retired_at=None) | SigningKey.objects.filter(retired_at__gte=since)
    return {"keys": [key.public_jwk for key in keys.order_by("created_at", "pk")]}


# ---------------------------------------------------------------------------------------------- OAuth cache


class DatabaseTokenCache:
    """auth.TokenCache in the AccessToken table, so every worker uses (and refreshes) one token per app.

    The SCIM client's request threads (engine/calls.py) may need it when the token nears expiry or is
    refused: their database connection is closed after each use, as those threads own no transaction and
    would otherwise each keep a connection open."""

    def __init__(self, application_id: int):
        self.application_id = application_id
        self.owner = threading.get_ident()  # the task's thread, whose connection (and transaction) is left alone

    def get(self, key):
        row = self._run(lambda: AccessToken.objects.filter(application_id=self.application_id, cache_key=key).first())
        if row is None:
            return None
        try:
            return secrets.decrypt(row.token_encrypted), row.expires_at.timestamp()
        except secrets.SecretUnreadable:
            return None  # the encryption key changed: fetch a new token

    def put(self, key, token, expires_at):
        self._run(lambda: AccessToken.objects.update_or_create(
            application_id=self.application_id,
            defaults={"cache_key": key, "token_encrypted": secrets.encrypt(token),
                      "expires_at": datetime.datetime.fromtimestamp(expires_at, datetime.UTC)},
        ))

    def discard(self, key, token):
        cached = self.get(key)
        if cached and cached[0] == token:
            self._run(lambda: AccessToken.objects.filter(application_id=self.application_id).delete())

    def _run(self, operation):
        try:
            return operation()
        finally:
            if threading.get_ident() != self.owner:
                connection.close()


# ---------------------------------------------------------------------------------------------- per app


def authenticator(app: Application, *, shared_cache: bool = True) -> auth.Authenticator:
    """The app's authenticator. Test Connection passes shared_cache=False: it asks the token endpoint itself
    (so it tests the credentials as typed) and leaves the workers' cached token alone.

    Raises secrets.SecretUnreadable when a stored secret was encrypted with another key."""
    method = Application.AuthenticationMethod
    if app.authentication_method == method.PORTAL_JWT:
        key = signing_key()
        try:
            private_pem = key.private_pem()
        except secrets.SecretUnreadable:
            # The encryption key changed: this key can sign nothing more. Retire it (still published for a token
            # lifetime) and make a new one, which targets find at the same JWKS URL by its kid.
            logger.warning("Signing key %s cannot be decrypted (the encryption key changed): a new key replaces it", key.kid)
            SigningKey.objects.filter(pk=key.pk).update(retired_at=timezone.now())
            key = signing_key()
            private_pem = key.private_pem()
        return auth.PortalJwt(auth.SigningKey(key.kid, key.algorithm, private_pem), issuer=issuer(),
                              audience=app.token_audience, subject=app.job_id,
                              lifetime=settings.PORTAL_TOKEN_LIFETIME_SECONDS, jwks_url=jwks_url())
    if app.authentication_method == method.OAUTH:
        config = auth.ClientCredentialsConfig(
            token_url=app.oauth_token_url, client_id=app.oauth_client_id, client_secret=app.get_oauth_client_secret(),
            scope=app.oauth_scope, client_authentication=app.oauth_client_authentication,
        )
        cache = DatabaseTokenCache(app.pk) if shared_cache and app.pk else auth.MemoryCache()
        return auth.ClientCredentials(config, cache, ssl_context=ssl_context(app), timeout=settings.SCIM_TIMEOUT_SECONDS)
    return auth.StaticBearer(app.get_secret_token())


def ssl_context(app: Application):
    """None (the public CAs) or the public CAs plus the app's CA certificate."""
    return tls.ssl_context(app.ca_certificate.strip()) if app.ca_certificate.strip() else None


def client_options(app: Application, *, shared_cache: bool = True) -> dict:
    """Keyword arguments for ScimClient besides the Tenant URL (check_connection takes them too).

    An OAuth access token is read (or fetched) here, in the caller's thread, so the request threads start
    with it in memory; a token endpoint that fails now fails the first request, with its typed error."""
    authenticator_ = authenticator(app, shared_cache=shared_cache)
    if isinstance(authenticator_, auth.StaticBearer):
        return {"token": authenticator_.token, "auth": None, "ssl_context": ssl_context(app)}
    if isinstance(authenticator_, auth.ClientCredentials) and shared_cache:
        try:
            authenticator_.authorization()
        except auth.TokenEndpointError:
            pass
    return {"token": "", "auth": authenticator_, "ssl_context": ssl_context(app)}
