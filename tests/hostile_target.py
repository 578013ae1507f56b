"""A hostile SCIM target for the tests (127.0.0.1 only): a small working SCIM service whose answers turn
hostile or broken by class, selected per request path.

The Tenant URL names the class: `{url}/{class}/v2` (or `{url}/{class}@POST/v2` to make only that method's
answers hostile, the others answered as a working target would). Without a class (`{url}/good/v2`) it is a
plain in-memory SCIM 2.0 target: Users and Groups, `eq` filters, POST, PATCH, DELETE, ServiceProviderConfig.
A control endpoint does the same for a whole tenant and lets a test seed objects and read what was sent:

    POST /_class {"tenant": "t1", "class": "deep_json"}        every request under /t1/v2 gets that class
    POST /_seed  {"tenant": "t1", "Users": [{…}], "Groups": [{…}]}
    GET  /_requests?tenant=t1                                 [{"method", "path", "query"}]

The classes (CLASSES) are what the issue's corpus of 110 hostile answers sorts into: answers that do not fit
the request (another user, a Group, a list that contradicts itself), "success" that changed nothing, answers
the client must survive (deep JSON, false gzip, odd redirects, no id, not an object) and unbounded work
(an endless body, a gzip bomb, one byte per second, 200,000 duplicates, a 5 MiB name, unstorable text).

In-process: `with HostileTarget() as target: target.tenant_url("deep_json")`. It is a WSGI app served by
wsgiref's threading server (which writes each chunk as the app yields it, so a trickle really trickles).
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
import uuid
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from tests.scim.misbehaving import SCIM_JSON, list_response, scim_error

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENDPOINTS = {"Users": CORE_USER, "Groups": CORE_GROUP}

CLASSES = {
    # answers that do not fit the request
    "wrong_user": "a filter query answered with another user (who does not hold the value asked for)",
    "group_for_user": "a /Users filter query answered with a Group",
    "inconsistent_list": "a ListResponse with totalResults 5 and no Resources",
    "missing_resources": "a ListResponse with itemsPerPage 3 and Resources left out",
    # "success" that changed nothing
    "patch_unchanged": "a PATCH answered 200 with the resource as it was, the change not applied",
    "patch_other": "a PATCH answered 200 with another resource (another id)",
    "patch_empty": "a PATCH answered 200 with no body, the change not applied",
    "member_ignored": "a group PATCH answered 200 with the group, without the members just added",
    # answers the client must survive
    "deep_json": "JSON nested 100,000 levels deep",
    "false_gzip": "Content-Encoding: gzip on a body that is plain JSON",
    "javascript_redirect": "302 with Location: javascript:alert(document.cookie)",
    "no_id": "resources without an id",
    "upper_id": 'resources whose id is under "ID" (RFC 7643: names are case-insensitive, so this one works)',
    "not_object": "JSON null, a string or a list where an object is expected",
    # unbounded work
    "endless": "a body that never ends",
    "gzip_bomb": "a small gzip body that inflates to 64 MiB",
    "trickle": "an answer sent one byte per second",
    "huge_duplicates": "a filter query answered with 200,000 users holding the value",
    "huge_name": "a matched user whose displayName is 5 MiB long",
    "bad_text": "text with a lone surrogate, NUL, ESC and a right-to-left override",
}
GOOD = "good"
QUERY_CLASSES = {"wrong_user", "group_for_user", "inconsistent_list", "missing_resources", "huge_duplicates", "huge_name",
                 "bad_text"}


class HostileTarget:
    def __init__(self, token="hostile-token"):
        self.token = token
        self.lock = threading.Lock()
        self.tenants: dict[str, dict] = {}
        self.classes: dict[str, str] = {}  # tenant → class set by POST /_class
        self.requests: dict[str, list] = {}
        target = self

        class Server(ThreadingMixIn, WSGIServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request, client_address):
                pass  # clients hang up on endless and trickling answers: that is the point

        class Handler(WSGIRequestHandler):
            def log_message(self, *args):
                pass

        self._httpd = make_server("127.0.0.1", 0, lambda environ, start: target(environ, start), server_class=Server,
                                  handler_class=Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # ------------------------------------------------------------------ running

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def tenant_url(self, kind=GOOD, method=None, tenant=None):
        """A fresh tenant's base URL whose answers are of class `kind` (for `method` only, when given)."""
        assert kind == GOOD or kind in CLASSES, kind
        tenant = tenant or uuid.uuid4().hex[:8]
        segment = f"{kind}@{method}" if method else kind
        return f"{self.url}/{tenant}~{segment}/v2"

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

    def store(self, tenant_url):
        return self._store(_tenant_of(tenant_url.split("/v2")[0].rsplit("/", 1)[-1]))

    def seed(self, tenant_url, endpoint, resource):
        """Put a resource in the tenant as if it had been created there; returns it with its id."""
        stored = {"schemas": [ENDPOINTS[endpoint]], "id": uuid.uuid4().hex, **resource}
        with self.lock:
            self.store(tenant_url)[endpoint][stored["id"]] = stored
        return stored

    def sent(self, tenant_url):
        """[(method, path after /v2)] the tenant received."""
        return list(self.requests.get(_tenant_of(tenant_url.split("/v2")[0].rsplit("/", 1)[-1]), []))

    def _store(self, tenant):
        return self.tenants.setdefault(tenant, {"Users": {}, "Groups": {}})

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if path.startswith("/_"):
            return self._control(path, method, body, environ, start_response)
        match = re.match(r"^/([^/]+)/v2(/.*)?$", path)
        if not match:
            return _reply(start_response, 404, "<html><title>Not Found</title></html>", "text/html")
        segment, rest = match.group(1), match.group(2) or "/"
        tenant = _tenant_of(segment)
        kind, _, only = (segment.split("~", 1)[1] if "~" in segment else self.classes.get(tenant, GOOD)).partition("@")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        with self.lock:
            self.requests.setdefault(tenant, []).append((method, rest))
        if environ.get("HTTP_AUTHORIZATION") != f"Bearer {self.token}":
            return _reply(start_response, 401, scim_error(401, "Bearer token required"))
        request = _Request(method, rest, query, body)
        # The classes that bend query answers spare Test Connection's probe (a random GUID), as targets do that
        # answer a probe right and real values wrong: so on demand and cycles reach the pipeline's checks.
        spared = kind in QUERY_CLASSES and request.filter and _is_guid(request.filter[1])
        if kind != GOOD and (not only or only.upper() == method) and not spared:
            hostile = getattr(self, f"_{kind}")(request, tenant, start_response)
            if hostile is not None:
                return hostile
        status, answer = self._good(request, tenant)
        return _reply(start_response, status, answer)

    def _control(self, path, method, body, environ, start_response):
        data = json.loads(body or b"{}")
        if path == "/_class":
            self.classes[data["tenant"]] = data["class"]
            return _reply(start_response, 200, data, "application/json")
        if path == "/_seed":
            with self.lock:
                store = self._store(data["tenant"])
                for endpoint in ENDPOINTS:
                    for resource in data.get(endpoint, []):
                        resource = {"schemas": [ENDPOINTS[endpoint]], "id": uuid.uuid4().hex, **resource}
                        store[endpoint][resource["id"]] = resource
            return _reply(start_response, 200, {"seeded": True}, "application/json")
        if path == "/_requests":
            tenant = parse_qs(environ.get("QUERY_STRING", "")).get("tenant", [""])[0]
            return _reply(start_response, 200, [list(r) for r in self.requests.get(tenant, [])], "application/json")
        return _reply(start_response, 404, {"detail": "unknown control endpoint"}, "application/json")

    # ------------------------------------------------------------------ a working target

    def _good(self, request, tenant):
        with self.lock:
            store = self._store(tenant)
            parts = [p for p in request.path.split("/") if p]
            if parts == ["ServiceProviderConfig"]:
                return 200, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                             "patch": {"supported": True}, "filter": {"supported": True, "maxResults": 200},
                             "bulk": {"supported": False}, "etag": {"supported": False}}
            if not parts or parts[0] not in ENDPOINTS:
                return 404, scim_error(404, f"No endpoint {request.path}")
            endpoint, objects = parts[0], store[parts[0]]
            if len(parts) == 1 and request.method == "GET":
                found = [r for r in objects.values() if _matches(r, request.filter)]
                start = int(request.query.get("startIndex", ["1"])[0])
                count = int(request.query.get("count", ["200"])[0])
                page = [_without(r, request.excluded) for r in found[start - 1:start - 1 + count]]
                return 200, {**list_response(page, total=len(found)), "startIndex": start}
            if len(parts) == 1 and request.method == "POST":
                resource = {**request.json(), "id": uuid.uuid4().hex}
                unique = "userName" if endpoint == "Users" else "displayName"
                if any(str(r.get(unique, "")).lower() == str(resource.get(unique, "")).lower() for r in objects.values()):
                    return 409, scim_error(409, f"{unique} already exists", "uniqueness")
                resource["meta"] = {"resourceType": endpoint[:-1]}
                objects[resource["id"]] = resource
                return 201, resource
            resource = objects.get(parts[1]) if len(parts) == 2 else None
            if resource is None:
                return 404, scim_error(404, f"Resource {request.path} not found")
            if request.method == "GET":
                return 200, _without(resource, request.excluded)
            if request.method == "DELETE":
                del objects[parts[1]]
                return 204, b""
            if request.method == "PATCH":
                for operation in request.json().get("Operations", []):
                    _apply(resource, operation)
                return 204, b""
            return 405, scim_error(405, "Method not allowed")

    # ------------------------------------------------------------------ answers that do not fit the request

    def _wrong_user(self, request, tenant, start_response):
        if request.method == "GET" and request.is_list and request.filter:
            stranger = {"schemas": [CORE_USER], "id": "stranger-1", "userName": "someone.else@contoso.example",
                        "displayName": "Someone Else", "active": True}
            return _reply(start_response, 200, list_response([stranger]))
        return None

    def _group_for_user(self, request, tenant, start_response):
        if request.method == "GET" and request.is_list and request.endpoint == "Users":
            group = {"schemas": [CORE_GROUP], "id": "group-1", "displayName": "All staff",
                     "meta": {"resourceType": "Group"}}
            return _reply(start_response, 200, list_response([group]))
        return None

    def _inconsistent_list(self, request, tenant, start_response):
        if request.method == "GET" and request.is_list:
            return _reply(start_response, 200, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                                                "totalResults": 5, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
        return None

    def _missing_resources(self, request, tenant, start_response):
        if request.method == "GET" and request.is_list:
            return _reply(start_response, 200, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                                                "totalResults": 0, "startIndex": 1, "itemsPerPage": 3})
        return None

    # ------------------------------------------------------------------ "success" that changed nothing

    def _patch_unchanged(self, request, tenant, start_response):
        if request.method == "PATCH":
            with self.lock:
                resource = self._store(tenant).get(request.endpoint, {}).get(request.resource_id)
            if resource is not None:
                return _reply(start_response, 200, resource)
        return None

    def _patch_other(self, request, tenant, start_response):
        if request.method == "PATCH":
            return _reply(start_response, 200, {"schemas": [ENDPOINTS.get(request.endpoint, CORE_USER)],
                                                "id": "someone-else", "userName": "someone.else@contoso.example",
                                                "displayName": "Someone Else", "active": False})
        return None

    def _patch_empty(self, request, tenant, start_response):
        if request.method == "PATCH":
            return _reply(start_response, 200, b"")
        return None

    def _member_ignored(self, request, tenant, start_response):
        if request.method == "PATCH" and request.endpoint == "Groups":
            with self.lock:
                group = self._store(tenant)["Groups"].get(request.resource_id)
                if group is not None:  # attributes are applied, members silently not
                    for operation in request.json().get("Operations", []):
                        if "members" not in str(operation.get("path") or "") and not (
                                isinstance(operation.get("value"), dict) and "members" in operation["value"]):
                            _apply(group, operation)
            if group is not None:
                return _reply(start_response, 200, {**group, "members": list(group.get("members") or [])})
        return None

    # ------------------------------------------------------------------ answers the client must survive

    def _deep_json(self, request, tenant, start_response):
        depth = 100_000
        return _reply(start_response, 200, b'{"id": "1", "userName": "x", "nested": ' + b"[" * depth + b"]" * depth + b"}")

    def _false_gzip(self, request, tenant, start_response):
        status, answer = self._good(request, tenant)
        body = json.dumps(answer).encode() if isinstance(answer, (dict, list)) else answer
        start_response(_status(status), [("Content-Type", SCIM_JSON), ("Content-Encoding", "gzip"),
                                         ("Content-Length", str(len(body)))])
        return [body]

    def _javascript_redirect(self, request, tenant, start_response):
        start_response("302 Found", [("Location", "javascript:alert(document.cookie)"), ("Content-Length", "0")])
        return [b""]

    def _no_id(self, request, tenant, start_response):
        status, answer = self._good(request, tenant)
        return _reply(start_response, status, _strip_ids(answer))

    def _upper_id(self, request, tenant, start_response):
        status, answer = self._good(request, tenant)
        return _reply(start_response, status, _rename_ids(answer))

    def _not_object(self, request, tenant, start_response):
        body = {"GET": b"null", "POST": b'["created"]', "PATCH": b'"patched"'}.get(request.method)
        return _reply(start_response, 200 if request.method != "POST" else 201, body) if body else None

    # ------------------------------------------------------------------ unbounded work

    def _endless(self, request, tenant, start_response):
        start_response("200 OK", [("Content-Type", SCIM_JSON)])  # no length: the body ends when the connection does

        def forever():
            yield b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Resources": ['
            chunk = b'{"id": "x", "userName": "x"},' * 2000
            while True:
                yield chunk

        return forever()

    def _gzip_bomb(self, request, tenant, start_response):
        body = _bomb()
        start_response("200 OK", [("Content-Type", SCIM_JSON), ("Content-Encoding", "gzip"), ("Content-Length", str(len(body)))])
        return [body]

    def _trickle(self, request, tenant, start_response):
        status, answer = self._good(request, tenant)
        body = json.dumps(answer).encode() if isinstance(answer, (dict, list)) else answer
        start_response(_status(status), [("Content-Type", SCIM_JSON), ("Content-Length", str(len(body)))])

        def slowly():
            for position in range(len(body)):
                time.sleep(1)
                yield body[position:position + 1]

        return slowly()

    def _huge_duplicates(self, request, tenant, start_response):
        if request.method == "GET" and request.is_list and request.filter:
            attribute, value = request.filter
            people = [{"id": f"dup-{n}", attribute: value} for n in range(200_000)]
            return _reply(start_response, 200, list_response(people))
        return None

    def _huge_name(self, request, tenant, start_response):
        if request.method == "GET" and request.is_list and request.filter:
            attribute, value = request.filter
            person = {"schemas": [CORE_USER], "id": "huge-1", attribute: value, "displayName": "N" * (5 * 1024 * 1024)}
            with self.lock:
                self._store(tenant)["Users"].setdefault("huge-1", person)  # so that the update finds it
            return _reply(start_response, 200, list_response([person]))
        return None

    def _bad_text(self, request, tenant, start_response):
        if request.method == "GET" and request.is_list and request.filter:
            attribute, value = request.filter
            # Written as JSON escapes: a lone surrogate and NUL are valid JSON, not text PostgreSQL can store.
            person = json.dumps({"schemas": [CORE_USER], "id": "odd-1", attribute: value, "active": True})[:-1]
            person += ', "displayName": "Jane \\ud800 \\u0000 \\u001b[31mred\\u001b[0m \\u202eexe.txt", "title": "\\udfff"}'
            body = f'{{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 1, "Resources": [{person}]}}'
            return _reply(start_response, 200, body.encode())
        if request.method == "PATCH":
            return _reply(start_response, 400, '{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", '
                                               '"detail": "refused \\u0000 \\ud800 \\u001b[2J \\u202e"}'.encode())
        return None


