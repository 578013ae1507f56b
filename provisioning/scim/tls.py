"""A per-app CA certificate for targets whose TLS certificate a private CA issued, and TLS failures in words.

The admin pastes the CA's certificate (PEM) on the Provisioning page. It is checked at Save (`ca_problem`),
shown back as subject, issuer and expiry (`describe`), and added to the public CAs this server trusts for
that app's SCIM and token endpoint requests (`ssl_context`): a target on a private CA works, and a token
endpoint at a public identity provider keeps working.

When a handshake fails, `explain` says which certificate the target presented (read with a second handshake
that does not verify and sends nothing), what is wrong with it and what to do.
"""

from __future__ import annotations

import datetime
import functools
import socket
import ssl
from dataclasses import dataclass

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtensionOID, NameOID

from provisioning.scim.outbound import policy

PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
MAX_PEM_LENGTH = 64 * 1024


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    not_before: datetime.datetime
    not_after: datetime.datetime
    is_ca: bool
    names: tuple[str, ...] = ()
    fingerprint: str = ""

    @property
    def expired(self) -> bool:
        return self.not_after < datetime.datetime.now(datetime.UTC)

    @property
    def self_signed(self) -> bool:
        return self.subject == self.issuer

    def summary(self) -> str:
        return f"subject {self.subject}, issued by {self.issuer}, valid until {self.not_after:%Y-%m-%d %H:%M} UTC"


def _name(name: x509.Name) -> str:
    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return f"CN={common[0].value}" if common and len(name) == 1 else name.rfc4514_string() or "(empty name)"


def info(certificate: x509.Certificate) -> CertificateInfo:
    try:
        is_ca = certificate.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    try:
        san = certificate.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        names = tuple(san.get_values_for_type(x509.DNSName)) + tuple(str(a) for a in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        names = ()
    return CertificateInfo(
        subject=_name(certificate.subject), issuer=_name(certificate.issuer),
        not_before=certificate.not_valid_before_utc, not_after=certificate.not_valid_after_utc, is_ca=is_ca,
        names=names, fingerprint=certificate.fingerprint(hashes.SHA256()).hex(":").upper(),
    )


def load(pem: str) -> list[x509.Certificate]:
    """The certificates in a PEM text; raises ValueError saying what it is instead."""
    text = (pem or "").strip()
    if len(text) > MAX_PEM_LENGTH:
        raise ValueError(f"it is {len(text):,} characters long; a CA certificate in PEM is a few thousand (at most "
                         f"{MAX_PEM_LENGTH:,} are accepted).")
    if "PRIVATE KEY-----" in text:
        raise ValueError("it contains a private key. Paste only the CA's certificate (-----BEGIN CERTIFICATE-----); "
                         "never paste a private key here, and replace this key if it was shared.")
    if PEM_BEGIN not in text:
        if text.startswith("MII"):
            raise ValueError("it looks like base64 without the PEM lines: paste it with the -----BEGIN CERTIFICATE----- "
                             "and -----END CERTIFICATE----- lines.")
        raise ValueError("it is not a PEM certificate: paste the CA's certificate from -----BEGIN CERTIFICATE----- "
                         "to -----END CERTIFICATE----- (a .crt or .pem file opened as text; convert a .cer/DER file "
                         "with openssl x509 -inform der -in ca.cer -out ca.pem).")
    try:
        certificates = x509.load_pem_x509_certificates(text.encode())
    except ValueError as exc:
        raise ValueError(f"the certificate between the PEM lines cannot be read ({exc}). Copy it again, whole.") from exc
    return certificates


def ca_problem(pem: str) -> str | None:
    """Why Save refuses this CA certificate text, or None (blank is fine: the public CAs only)."""
    if not (pem or "").strip():
        return None
    try:
        certificates = load(pem)
    except ValueError as exc:
        return f"CA certificate is not usable: {exc}"
    for certificate in certificates:
        details = info(certificate)
        if details.expired:
            return (f"CA certificate {details.subject} expired on {details.not_after:%Y-%m-%d}: every connection "
                    "would fail. Paste the CA's current certificate.")
    try:
        ssl_context(pem)
    except ssl.SSLError as exc:
        return f"CA certificate is not usable as a trust anchor: {exc.reason or exc}."
    return None


def describe(pem: str) -> list[CertificateInfo]:
    try:
        return [info(c) for c in load(pem)] if (pem or "").strip() else []
    except ValueError:
        return []


@functools.lru_cache(maxsize=64)
def ssl_context(pem: str | None) -> ssl.SSLContext:
    """The public CAs plus the app's CA certificate (one shared context per distinct PEM)."""
    context = ssl.create_default_context(cafile=certifi.where())
    if pem and pem.strip():
        context.load_verify_locations(cadata=pem.strip())
    return context


def server_certificate(host: str, port: int, timeout: float = 5.0) -> CertificateInfo | None:
    """The certificate the server presents, read without verifying it (nothing is sent after the handshake).

    The connection passes the outbound rule like every other one; None if it cannot be read."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        rule = policy()
        if not rule.check_name(host):
            for entry in infos:
                rule.check_address(host, entry[4][0])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with socket.create_connection((infos[0][4][0], port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
    except Exception:  # a diagnostic: whatever stops it, the message says what the handshake said
        return None
    return info(x509.load_der_x509_certificate(der)) if der else None


def explain(reason: str, host: str, presented: CertificateInfo | None, trusted: list[CertificateInfo]) -> tuple[str, str]:
    """(message, fix) for a failed handshake: the failure, the certificate's subject and issuer, what to do."""
    text = reason.lower()
    message = f"The secure (TLS) connection to {host} failed: {reason.rstrip('.')}."
    if presented is not None:
        message += f" The target presented {presented.summary()}."
    if "expired" in text or (presented is not None and presented.expired):
        when = f" on {presented.not_after:%Y-%m-%d %H:%M} UTC" if presented else ""
        return message, f"The target's certificate has expired{when}. Renew it on the target (or ask its operator to), then test again."
    if "hostname mismatch" in text or "ip address mismatch" in text or "doesn't match" in text:
        names = f" It is issued for {', '.join(presented.names)}." if presented and presented.names else ""
        return message, (f"The target's certificate is not issued for {host}.{names} Use a host name the certificate "
                         f"names in the Tenant URL, or re-issue the certificate for {host}.")
    if "self-signed" in text or "self signed" in text or "unable to get local issuer" in text or "unknown ca" in text \
            or "unable to verify the first certificate" in text:
        issuer = presented.issuer if presented else "the issuer named above"
        if trusted:
            message += " The CA certificate saved for this app is " + "; ".join(c.summary() for c in trusted) + "."
            return message, (f"The target's certificate is self-signed or issued by a CA this server does not trust, and "
                             f"the saved CA certificate did not issue it. Paste the certificate of the CA that issued it "
                             f"({issuer}) under Admin Credentials > CA certificate, or its root CA if the target does "
                             "not send the intermediate.")
        return message, ("The target's certificate is self-signed or issued by a CA this server does not trust. If the "
                         f"target uses a private CA, paste that CA's certificate ({issuer}, PEM) under Admin Credentials "
                         "> CA certificate and save; otherwise install a certificate from a public CA on the target.")
    return message, "Check the target's certificate (valid, trusted, for this host name) and that it supports TLS 1.2 or later."
