"""Secrets at rest: Fernet (AES-128-CBC + HMAC) from the cryptography package.

The key is PORTAL_ENCRYPTION_KEY when set, else derived from SECRET_KEY, so an embedded install
needs no extra configuration.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class SecretUnreadable(Exception):
    """The stored secret was encrypted with another key (SECRET_KEY or PORTAL_ENCRYPTION_KEY changed)."""


def _fernet():
    material = settings.PORTAL_ENCRYPTION_KEY or settings.SECRET_KEY
    key = base64.urlsafe_b64encode(hashlib.sha256(("provisioning-portal:" + material).encode()).digest())
    return Fernet(key)


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "The stored Secret Token cannot be decrypted: the encryption key changed. "
            "Enter the Secret Token again under Provisioning > Admin Credentials."
        ) from exc


def redact(text: str, *secrets: str) -> str:
    """Replace every occurrence of each secret in text, for anything that is stored or shown."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text