class _Request:
    def __init__(self, method, path, query, body):
        self.method, self.path, self.query, self.body = method, path, query, body
        parts = [p for p in path.split("/") if p]
        self.endpoint = parts[0] if parts else ""
        self.resource_id = parts[1] if len(parts) > 1 else None
        self.is_list = len(parts) == 1
        self.excluded = set((query.get("excludedAttributes", [""])[0] or "").split(",")) - {""}
        text = query.get("filter", [""])[0]
        found = re.match(r'^\s*([\w.:\[\]" ]+?)\s+eq\s+(".*"|true|false|\d+)\s*$', text)
        self.filter = (found.group(1), json.loads(found.group(2))) if found else None

    def json(self):
        return json.loads(self.body or b"{}")


def _is_guid(value):
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _tenant_of(segment):
    return segment.split("~", 1)[0]


def _matches(resource, condition):
    if condition is None:
        return True
    attribute, value = condition
    held = resource.get(attribute)
    if attribute.lower() in ("externalid", "id"):
        return held == value
    return isinstance(held, str) and isinstance(value, str) and held.lower() == value.lower()


def _without(resource, excluded):
    return {k: v for k, v in resource.items() if k not in excluded}


def _apply(resource, operation):
    """Enough of RFC 7644 §3.5.2 for what the portal sends: simple paths, no-path merges, members."""
    op, path, value = str(operation.get("op", "")).lower(), operation.get("path"), operation.get("value")
    if path is None and isinstance(value, dict):
        for key, item in value.items():
            if key == "members" and op == "add":
                resource.setdefault("members", []).extend(item)
            else:
                resource[key] = item
        return
    if path == "members":
        members = resource.setdefault("members", [])
        values = {m["value"] for m in value or []}
        if op == "add":
            members.extend(m for m in value or [] if m["value"] not in {x["value"] for x in members})
        elif op == "remove":
            resource["members"] = [m for m in members if m["value"] not in values] if value else []
        else:
            resource["members"] = list(value or [])
        return
    removed = re.match(r'^members\[value eq "(.*)"\]$', path or "")
    if removed:
        resource["members"] = [m for m in resource.get("members") or [] if m["value"] != removed.group(1)]
        return
    if op == "remove":
        resource.pop(path, None)
    else:
        resource[path] = value


def _strip_ids(answer):
    if isinstance(answer, dict):
        return {k: _strip_ids(v) for k, v in answer.items() if k != "id"}
    if isinstance(answer, list):
        return [_strip_ids(v) for v in answer]
    return answer


def _rename_ids(answer):
    if isinstance(answer, dict):
        return {("ID" if k == "id" else k): _rename_ids(v) for k, v in answer.items()}
    if isinstance(answer, list):
        return [_rename_ids(v) for v in answer]
    return answer


_BOMB = []


def _bomb():
    if not _BOMB:
        _BOMB.append(gzip.compress(b'{"id": "1", "userName": "' + b"A" * (64 * 1024 * 1024) + b'"}', 9))
    return _BOMB[0]


def _status(status):
    from http import HTTPStatus

    return f"{status} {HTTPStatus(status).phrase}"


def _reply(start_response, status, body, content_type=SCIM_JSON):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body.encode() if isinstance(body, str) else body
    headers = [("Content-Length", str(len(data)))]
    if content_type and (data or status != 204):
        headers.insert(0, ("Content-Type", content_type))
    start_response(_status(status), headers)
    return [data]
