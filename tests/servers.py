"""Real servers for the tests, bound to 127.0.0.1, stopped by the fixtures that start them."""

import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=15.0, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening on {port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


ROOT = Path(__file__).resolve().parent.parent
TARGET_SCRIPT = ROOT / "scripts" / "scim_target.py"


@dataclass
class ScimServer:
    """One scim2-server process (scripts/scim_target.py: HTTP/1.1 keep-alive); each test gets its own
    tenant, so tests do not see each other's data, and can count the requests its tenant received."""

    port: int
    token: str
    process: subprocess.Popen

    def tenant_url(self, tenant=None):
        return f"http://127.0.0.1:{self.port}/{tenant or uuid.uuid4().hex}/v2"

    def stats(self, tenant_url):
        """{"requests": n, "by": {"POST /Users": n, ...}} that this tenant received since the last reset."""
        return httpx.get(self._stats_url(tenant_url), timeout=5).json()

    def reset_stats(self, tenant_url):
        httpx.delete(self._stats_url(tenant_url), timeout=5).raise_for_status()

    def _stats_url(self, tenant_url):
        tenant = tenant_url.split(f":{self.port}/", 1)[1].split("/", 1)[0]
        return f"http://127.0.0.1:{self.port}/_stats/{tenant}"

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_scim_server(token="test-token", extra_args=()):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(TARGET_SCRIPT), "--port", str(port), *extra_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # The token in the environment, not the command line (`ps` shows that to everyone).
        env={**os.environ, "PYTHONUNBUFFERED": "1", "SCIM_TARGET_TOKENS": token},
    )
    try:
        wait_for_port(port, process=process)
        # The first request of a tenant creates it: make sure the server answers HTTP, not just TCP.
        httpx.get(f"http://127.0.0.1:{port}/warmup/v2/ServiceProviderConfig", timeout=5)
    except Exception:
        process.kill()
        raise
    return ScimServer(port=port, token=token, process=process)


@dataclass
class FaultProxy:
    """tests/fault_proxy.py in front of a ScimServer: same paths, faults by rule, a log of every request."""

    port: int
    upstream: ScimServer
    process: subprocess.Popen

    def tenant_url(self, upstream_tenant_url):
        """The proxied address of an upstream tenant URL."""
        return upstream_tenant_url.replace(f":{self.upstream.port}/", f":{self.port}/")

    def set(self, **rules):
        httpx.post(f"http://127.0.0.1:{self.port}/_faults", json=rules, timeout=5).raise_for_status()

    def log(self):
        return httpx.get(f"http://127.0.0.1:{self.port}/_log", timeout=10).json()

    def clear(self):
        httpx.delete(f"http://127.0.0.1:{self.port}/_log", timeout=5).raise_for_status()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_fault_proxy(upstream):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fault_proxy.py"), "--port", str(port), "--upstream", f"http://127.0.0.1:{upstream.port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process=process)
    except Exception:
        process.kill()
        raise
    return FaultProxy(port=port, upstream=upstream, process=process)


class SmtpServer:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        import email
        import email.policy

        # The default policy unfolds long headers and decodes the body (message.get_content()).
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def stop(self):
        self.controller.stop()
