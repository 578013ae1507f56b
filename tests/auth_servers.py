"""Real servers for the authentication tests, on 127.0.0.1, each in a thread of the test process:

* `TokenServer`: an OAuth 2.0 token endpoint (client credentials grant, RFC 6749 §4.4) that issues opaque
  access tokens, checks the client by HTTP Basic or form body, the scope, and counts what it was asked.
* `CheckingProxy`: in front of the real scim2-server, it checks each request's bearer token the way a
  target would (a JWT against the issuer's JWKS and the expected audience; or an access token the
  TokenServer issued and has not revoked), answers 401 with RFC 6750's WWW-Authenticate otherwise, and
  forwards what passes with scim2-server's own token.
"""

from __future__ import annotations

import base64
import itertools
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

import httpx
import jwt


class _Server:
    def _serve(self, handler_class, tls=None):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _answer(handler, status, body: dict | None = None, headers=()):
    content = json.dumps(body).encode() if body is not None else b""
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(content)))
    handler.end_headers()
    handler.wfile.write(content)


class TokenServer(_Server):
    def __init__(self, client_id="portal", client_secret="s3cret+/=", *, scopes=("scim",), expires_in=3600, tls=None):
        self.client_id, self.client_secret, self.scopes, self.expires_in = client_id, client_secret, set(scopes), expires_in
        self.issued: dict[str, float] = {}  # token -> expires at
        self.revoked: set[str] = set()
        self.requests: list[dict] = []
        self.answer_with = None  # (status, body) to answer every request with instead
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                server.requests.append({"form": form, "authorization": self.headers.get("Authorization", "")})
                if server.answer_with:
                    return _answer(self, *server.answer_with)
                if self.path != "/oauth2/token":
                    return _answer(self, 404, {"error": "not_found"})
                client_id, client_secret = form.get("client_id"), form.get("client_secret")
                basic = self.headers.get("Authorization", "")
                if basic.startswith("Basic "):
                    pair = base64.b64decode(basic[6:]).decode()
                    client_id, _, client_secret = (unquote(part) for part in pair.partition(":"))
                if form.get("grant_type") != "client_credentials":
                    return _answer(self, 400, {"error": "unsupported_grant_type"})
                if (client_id, client_secret) != (server.client_id, server.client_secret):
                    return _answer(self, 401, {"error": "invalid_client", "error_description": f"Client {client_id!r} is unknown or its secret is wrong."},
                                   headers=[("WWW-Authenticate", 'Basic realm="token"')])
                asked = set(form.get("scope", "").split())
                if asked - server.scopes:
                    return _answer(self, 400, {"error": "invalid_scope",
                                               "error_description": f"Scope {' '.join(sorted(asked - server.scopes))} is not granted to this client."})
                with server._lock:
                    token = f"at-{next(server._counter)}-{time.monotonic_ns()}"
                    server.issued[token] = time.time() + server.expires_in
                _answer(self, 200, {"access_token": token, "token_type": "Bearer", "expires_in": server.expires_in,
                                    "scope": " ".join(sorted(asked))})

            def log_message(self, *args):
                pass

        self._serve(Handler, tls=tls)

    @property
    def token_url(self):
        scheme = "https" if isinstance(self.httpd.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.port}/oauth2/token"

    def accepts(self, token):
        expires = self.issued.get(token)
        return expires is not None and expires > time.time() and token not in self.revoked

    def revoke_all(self):
        self.revoked.update(self.issued)


class CheckingProxy(_Server):
    """`CheckingProxy(upstream_port, upstream_token, check)`; `check(token) -> None or (error, description)`."""

    def __init__(self, upstream_port, upstream_token, check):
        self.upstream = f"http://127.0.0.1:{upstream_port}"
        self.check = check
        self.seen: list[str] = []  # the Authorization headers received
        self.refused = 0
        client = httpx.Client(timeout=30)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                authorization = self.headers.get("Authorization", "")
                server.seen.append(authorization)
                problem = ("invalid_request", "No bearer token.") if not authorization.startswith("Bearer ") else \
                    server.check(authorization[7:])
                if problem:
                    server.refused += 1
                    error, description = problem
                    return _answer(self, 401, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                                               "status": "401", "detail": description},
                                   headers=[("WWW-Authenticate", f'Bearer realm="scim", error="{error}", error_description="{description}"')])
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept", "if-match")}
                headers["Authorization"] = f"Bearer {upstream_token}"
                upstream = client.request(self.command, server.upstream + self.path, content=body, headers=headers)
                self.send_response(upstream.status_code)
                for name, value in upstream.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self._serve(Handler)

    def tenant_url(self, upstream_tenant_url):
        return upstream_tenant_url.replace(self.upstream, f"http://127.0.0.1:{self.port}")


def jwt_checker(jwks: dict, *, issuer: str, audience: str):
    """A target's validation of the portal's tokens: signature by a key in the JWKS (found by kid), iss, aud, exp."""
    keys = {key["kid"]: jwt.PyJWK(key) for key in jwks["keys"]}

    def check(token):
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            if kid not in keys:
                return "invalid_token", f"Unknown signing key {kid}."
            jwt.decode(token, keys[kid].key, algorithms=["RS256", "ES256"], audience=audience, issuer=issuer,
                       options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.InvalidAudienceError:
            return "invalid_token", "The audience is invalid."
        except jwt.PyJWTError as exc:
            return "invalid_token", str(exc).replace('"', "'")
        return None

    return check


def oauth_checker(token_server: TokenServer):
    def check(token):
        return None if token_server.accepts(token) else ("invalid_token", "The access token expired or was revoked.")

    return check
