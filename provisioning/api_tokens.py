"""API tokens: create (the secret is returned once), check a presented token, revoke. No HTTP in here.

A token reads `ppt_<prefix>_<secret>`. The prefix (public, shown on the page) finds the row; the row keeps
only the SHA-256 of the whole token, compared in constant time. A random 256-bit secret needs no slow
hash: there is nothing to guess from a dictionary.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.utils import timezone

from provisioning.models import ApiToken

SCHEME = "ppt"
# The expiry choices of the page, in days.
EXPIRY_DAYS = (30, 90, 180, 365)


class TokenRejected(Exception):
    """The presented token cannot be used; the message says why and what to do."""


def _digest(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(*, name, role, expires_in_days=90, created_by=None, now=None):
    """(ApiToken, the token text): the text exists only in this return value."""
    name = (name or "").strip()
    if not name:
        raise ValueError("Enter a name for the token, e.g. the script or system that will use it.")
    if role not in ApiToken.Role.values:
        raise ValueError("Choose a role for the token: Read-only or Administrator.")
    prefix = secrets.token_hex(4)
    while ApiToken.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    raw = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        name=name, role=role, prefix=prefix, token_hash=_digest(raw), created_by=created_by,
        expires_at=(now or timezone.now()) + timedelta(days=expires_in_days),
    )
    return token, raw


def authenticate(raw, now=None):
    """The ApiToken the text stands for, or TokenRejected saying why (unknown, revoked, expired)."""
    parts = (raw or "").strip().split("_", 2)
    if len(parts) != 3 or parts[0] != SCHEME or not parts[1]:
        raise TokenRejected("The access token is not a portal API token: send 'Authorization: Bearer ppt_…' with a "
                            "token an Administrator created on the API tokens page.")
    token = ApiToken.objects.filter(prefix=parts[1]).select_related("created_by").first()
    if token is None or not hmac.compare_digest(token.token_hash, _digest(raw.strip())):
        raise TokenRejected("The access token is not valid: it was mistyped or deleted. Ask an Administrator for a "
                            "new token on the API tokens page.")
    now = now or timezone.now()
    if token.revoked_at:
        raise TokenRejected(f"The access token '{token.name}' was revoked: ask an Administrator for a new token.")
    if token.expires_at <= now:
        raise TokenRejected(f"The access token '{token.name}' expired on {token.expires_at:%Y-%m-%d %H:%M} UTC: ask an "
                            "Administrator for a new token.")
    # At most one write a minute per token: a busy script must not turn every read into a write.
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke(token, *, by=""):
    """Revoke at once: the next call with it gets 401. Revoking twice keeps the first time."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.revoked_by = by
        token.save(update_fields=["revoked_at", "revoked_by"])
    return token
