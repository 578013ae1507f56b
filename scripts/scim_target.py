"""A real SCIM target for tests and benchmarks: scim2-server's WSGI app on an HTTP/1.1 keep-alive server.

scim2-server's own command serves HTTP/1.0 (wsgiref), so every request opens a connection; a real
target keeps connections alive, and so does this one (waitress). Each tenant (/<tenant>/v2) is a fresh,
empty target, created on its first request. Beside SCIM it answers, for the test that asks:

    GET    /_stats/<tenant>   {"requests": n, "by": {"POST /Users": n, ...}} since the last reset
    DELETE /_stats/<tenant>   reset those counters

It listens on 127.0.0.1 only, and stops by itself when the process that started it ends.

    SCIM_TARGET_TOKENS=secret python scripts/scim_target.py --port 8090 [--threads 8] [--no-bulk] [--latency-ms 20] [--entra-policy]
"""

import argparse
import json
import logging
import os
import re
import secrets
import sys
import threading
import time
from collections import Counter

import waitress
from scim2_models import ScimProvider
from scim2_server.applications.wsgi import TenantDispatcher
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import load_default_resource_types, load_default_schemas, load_default_service_provider_config

_ID = re.compile(r"/(Users|Groups)/[^/?]+")


def entra_policy():
    """scim2-models' tolerances for Entra's default request shapes (shared/reference/scim-targets.md): unknown
    schemas ignored, a value-list member removal applied, a filtered replace of an absent entry creating it."""
    from scim2_models import ScimPolicy

    return ScimPolicy(unknown=ScimPolicy.Unknown.ignore, remove_value_as_filter=ScimPolicy.RemoveValue.apply,
                      unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create)


def build_app(tokens, *, bulk=True, latency=0.0, policy=None):
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    if not bulk:
        config.bulk.supported = False
    provider = ScimProvider.from_discovery(load_default_schemas().values(), load_default_resource_types().values(), config=config,
                                           policy=policy)
    service = ScimService(provider, secret=secrets.token_urlsafe(32))
    dispatcher = TenantDispatcher(lambda tenant: BearerTokenApplication(InMemoryStorage(), provider, service=service, bearer_tokens=tokens))
    return Counted(dispatcher, latency)


class Counted:
    """Counts each tenant's requests by method and endpoint, and serves /_stats."""

    def __init__(self, app, latency=0.0):
        self.app = app
        self.latency = latency  # seconds added to every SCIM answer, as a target across a network
        self.lock = threading.Lock()
        self.counts = {}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_stats/"):
            return self.stats(environ, start_response, path.removeprefix("/_stats/").strip("/"))
        tenant, _, rest = path.lstrip("/").partition("/")
        endpoint = _ID.sub(r"/\1/{id}", "/" + rest.removeprefix("v2").lstrip("/"))
        with self.lock:
            self.counts.setdefault(tenant, Counter())[f"{environ.get('REQUEST_METHOD')} {endpoint}"] += 1
        if self.latency:
            time.sleep(self.latency)
        return self.app(environ, start_response)

    def stats(self, environ, start_response, tenant):
        with self.lock:
            if environ.get("REQUEST_METHOD") == "DELETE":
                self.counts.pop(tenant, None)
                counts = Counter()
            else:
                counts = Counter(self.counts.get(tenant, {}))
        body = json.dumps({"requests": sum(counts.values()), "by": dict(counts)}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def stop_with_parent():
    parent = os.getppid()

    def watch():
        while True:
            if os.getppid() != parent:
                os._exit(0)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True).start()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", action="append", default=[],
                        help="accepted bearer token (repeatable); better in SCIM_TARGET_TOKENS (comma-separated), "
                             "which `ps` does not show to other users")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--no-bulk", action="store_true", help="announce bulk as not supported")
    parser.add_argument("--entra-policy", action="store_true", help="accept Entra's default request shapes (ScimPolicy)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="wait this long before answering each SCIM request")
    args = parser.parse_args(argv)
    tokens = args.token + [t for t in os.environ.get("SCIM_TARGET_TOKENS", "").split(",") if t]
    if not tokens:
        parser.error("give the accepted bearer token in SCIM_TARGET_TOKENS (or --token)")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth" on every burst
    stop_with_parent()
    app = build_app(tokens, bulk=not args.no_bulk, latency=args.latency_ms / 1000,
                    policy=entra_policy() if args.entra_policy else None)
    print(f"serving on http://127.0.0.1:{args.port}", flush=True)
    waitress.serve(app, host="127.0.0.1", port=args.port, threads=args.threads, connection_limit=256,
                   channel_timeout=300, ident="scim2-server", _quiet=True)


if __name__ == "__main__":
    sys.exit(main())
