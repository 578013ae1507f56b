"""Secrets at rest: Fernet (AES-128-CBC + HMAC) from the cryptography package.

The key is PORTAL_ENCRYPTION_KEY when set (production: keep it apart from the database and its backups);
else the embedded default, a key file of its own (var/encryption_key, 0600) that `make run` creates. Any
text works as a key: it is stretched to a Fernet key. Decryption also accepts PORTAL_ENCRYPTION_OLD_KEYS,
a key being rotated in (encryption_key.next, see rotate_keys) and, for tokens saved before the key file
existed, the key derived from SECRET_KEY; `manage.py rotate_encryption_key` re-encrypts every token with
the newest key so the old ones can go.
"""

import base64
import hashlib
import os
import secrets as random_secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """The stored secret was encrypted with another key (SECRET_KEY or PORTAL_ENCRYPTION_KEY changed)."""


def _derive(material):
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(("provisioning-portal:" + material).encode()).digest()))


def key_file():
    return Path(settings.PORTAL_ENCRYPTION_KEY_FILE)


def _next_key_file():
    return key_file().with_name(key_file().name + ".next")


def write_key_file(path, key=None):
    """A new random key in a file only its owner can read; written whole or not at all."""
    key = key or random_secrets.token_urlsafe(32)
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
        file.flush()
        os.fsync(file.fileno())
    os.chmod(partial, 0o600)
    os.replace(partial, path)
    return key


def _read(path):
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def keys():
    """The keys' texts, the one that encrypts first."""
    if settings.PORTAL_ENCRYPTION_KEY:
        found = [settings.PORTAL_ENCRYPTION_KEY, *settings.PORTAL_ENCRYPTION_OLD_KEYS]
    else:
        # Read on every use, so a rotation (another process) takes effect here at once.
        found = [_read(_next_key_file()), _read(key_file())]
    found.append(settings.SECRET_KEY)  # tokens saved before there was a key file
    return list(dict.fromkeys(k for k in found if k))


def _fernet():
    return MultiFernet([_derive(key) for key in keys()])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "The stored Secret Token cannot be decrypted: the encryption key changed. "
            "Enter the Secret Token again under Provisioning > Admin Credentials "
            "(or give back the old key in PORTAL_ENCRYPTION_OLD_KEYS)."
        ) from exc


def redact(text: str, *secrets: str) -> str:
    """Replace every occurrence of each secret in text, for anything that is stored or shown."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def rotate_keys(applications):
    """Re-encrypt every stored token with a new key; returns how many.

    Embedded key file: a new key is written beside it as encryption_key.next first, so every process accepts
    (and encrypts with) it while the tokens are re-encrypted; then it replaces the old key. With
    PORTAL_ENCRYPTION_KEY the operator has set the new key there and the old one in PORTAL_ENCRYPTION_OLD_KEYS.
    A token no key opens stops the rotation (nothing changed) with the app's name.
    """
    from django.db import transaction

    if not settings.PORTAL_ENCRYPTION_KEY:
        write_key_file(_next_key_file())
    fernet = _fernet()
    count = 0
    with transaction.atomic():
        for app in applications.select_for_update().exclude(secret_token_encrypted="").order_by("pk"):
            try:
                app.secret_token_encrypted = fernet.rotate(app.secret_token_encrypted.encode()).decode()
            except InvalidToken:
                _next_key_file().unlink(missing_ok=True)
                raise SecretUnreadable(
                    f"The Secret Token of '{app.name}' opens with none of the keys, so nothing was re-encrypted. "
                    f"Give back the key it was saved with in PORTAL_ENCRYPTION_OLD_KEYS, or enter the app's Secret "
                    f"Token again, then run rotate_encryption_key again."
                ) from None
            app.save(update_fields=["secret_token_encrypted"])
            count += 1
    if not settings.PORTAL_ENCRYPTION_KEY:
        os.replace(_next_key_file(), key_file())
    return count
