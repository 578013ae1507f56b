"""A fault-injecting reverse proxy for the SCIM target, for the bad-day tests (127.0.0.1 only).

It forwards /<tenant>/v2/… to the upstream target and, by the rules posted to /_faults, answers some
requests itself instead: 429 with Retry-After, 500/503, 401 once the token is "revoked", HTML, non-JSON,
a 200 without an id, or it forwards a POST (so the target applies it) and then holds the answer past the
client's timeout, or answers a PATCH with an empty 200 without forwarding it. Every request is logged with when it arrived and was answered:

    POST   /_faults   {"seed": 1, "throttle": 0.1, "retry_after": "0.5", "errors": 0.1, "lose_posts": 0.05,
                       "hang": 4, "revoked": false, "garbage": {"html": 0.0, "not_json": 0.0, "no_id": 0.0},
                       "ignore_patches": 0.0}
    GET    /_log      [{"arrived", "answered", "method", "path", "status", "fault"}]
    DELETE /_log

    python tests/fault_proxy.py --port 8091 --upstream http://127.0.0.1:8090

It stops by itself when the process that started it ends.
"""

import argparse
import json
import logging
import os
import random
import sys
import threading
import time

import httpx
import waitress

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


class FaultProxy:
    def __init__(self, upstream):
        self.upstream = upstream.rstrip("/")
        self.client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))
        self.lock = threading.Lock()
        self.rules = {}
        self.random = random.Random(1)
        self.log = []

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_faults":
            return self._faults(environ, start_response)
        if path == "/_log":
            return self._log(environ, start_response)
        arrived = time.time()
        method = environ["REQUEST_METHOD"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        fault, status, headers, content = self._fault(method, path)
        if fault is None or fault == "lost":
            status, headers, content = self._forward(environ, method, path, body)
            if fault == "lost":
                time.sleep(self.rules.get("hang", 4))  # the target applied it; the client gave up waiting
        self._note(arrived, method, path, status, fault)
        start_response(f"{status} {httpx.codes.get_reason_phrase(status)}", headers + [("Content-Length", str(len(content)))])
        return [content]

    def _fault(self, method, path):
        """(fault name, status, headers, body) of an answer made here, or (None, …) to forward."""
        rules = self.rules
        scim = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"]}
        if rules.get("revoked"):
            return "revoked", 401, [("Content-Type", "application/scim+json"), ("WWW-Authenticate", 'Bearer realm="proxy"')], \
                json.dumps({**scim, "status": "401", "detail": "The token was revoked"}).encode()
        with self.lock:
            roll = self.random.random()
            garbage = rules.get("garbage") or {}
            kinds = [("throttle", rules.get("throttle", 0)), ("errors", rules.get("errors", 0)),
                     ("lost", rules.get("lose_posts", 0) if method == "POST" else 0),
                     ("html", garbage.get("html", 0)), ("not_json", garbage.get("not_json", 0)),
                     ("no_id", garbage.get("no_id", 0) if method == "POST" else 0),
                     ("ignored", rules.get("ignore_patches", 0) if method == "PATCH" else 0)]
            second = self.random.random()
        for name, chance in kinds:
            if roll < chance:
                break
            roll -= chance
        else:
            return None, None, None, None
        if name == "throttle":
            return "throttle", 429, [("Content-Type", "application/scim+json"), ("Retry-After", str(rules.get("retry_after", "1")))], \
                json.dumps({**scim, "status": "429", "detail": "Too many requests"}).encode()
        if name == "errors":
            status = 503 if second < 0.5 else 500
            return f"error{status}", status, [("Content-Type", "application/scim+json")], \
                json.dumps({**scim, "status": str(status), "detail": "The target had a bad moment"}).encode()
        if name == "lost":
            return "lost", None, None, None
        if name == "html":
            return "html", 200, [("Content-Type", "text/html")], b"<html><head><title>Sign in</title></head><body>Please sign in</body></html>"
        if name == "ignored":
            return "ignored", 200, [("Content-Type", "application/scim+json")], b""  # "done", says nothing, changes nothing
        if name == "not_json":
            return "not_json", 200, [("Content-Type", "application/scim+json")], b"OK, saved."
        return "no_id", 201, [("Content-Type", "application/scim+json")], json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}).encode()

    def _forward(self, environ, method, path, body):
        query = environ.get("QUERY_STRING")
        headers = {key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        headers = {k: v for k, v in headers.items() if k.lower() not in HOP_HEADERS}
        response = self.client.request(method, f"{self.upstream}{path}{'?' + query if query else ''}", content=body, headers=headers)
        kept = [(k, v) for k, v in response.headers.items() if k.lower() not in HOP_HEADERS]
        return response.status_code, kept, response.content

    def _note(self, arrived, method, path, status, fault):
        with self.lock:
            self.log.append({"arrived": arrived, "answered": time.time(), "method": method, "path": path, "status": status, "fault": fault})

    def _faults(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        rules = json.loads(environ["wsgi.input"].read(length) or b"{}")
        with self.lock:
            self.rules = rules
            if "seed" in rules:
                self.random = random.Random(rules["seed"])
        return self._json(start_response, {"rules": rules})

    def _log(self, environ, start_response):
        with self.lock:
            if environ["REQUEST_METHOD"] == "DELETE":
                self.log = []
            entries = list(self.log)
        return self._json(start_response, entries)

    @staticmethod
    def _json(start_response, value):
        body = json.dumps(value).encode()
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
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args(argv)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    stop_with_parent()
    print(f"fault proxy on http://127.0.0.1:{args.port} → {args.upstream}", flush=True)
    waitress.serve(FaultProxy(args.upstream), host="127.0.0.1", port=args.port, threads=32, connection_limit=256,
                   channel_timeout=300, _quiet=True)


if __name__ == "__main__":
    sys.exit(main())
