"""The demo SCIM target of `make run`: scim2-server's WSGI app, kept on disk between runs.

scim2-server stores resources in memory; this script loads them from a JSON file at start and
writes them back at stop and every few seconds after a change, so a restart (or a kill) of
`make run` keeps what the portal provisioned. Tenant URL: http://127.0.0.1:PORT/scim/v2.

    python scripts/demo_target.py [--port 8081] [--data var/demo-target.json] [--token-file var/demo_target_token]

Environment: DEMO_SCIM_PORT (default 8081), PORTAL_VAR_DIR (default ./var).
"""

import argparse
import errno
import itertools
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
from pathlib import Path

import waitress
from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import load_default_resource_types, load_default_schemas, load_default_service_provider_config

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 8081
PREFIX = "/scim"
SAVE_EVERY_SECONDS = 10
FILE_FORMAT = 1


def var_dir() -> Path:
    return Path(os.environ.get("PORTAL_VAR_DIR", ROOT / "var"))


def default_port() -> int:
    return int(os.environ.get("DEMO_SCIM_PORT", DEFAULT_PORT))


def tenant_url(port: int) -> str:
    return f"http://127.0.0.1:{port}{PREFIX}/v2"


def ensure_token(path: Path) -> str:
    """The target's bearer token: generated once, then read from path on every start."""
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


class DataFileError(Exception):
    """The saved resources cannot be read back; str() says which file and what to do."""


class DemoTarget:
    """scim2-server's WSGI application over an InMemoryStorage that is saved to a JSON file."""

    def __init__(self, token: str, data_path: Path):
        config = load_default_service_provider_config()
        config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
        provider = ScimProvider.from_discovery(load_default_schemas().values(), load_default_resource_types().values(), config=config)
        # Cursors are sealed with this secret; cursor pagination is off by default, so a fresh one per start is enough.
        self.service = ScimService(provider, secret=secrets.token_urlsafe(32))
        self.storage = InMemoryStorage()
        self.scim_app = BearerTokenApplication(self.storage, provider, service=self.service, bearer_tokens=[token])
        self.data_path = data_path
        self.dirty = threading.Event()
        self.save_lock = threading.Lock()

    # Persistence ---------------------------------------------------------------------------------
    def load(self) -> int:
        """Read the saved resources, if any; returns how many."""
        if not self.data_path.exists():
            return 0
        try:
            document = json.loads(self.data_path.read_text(encoding="utf-8"))
            resources, highest = [], 0
            for item in document["resources"]:
                resource_type = self.service.get_resource_type(item["meta"]["resourceType"])
                resources.append(self.service.get_model(resource_type).model_validate(item))
                highest = max(highest, _version_number(item["meta"].get("version")))
        except Exception as exc:  # any damage: JSON, missing keys, a resource the schemas refuse
            raise DataFileError(
                f"Cannot read the demo target's saved data in {self.data_path}: {exc}. "
                f"Move or delete the file to start with an empty target."
            ) from exc
        with self.storage.lock:
            self.storage.resources = resources
            # Continue the ETag counter, so no new version repeats one a client may hold.
            self.storage.versions = itertools.count(highest + 1)
        return len(resources)

    def save(self) -> int:
        """Write every resource to the data file atomically (a kill mid-write leaves the old file)."""
        with self.save_lock:
            self.dirty.clear()
            with self.storage.lock:
                resources = [r.model_dump(mode="json") for r in self.storage.resources]
            tmp = self.data_path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"format": FILE_FORMAT, "resources": resources}, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, self.data_path)
            return len(resources)

    def save_periodically(self, stop: threading.Event):
        while not stop.wait(SAVE_EVERY_SECONDS):
            if self.dirty.is_set():
                self.save()

    # WSGI ----------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
            return [f"The demo SCIM target serves {PREFIX}/v2, e.g. {PREFIX}/v2/Users\n".encode()]
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + PREFIX
        environ["PATH_INFO"] = path[len(PREFIX):]
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            self.dirty.set()
        return self.scim_app(environ, start_response)


def _version_number(version) -> int:
    match = re.search(r"\d+", version or "")
    return int(match.group()) if match else 0


class LoggedRequests:
    """One short line per request; never the headers (the bearer token)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        def logged(status, headers, exc_info=None):
            query = f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else ""
            print(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}{query} {status.split()[0]}", flush=True)
            return start_response(status, headers, exc_info)

        return self.app(environ, logged)


def serve(port: int, data_path: Path, token: str) -> int:
    # Before listening: a client that sees the port open may stop us at once, and we must still save.
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    target = DemoTarget(token, data_path)
    try:
        loaded = target.load()
    except DataFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    try:
        # HTTP/1.1 with keep-alive (waitress), as real targets serve: the engine keeps its connections open.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" on every burst
        server = waitress.create_server(LoggedRequests(target), host="127.0.0.1", port=port, threads=8)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"Port {port} is already in use, so the demo SCIM target cannot start. "
                  f"Stop what uses it, or choose another port: DEMO_SCIM_PORT={port + 1} make run", file=sys.stderr)
            return 2
        raise

    threading.Thread(target=server.run, name="serve", daemon=True).start()
    saver = threading.Thread(target=target.save_periodically, args=(stop,), name="save", daemon=True)
    saver.start()
    print(f"Demo SCIM target on {tenant_url(port)} ({loaded} resources loaded from {data_path})", flush=True)
    stop.wait()
    server.close()
    saved = target.save()
    print(f"Demo SCIM target stopped; {saved} resources saved to {data_path}", flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Serve the demo SCIM target, keeping its resources in a JSON file.")
    parser.add_argument("--port", type=int, default=default_port(), help=f"port on 127.0.0.1 (default $DEMO_SCIM_PORT or {DEFAULT_PORT})")
    parser.add_argument("--data", type=Path, default=var_dir() / "demo-target.json", help="the JSON file the resources are kept in")
    parser.add_argument("--token-file", type=Path, default=var_dir() / "demo_target_token", help="the file holding the bearer token (created when missing)")
    args = parser.parse_args(argv)
    args.data.parent.mkdir(parents=True, exist_ok=True)
    return serve(args.port, args.data, ensure_token(args.token_file))


if __name__ == "__main__":
    sys.exit(main())
