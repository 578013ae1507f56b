"""Deliberately misbehaving HTTP(S) servers on 127.0.0.1, for what scim2-server never does (429, HTML, sleeps…).

A test gives a function `respond(request) -> Reply`; the server runs in a thread and records every request.
Use it as a context manager (or through the `misbehaving_server` fixture), so it always stops.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SCIM_JSON = "application/scim+json"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: object = b""  # dict/list → JSON, str → UTF-8 text, bytes as is
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = SCIM_JSON
    delay: float = 0.0  # seconds to sleep before answering

    def encoded(self) -> bytes:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode()
        if isinstance(self.body, str):
            return self.body.encode()
        return self.body


def list_response(resources=(), total=None) -> dict:
    resources = list(resources)
    return {"schemas": [LIST_RESPONSE], "totalResults": len(resources) if total is None else total,
            "startIndex": 1, "itemsPerPage": len(resources), "Resources": resources}


def scim_error(status, detail, scim_type=None, *, status_as_int=False) -> dict:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": status if status_as_int else str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return body


class MisbehavingServer:
    def __init__(self, respond: Callable[[Request], Reply], *, tls: ssl.SSLContext | None = None):
        self.respond = respond
        self.requests: list[Request] = []
        self._tls = tls
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("content-length") or 0)
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, parse_qs(parts.query),
                                  {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length))
                server.requests.append(request)
                reply = server.respond(request)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.encoded()
                try:
                    self.send_response(reply.status)
                    if reply.content_type:
                        self.send_header("Content-Type", reply.content_type)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

            def setup(self):
                if tls is not None:
                    # In the handler thread, so a client that rejects the certificate cannot stall the server.
                    self.request.do_handshake()
                super().setup()

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False  # do not wait for a handler that is still sleeping

            def get_request(self):
                sock, address = super().get_request()
                if tls is not None:
                    sock = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                return sock, address

            def handle_error(self, request, client_address):
                pass  # failed handshakes and clients that hang up are what these servers are for

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


# ---------------------------------------------------------------- certificates for the TLS cases


@dataclass
class Certificates:
    """A test CA and a server certificate it signed; `client_context()` trusts only that CA."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def make_certificates(directory: Path, *, host="127.0.0.1", expired=False, self_signed=False) -> Certificates:
    """A server certificate for `host` (an IP or DNS name), signed by a fresh CA or by itself."""
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common_name):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def pem(certificate):
        return certificate.public_bytes(serialization.Encoding.PEM)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(name("Test CA")).issuer_name(name("Test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        alt_name = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt_name = x509.DNSName(host)
    valid_from, valid_to = (now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)) if expired else (
        now - datetime.timedelta(days=1), now + datetime.timedelta(days=30))
    builder = (
        x509.CertificateBuilder().subject_name(name(host)).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(valid_from).not_valid_after(valid_to)
        .add_extension(x509.SubjectAlternativeName([alt_name]), critical=False)
    )
    if self_signed:
        certificate = builder.issuer_name(name(host)).sign(key, hashes.SHA256())
    else:
        certificate = (
            builder.issuer_name(ca.subject)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
    ca_file, cert_file, key_file = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_file.write_bytes(pem(ca))
    cert_file.write_bytes(pem(certificate))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return Certificates(ca_file, cert_file, key_file)


@pytest.fixture
def misbehaving_server():
    """`misbehaving_server(respond, tls=None) -> MisbehavingServer`, started now and stopped after the test."""
    started = []

    def start(respond: Callable[[Request], Reply], *, tls: ssl.SSLContext | None = None) -> MisbehavingServer:
        server = MisbehavingServer(respond, tls=tls).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
