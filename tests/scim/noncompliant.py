"""A small SCIM target that breaks the rules admins meet in real apps, one quirk per switch.

It keeps users in memory and answers like a real server would, except where a quirk says otherwise:

    empty_404            a filter that matches nothing answers 404 (as some targets do) instead of an empty list
    case_sensitive       userName filters compare case-sensitively (SCIMMY does)
    unfilterable         attributes a filter may not use: 400 invalidFilter
    drops                attributes a create accepts and silently does not store (django-scim2 drops title)
    no_patch             PATCH answers 501, and /ServiceProviderConfig says patch.supported false
    no_groups            /Groups answers 404 (an app without groups)
    no_discovery         no /ServiceProviderConfig, /Schemas or /ResourceTypes (404 web pages)
    schema_without       attribute names left out of the published core User schema

Bound to 127.0.0.1 on a free port, in a thread of the test process; use it as a context manager.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _attr(name, kind="string", mutability="readWrite", **extra):
    return {"name": name, "type": kind, "mutability": mutability, "multiValued": False, "required": False,
            "caseExact": False, "returned": "default", "uniqueness": "none", **extra}


USER_ATTRIBUTES = [
    _attr("id", mutability="readOnly", uniqueness="server"),
    _attr("userName", required=True, uniqueness="server"),
    _attr("externalId"),
    _attr("displayName"),
    _attr("title"),
    _attr("active", "boolean"),
    _attr("password", mutability="writeOnly", returned="never"),
    _attr("name", "complex", subAttributes=[_attr("givenName"), _attr("familyName"), _attr("formatted")]),
    _attr("emails", "complex", multiValued=True, subAttributes=[
        _attr("value"), _attr("type", canonicalValues=["work", "home", "other"]), _attr("primary", "boolean")]),
    _attr("groups", "complex", mutability="readOnly", multiValued=True, subAttributes=[_attr("value", mutability="readOnly")]),
    _attr("employeeType", mutability="immutable"),
    _attr("meta", "complex", mutability="readOnly", subAttributes=[_attr("created", "dateTime", mutability="readOnly")]),
]
ENTERPRISE_ATTRIBUTES = [_attr("department"), _attr("employeeNumber"),
                         _attr("manager", "complex", subAttributes=[_attr("value")])]
GROUP_ATTRIBUTES = [_attr("displayName", required=True), _attr("externalId"),
                    _attr("members", "complex", multiValued=True, subAttributes=[_attr("value", mutability="immutable")])]


@dataclass
class Quirks:
    empty_404: bool = False
    case_sensitive: bool = False
    unfilterable: tuple[str, ...] = ()
    drops: tuple[str, ...] = ()
    no_patch: bool = False
    no_groups: bool = False
    no_discovery: bool = False
    schema_without: tuple[str, ...] = ()


@dataclass
class NonCompliantTarget:
    quirks: Quirks = field(default_factory=Quirks)
    token: str = "noncompliant-token"
    users: dict = field(default_factory=dict)
    requests: list = field(default_factory=list)

    def __post_init__(self):
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                target.requests.append((self.command, self.path))
                status, payload, content_type = target.answer(self.command, parts.path, parse_qs(parts.query),
                                                              self.headers.get("authorization", ""), body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = handle_one

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/scim/v2"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    # ------------------------------------------------------------------ answers

    def answer(self, method, path, query, authorization, body):
        json_type = "application/scim+json"
        if not path.startswith("/scim/v2/"):
            return 404, b"<html>Not found</html>", "text/html"
        path = path.removeprefix("/scim/v2")
        discovery = path in ("/ServiceProviderConfig", "/Schemas", "/ResourceTypes")
        if discovery and self.quirks.no_discovery:
            return 404, b"<html>Not found</html>", "text/html"
        if path == "/ServiceProviderConfig":
            return 200, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                         "patch": {"supported": not self.quirks.no_patch}, "filter": {"supported": True, "maxResults": 100},
                         "bulk": {"supported": False}, "etag": {"supported": False}, "sort": {"supported": False},
                         "changePassword": {"supported": False}}, json_type
        if authorization != f"Bearer {self.token}":
            return 401, {"schemas": [ERROR], "status": "401", "detail": "Invalid token"}, json_type
        if path == "/Schemas":
            user = [a for a in USER_ATTRIBUTES if a["name"] not in self.quirks.schema_without]
            schemas = [{"id": CORE_USER, "name": "User", "attributes": user},
                       {"id": ENTERPRISE, "name": "EnterpriseUser", "attributes": ENTERPRISE_ATTRIBUTES},
                       {"id": CORE_GROUP, "name": "Group", "attributes": GROUP_ATTRIBUTES}]
            return 200, {"schemas": [LIST], "totalResults": len(schemas), "Resources": schemas}, json_type
        if path == "/ResourceTypes":
            types = [{"name": "User", "endpoint": "/Users", "schema": CORE_USER,
                      "schemaExtensions": [{"schema": ENTERPRISE, "required": False}]}]
            if not self.quirks.no_groups:
                types.append({"name": "Group", "endpoint": "/Groups", "schema": CORE_GROUP})
            return 200, {"schemas": [LIST], "totalResults": len(types), "Resources": types}, json_type
        if path.startswith("/Groups"):
            if self.quirks.no_groups:
                return 404, b"<html>Not found</html>", "text/html"
            return self.listing([], query)
        if path == "/Users" and method == "GET":
            return self.list_users(query)
        if path == "/Users" and method == "POST":
            return self.create(json.loads(body))
        match = re.fullmatch(r"/Users/([^/]+)", path)
        if match and match.group(1) in self.users:
            user_id = match.group(1)
            if method == "GET":
                return 200, self.users[user_id], json_type
            if method == "DELETE":
                del self.users[user_id]
                return 204, None, json_type
            if method == "PATCH":
                if self.quirks.no_patch:
                    return 501, {"schemas": [ERROR], "status": "501", "detail": "PATCH is not implemented"}, json_type
                return self.patch(user_id, json.loads(body))
        return 404, {"schemas": [ERROR], "status": "404", "detail": "Resource not found"}, json_type

    def listing(self, resources, query):
        if not resources and "filter" in query and self.quirks.empty_404:
            return 404, {"schemas": [ERROR], "status": "404", "detail": "No such user"}, "application/scim+json"
        return 200, {"schemas": [LIST], "totalResults": len(resources), "startIndex": 1,
                     "itemsPerPage": len(resources), "Resources": resources}, "application/scim+json"

    def list_users(self, query):
        text = (query.get("filter") or [""])[0]
        if not text:
            users = list(self.users.values())
            count = int((query.get("count") or ["100"])[0])
            return self.listing(users[:count], query)
        match = re.fullmatch(r'\s*([\w.:\[\]" -]+?)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*\]?\s*', text)
        simple = re.fullmatch(r'\s*([A-Za-z][\w.]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*', text)
        if simple is None:
            attribute = (match.group(1) if match else text).split("[")[0]
            return 400, {"schemas": [ERROR], "status": "400", "scimType": "invalidFilter",
                         "detail": f"Filtering on {attribute} is not supported"}, "application/scim+json"
        attribute, value = simple.group(1), json.loads(f'"{simple.group(2)}"')
        if attribute.lower() in (a.lower() for a in self.quirks.unfilterable):
            return 400, {"schemas": [ERROR], "status": "400", "scimType": "invalidFilter",
                         "detail": f"Filtering on {attribute} is not supported"}, "application/scim+json"
        found = []
        for user in self.users.values():
            stored = user.get(attribute)
            if isinstance(stored, str) and (stored == value if self.quirks.case_sensitive or attribute != "userName"
                                            else stored.lower() == value.lower()):
                found.append(user)
        return self.listing(found, query)

    def create(self, resource):
        user_id = uuid.uuid4().hex
        stored = {k: v for k, v in resource.items() if k not in self.quirks.drops and k != "password"}
        stored["id"] = user_id
        stored["meta"] = {"resourceType": "User", "location": f"{self.url}/Users/{user_id}"}
        self.users[user_id] = stored
        return 201, stored, "application/scim+json"

    def patch(self, user_id, body):
        user = self.users[user_id]
        for operation in body.get("Operations", []):
            path, value = operation.get("path"), operation.get("value")
            if path and "[" not in path and "." not in path:
                if isinstance(value, str) and path == "active":
                    value = value.lower() == "true"
                user[path] = value
        return 204, None, "application/scim+json"
