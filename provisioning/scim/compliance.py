"""Test Connection's compliance checklist: what the target must do for provisioning to work, line by line.

Each line is passed, failed (with the request sent and what came back, and the fix), not applicable (with
why), or not checked (an earlier line failed, so the answer would say nothing). The read-only lines cost a
handful of GETs; the optional write test creates a throw-away user, reads it back, patches it and deletes
it, and names the attributes the target silently dropped — the ones provisioning would PATCH every cycle.

Plain Python over a ScimClient: the caller (engine/connection.py) passes what the app's mappings need.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from provisioning.scim.payload import Change, build_resource, parse_path, patch_operations, read_value
from provisioning.mapping_config.target_schema import SchemaError, discovery_document, target_schema
from provisioning.scim.client import NotAListResponse, ScimClient, ServiceProviderConfig, ci_get, filter_eq, read_list_response
from provisioning.scim.errors import ScimConnectionError, body_excerpt, redact, status_text, truncate

PASSED, FAILED, NOT_APPLICABLE, NOT_CHECKED = "passed", "failed", "not_applicable", "not_checked"
LABELS = {PASSED: "Passed", FAILED: "Failed", NOT_APPLICABLE: "Not applicable", NOT_CHECKED: "Not checked"}
SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
BODY_LIMIT = 400
# Sent by the write test, so a target's admin recognises (and can delete) what it left behind.
PROBE_PREFIX = "provisioning-portal-check"


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    status: str
    summary: str
    request: str = ""
    response: str = ""
    fix: str = ""
    # False: provisioning works without it (the line still fails, but the connection is usable).
    required: bool = True

    @property
    def label(self) -> str:
        return LABELS[self.status]


@dataclass(frozen=True)
class MatchingAttribute:
    resource_type: str  # "Users" or "Groups"
    path: str  # the mapping's target attribute, e.g. userName or emails[type eq "work"].value
    precedence: int
    filter: str  # the filter a cycle would send for it, with a value no object has


@dataclass(frozen=True)
class Target:
    """What the app's configuration asks of the target."""

    matching: Sequence[MatchingAttribute] = ()
    groups_enabled: bool = True
    user_attributes: Sequence[str] = ()  # target paths of the user mappings (for the write test)
    entra_compatible: bool = False


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    schema: dict | None = None  # discovery_document() of /Schemas + /ResourceTypes, when offered
    spc: ServiceProviderConfig | None = None
    wrote: bool = False

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAILED]


def run_checks(client: ScimClient, secret: str, target: Target, *, write: bool = False, first=None) -> Report:
    """Every line of the checklist, in the order an admin fixes them.

    first: the (request text, httpx.Response or ScimConnectionError) of the user query Test Connection
    already sent, so authentication is not tested twice."""
    return _Checker(client, secret, target, write).run(first)


class _Checker:
    def __init__(self, client: ScimClient, secret: str, target: Target, write: bool):
        self.client = client
        self.secret = secret
        self.target = target
        self.write = write
        self.report = Report()

    # ------------------------------------------------------------------ plumbing

    def add(self, key, title, status, summary, *, request="", response="", fix="", required=True):
        """Append a line, or replace the line with this key where it stands (the write test knows better)."""
        line = Check(key, title, status, summary, request, response, fix, required)
        for index, existing in enumerate(self.report.checks):
            if existing.key == key:
                self.report.checks[index] = line
                return
        self.report.checks.append(line)

    def get(self, path, params=None):
        """(request text, response) — or (request text, ScimConnectionError)."""
        text = f"GET {httpx.URL(self.client.base_url + path, params=params)}"
        try:
            return text, self.client.send("GET", path, params=params)
        except ScimConnectionError as exc:
            return text, exc

    def answer(self, response) -> str:
        if isinstance(response, ScimConnectionError):
            return f"no answer: {response.problem}"
        excerpt = body_excerpt(response, self.secret, BODY_LIMIT)
        return f"{status_text(response.status_code)}" + (f": {excerpt}" if excerpt else " (empty body)")

    def json(self, response):
        try:
            return response.json()
        except ValueError:
            return None

    def send_text(self, method, path, body=None):
        text = f"{method} {self.client.base_url}{path}"
        if body is not None:
            text += "\n" + truncate(redact(json.dumps(body), self.secret), BODY_LIMIT)
        return text

    # ------------------------------------------------------------------ the checklist

    def run(self, first) -> Report:
        if first is None:
            params = {"filter": filter_eq("userName", str(uuid.uuid4()))}
            first = self.get("/Users", params)
        request, response = first
        reachable = self.authentication(request, response)
        if isinstance(response, ScimConnectionError):
            for key, title in (("service_provider_config", "/ServiceProviderConfig"), ("schemas", "/Schemas"),
                               ("resource_types", "/ResourceTypes")):
                self.add(key, title, NOT_CHECKED, "Not checked: the target could not be reached.")
        else:
            self.service_provider_config()
            self.discovery()
        if not reachable:
            for key, title in (("empty_result", "An empty result is a 200 ListResponse"),
                               ("filters", "Filtering on the matching attributes"),
                               ("username_case", "userName filters ignore case"),
                               ("patch", "PATCH supported"), ("groups", "Groups endpoint")):
                self.add(key, title, NOT_CHECKED, "Not checked: the target did not accept the user query (see Authentication).")
            return self.report
        self.empty_result(request, response)
        self.filters()
        self.patch()
        self.groups()
        if self.write:
            self.write_test()
        else:
            self.username_case_read_only()
            self.add("write_test", "Create, read back, update and delete a test user", NOT_CHECKED,
                     "Not run: select 'Test Connection with a test user' to check that the target stores every "
                     "mapped attribute. It creates a throw-away user and deletes it again.", required=False)
        return self.report

    def authentication(self, request, response) -> bool:
        title = "Authentication (Secret Token)"
        request += "\nAuthorization: Bearer [redacted]"
        if isinstance(response, ScimConnectionError):
            self.add("authentication", title, FAILED, f"The request {response.problem}.", request=request,
                     response=self.answer(response), fix="Check the Tenant URL and that this server can reach the target.")
            return False
        if response.status_code == 401:
            self.add("authentication", title, FAILED, "The target rejected the Secret Token (401 Unauthorized).",
                     request=request, response=self.answer(response),
                     fix="Copy a current token from the target application, paste only the token under Secret Token, and test again.")
            return False
        if response.status_code == 403:
            self.add("authentication", title, FAILED, "The target accepted the token but refused access to its users (403 Forbidden).",
                     request=request, response=self.answer(response),
                     fix="Give the token (or the account it belongs to) permission to read and write users and groups.")
            return False
        self.add("authentication", title, PASSED, f"The target accepted the bearer token ({status_text(response.status_code)}).",
                 request=request)
        return True

    def service_provider_config(self):
        title = "/ServiceProviderConfig"
        request, response = self.get("/ServiceProviderConfig")
        data = None if isinstance(response, ScimConnectionError) or response.status_code != 200 else self.json(response)
        fix = ("RFC 7644 §4 requires it. Provisioning works without it (PATCH and filters are assumed, bulk is not "
               "used), but ask the vendor to publish it.")
        schemas = ci_get(data, "schemas") if isinstance(data, dict) else None
        if not isinstance(data, dict) or not (
            (isinstance(schemas, list) and SPC_URN in schemas) or isinstance(ci_get(data, "patch"), dict)
        ):
            self.report.spc = ServiceProviderConfig.assumed()
            self.add("service_provider_config", title, FAILED, "The target does not publish a usable ServiceProviderConfig.",
                     request=request, response=self.answer(response), fix=fix, required=False)
            return
        self.report.spc = ServiceProviderConfig.from_json(data)
        self.add("service_provider_config", title, PASSED, f"Published: {self.report.spc.describe()}.", request=request)

    def discovery(self):
        schemas_request, schemas = self.get("/Schemas")
        types_request, types = self.get("/ResourceTypes")
        types_json = self.json(types) if not isinstance(types, ScimConnectionError) and types.status_code == 200 else None
        schemas_json = self.json(schemas) if not isinstance(schemas, ScimConnectionError) and schemas.status_code == 200 else None
        free_text = ("Without it the mapping editor cannot list the target's attributes or check them at Save: "
                     "target attributes stay free text. Ask the vendor to publish /Schemas (RFC 7644 §4).")
        document, problem = None, "the answer is not JSON"
        if schemas_json is not None:
            try:
                document = discovery_document(schemas_json, types_json)
            except SchemaError as exc:
                problem = str(exc)
        if document is None:
            self.add("schemas", "/Schemas", FAILED, f"No usable schemas: {problem if schemas_json is not None else 'no JSON answer'}.",
                     request=schemas_request, response=self.answer(schemas), fix=free_text, required=False)
        else:
            self.report.schema = document
            described = []
            for kind in ("User", "Group"):
                schema = target_schema(document, kind.lower())
                if schema is not None:
                    extensions = f" + {len(schema.schema_urns) - 1} extension(s)" if len(schema.schema_urns) > 1 else ""
                    described.append(f"{kind}: {len(schema.attributes())} attributes{extensions}")
            missing = "" if target_schema(document, "user") else " It has no core User schema, so the mapping editor keeps free text."
            self.add("schemas", "/Schemas", PASSED if not missing else FAILED,
                     f"{len(document['schemas'])} schema(s); {'; '.join(described) or 'none for users or groups'}.{missing}",
                     request=schemas_request, response="" if not missing else self.answer(schemas),
                     fix=free_text if missing else "", required=False)
        try:
            resource_types = [r for r in (read_list_response(types_json)[0] if types_json is not None else [])]
        except NotAListResponse:
            resource_types = []
        if isinstance(types_json, list):
            resource_types = [r for r in types_json if isinstance(r, dict)]
        named = {str(ci_get(r, "name") or ""): str(ci_get(r, "endpoint") or "") for r in resource_types}
        if "User" in named:
            listed = ", ".join(f"{name} at {endpoint}" for name, endpoint in named.items() if name)
            self.add("resource_types", "/ResourceTypes", PASSED, f"Lists {listed}.", request=types_request)
        else:
            self.add("resource_types", "/ResourceTypes", FAILED,
                     "No User resource type is listed." if resource_types else "No usable list of resource types.",
                     request=types_request, response=self.answer(types),
                     fix="RFC 7644 §4 requires it; provisioning works without it (it assumes /Users and /Groups).",
                     required=False)

    def empty_result(self, request, response):
        title = "An empty result is a 200 ListResponse"
        fix = ("RFC 7644 §3.4.2: a filter that matches nothing answers 200 with totalResults 0. Provisioning "
               "reads anything else as a failure, so no user can be matched or created. Ask the target's vendor to fix it.")
        problem = self.list_problem(response, expect_empty=True)
        if problem:
            self.add("empty_result", title, FAILED, problem, request=request, response=self.answer(response), fix=fix)
        else:
            self.add("empty_result", title, PASSED, "A userName filter that matches no one answered 200 with an empty ListResponse.",
                     request=request)

    def list_problem(self, response, *, expect_empty) -> str:
        if isinstance(response, ScimConnectionError):
            return f"The query {response.problem}."
        if response.status_code == 404:
            return "The target answered 404 Not Found instead of an empty ListResponse."
        if response.status_code != 200:
            return f"The target answered {status_text(response.status_code)} instead of 200 with a ListResponse."
        data = self.json(response)
        if data is None:
            return "The target answered 200 with a body that is not JSON."
        try:
            resources, total = read_list_response(data)
        except NotAListResponse as exc:
            return f"The target answered with {exc}."
        count = total if total is not None else len(resources)
        if expect_empty and count:
            return (f"The target returned {count} resource(s) for a value no one has: it ignores the filter, so "
                    "provisioning would match the wrong objects.")
        return ""

    def filters(self):
        if not self.target.matching:
            self.add("filters", "Filtering on the matching attributes", NOT_APPLICABLE,
                     "The app's mappings have no matching attribute.")
            return
        for attribute in sorted(self.target.matching, key=lambda m: (m.resource_type != "Users", m.precedence)):
            noun = "users" if attribute.resource_type == "Users" else "groups"
            title = f"Filter {noun} by {attribute.path} (matching precedence {attribute.precedence})"
            key = f"filter:{attribute.resource_type}:{attribute.path}"
            if attribute.resource_type == "Groups" and not self.target.groups_enabled:
                self.add(key, title, NOT_APPLICABLE, "Group provisioning is off (Provision Microsoft Entra ID Groups: Enabled No).")
                continue
            params = {"filter": attribute.filter}
            if attribute.resource_type == "Groups":
                params["excludedAttributes"] = "members"
            request, response = self.get(f"/{attribute.resource_type}", params)
            problem = self.list_problem(response, expect_empty=True)
            if problem:
                groups_off = (" If the app has no groups, set Provision Microsoft Entra ID Groups to No under Mappings."
                              if attribute.resource_type == "Groups" else "")
                self.add(key, title, FAILED, problem, request=request, response=self.answer(response),
                         fix=f"Provisioning finds existing {noun} with this filter. Choose a matching attribute the target "
                             f"can filter on (Mappings > {attribute.path} > Match objects using this attribute), or ask "
                             f"the vendor to support it.{groups_off}")
            else:
                self.add(key, title, PASSED, "Answered 200 with an empty ListResponse for a value no one has.", request=request)

    def username_case_read_only(self):
        title = "userName filters ignore case"
        request, response = self.get("/Users", {"startIndex": "1", "count": "1"})
        existing = None
        if not isinstance(response, ScimConnectionError) and response.status_code == 200:
            try:
                resources, _ = read_list_response(self.json(response))
            except NotAListResponse:
                resources = []
            existing = next((r for r in resources if isinstance(ci_get(r, "userName"), str)
                             and ci_get(r, "userName").swapcase() != ci_get(r, "userName")), None)
        if existing is None:
            self.add("username_case", title, NOT_APPLICABLE,
                     "The target has no user with letters in its userName to test with; the test with a test user checks it.")
            return
        self.case_check(ci_get(existing, "userName"), ci_get(existing, "id"))

    def case_check(self, user_name, resource_id):
        title = "userName filters ignore case"
        request, response = self.get("/Users", {"filter": filter_eq("userName", user_name.swapcase())})
        found = []
        if not isinstance(response, ScimConnectionError) and response.status_code == 200:
            try:
                found, _ = read_list_response(self.json(response))
            except NotAListResponse:
                found = []
        if any(str(ci_get(r, "id")) == str(resource_id) for r in found):
            self.add("username_case", title, PASSED, f"'{user_name.swapcase()}' found the user '{user_name}'.", request=request)
            return
        self.add("username_case", title, FAILED,
                 f"'{user_name.swapcase()}' did not find the user '{user_name}': the target compares userName "
                 "case-sensitively, though RFC 7643 §4.1.1 makes it case-insensitive.",
                 request=request, response=self.answer(response),
                 fix="A directory user whose userName differs only in case from the target's account is not matched: "
                     "the create then fails with a conflict, or makes a duplicate. Keep the case of userName the same "
                     "on both sides, or ask the vendor to compare userName case-insensitively.")

    def patch(self):
        spc = self.report.spc
        title = "PATCH supported"
        if spc is None or not spc.discovered:
            self.add("patch", title, NOT_APPLICABLE if not self.write else NOT_CHECKED,
                     "The target does not say (no ServiceProviderConfig); provisioning assumes PATCH. "
                     + ("The test user's update checks it." if self.write else "The test with a test user checks it."))
        elif spc.patch:
            self.add("patch", title, PASSED, "The ServiceProviderConfig says patch.supported is true.")
        else:
            self.add("patch", title, FAILED, "The ServiceProviderConfig says patch.supported is false.",
                     fix="Provisioning updates, disables and changes memberships with PATCH (as Entra does): all of "
                         "these would fail. Ask the vendor for PATCH support.")

    def groups(self):
        title = "Groups endpoint"
        request, response = self.get("/Groups", {"filter": filter_eq("displayName", f"{PROBE_PREFIX}-{uuid.uuid4().hex[:12]}"),
                                                 "excludedAttributes": "members"})
        problem = self.list_problem(response, expect_empty=True)
        if not problem:
            self.add("groups", title, PASSED, "A group query answered 200 with an empty ListResponse.", request=request)
        elif not self.target.groups_enabled:
            self.add("groups", title, NOT_APPLICABLE, f"Group provisioning is off. ({problem})", request=request,
                     response=self.answer(response))
        else:
            self.add("groups", title, FAILED, problem, request=request, response=self.answer(response),
                     fix="Group provisioning is on but the target's Groups endpoint does not work: if the app has no groups, "
                         "set Provision Microsoft Entra ID Groups to No under Mappings.")

    # ------------------------------------------------------------------ the write test

    def write_test(self):
        self.report.wrote = True
        schema = target_schema(self.report.schema, "user")
        suffix = uuid.uuid4().hex[:10]
        values, skipped = sample_values(self.target.user_attributes, schema, suffix)
        body = build_resource("User", values, entra_compatible=self.target.entra_compatible)
        title = "Create a test user"
        request = self.send_text("POST", "/Users", body)
        try:
            response = self.client.send("POST", "/Users", body=body)
        except ScimConnectionError as exc:
            response = exc
        created = None if isinstance(response, ScimConnectionError) or response.status_code not in (200, 201) else self.json(response)
        resource_id = ci_get(created, "id") if isinstance(created, dict) else None
        if not resource_id:
            self.add("write_create", title, FAILED, "The target did not create the test user.", request=request,
                     response=self.answer(response),
                     fix="Provisioning creates users with this request (built from the app's user mappings). The answer "
                         "names what the target refused: change or remove that mapping, or fix the target.")
            self.add("username_case", "userName filters ignore case", NOT_CHECKED, "Not checked: the test user could not be created.")
            return
        skipped_text = f" Not sent: {', '.join(skipped)}." if skipped else ""
        self.add("write_create", title, PASSED, f"Created {values.get('userName', 'the user')} (id {resource_id}) with "
                 f"{len(values)} mapped attribute(s).{skipped_text}", request=request)
        try:
            self.read_back(resource_id, values)
            if "userName" in values:
                self.case_check(values["userName"], resource_id)
            self.update(resource_id, values)
        finally:
            self.delete(resource_id, values.get("userName", resource_id))

    def read_user(self, resource_id):
        path = f"/Users/{resource_id}"
        request, response = self.get(path)
        data = None if isinstance(response, ScimConnectionError) or response.status_code != 200 else self.json(response)
        return request, response, data if isinstance(data, dict) else None

    def read_back(self, resource_id, values):
        title = "Read the test user back"
        request, response, stored = self.read_user(resource_id)
        if stored is None:
            self.add("write_read", title, FAILED, "The created user could not be read back by its id.", request=request,
                     response=self.answer(response),
                     fix="Provisioning reads users back by id (GET /Users/{id}); check the target's id handling.")
            return
        dropped, changed = compare(values, stored)
        if dropped or changed:
            parts = []
            if dropped:
                parts.append(f"the target dropped {', '.join(dropped)}")
            if changed:
                parts.append("changed " + ", ".join(f"{path} ({sent!r} → {kept!r})" for path, sent, kept in changed))
            self.add("write_read", title, FAILED, f"Created, but {'; '.join(parts)}.", request=request,
                     response=self.answer(response),
                     fix="The target accepts these attributes and does not store them, so every cycle would send them "
                         "again. Remove those mappings (or map them to the attribute the target does store).")
            return
        self.add("write_read", title, PASSED, f"Every one of the {len(values)} sent attribute(s) came back as sent.", request=request)

    def update(self, resource_id, values):
        title = "Update the test user with PATCH"
        changes = []
        if "displayName" in values:
            changes.append(Change("displayName", values["displayName"], f"{values['displayName']} (updated)"))
        if "active" in values:
            changes.append(Change("active", True, False))
        if not changes:
            self.add("write_patch", title, NOT_APPLICABLE, "The user mappings map neither displayName nor active to update.")
            return
        _, _, before = self.read_user(resource_id)
        operations = patch_operations(changes, before or {}, entra_compatible=self.target.entra_compatible)
        path = f"/Users/{resource_id}"
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}
        request = self.send_text("PATCH", path, body)
        try:
            response = self.client.send("PATCH", path, body=body)
        except ScimConnectionError as exc:
            response = exc
        if isinstance(response, ScimConnectionError) or not response.is_success:
            self.add("write_patch", title, FAILED, "The target refused the PATCH provisioning sends for updates and disables.",
                     request=request, response=self.answer(response),
                     fix="Provisioning updates and disables users with PATCH. If the answer names a value shape (a Boolean "
                         "sent as text, an op name), switch Entra-compatible requests on the Provisioning page.")
            spc_says = " The ServiceProviderConfig says patch.supported is false." if self.report.spc and not self.report.spc.patch else ""
            self.add("patch", "PATCH supported", FAILED, f"The test user's PATCH was refused (see Update the test user).{spc_says}",
                     fix="Provisioning updates, disables and changes memberships with PATCH (as Entra does): all of "
                         "these would fail. Ask the vendor for PATCH support.")
            return
        _, _, after = self.read_user(resource_id)
        missed = [c.path for c in changes if after is None or str(read_value(after, c.path)) != str(c.new)]
        if missed:
            self.add("write_patch", title, FAILED, f"The target answered {status_text(response.status_code)} but did not "
                     f"change {', '.join(missed)}.", request=request, response=self.answer(response),
                     fix="A PATCH the target says it applied but did not is retried every cycle. Ask the vendor to fix it.")
            return
        self.add("write_patch", title, PASSED, f"{', '.join(c.path for c in changes)} changed as sent.", request=request)
        self.add("patch", "PATCH supported", PASSED, "The test user's PATCH was applied.")

    def delete(self, resource_id, name):
        title = "Delete the test user"
        path = f"/Users/{resource_id}"
        request = f"DELETE {self.client.base_url}{path}"
        try:
            response = self.client.send("DELETE", path)
        except ScimConnectionError as exc:
            response = exc
        if isinstance(response, ScimConnectionError) or not response.is_success:
            self.add("write_delete", title, FAILED, f"The test user {name} could not be deleted: it is still in the target.",
                     request=request, response=self.answer(response),
                     fix=f"Delete {name} in the target by hand. Provisioning deletes only when Delete is a Target Object "
                         "Action; otherwise it disables.")
            return
        _, after = self.get(path)
        if not isinstance(after, ScimConnectionError) and after.status_code == 404:
            self.add("write_delete", title, PASSED, "Deleted; reading it again answers 404.", request=request)
        else:
            self.add("write_delete", title, FAILED, "The target answered the DELETE but the user can still be read.",
                     request=request, response=self.answer(after),
                     fix=f"Delete {name} in the target by hand, and ask the vendor why a deleted user remains.")


def probe_value() -> str:
    """A matching value no object has: what the filter lines query."""
    return f"{PROBE_PREFIX}-{uuid.uuid4().hex[:12]}"


def sample_values(paths: Sequence[str], schema, suffix: str) -> tuple[dict, list[str]]:
    """A test user's values for the mapped target paths ({path: value}), and what was left out, with why."""
    values, skipped = {}, []
    for text in paths:
        try:
            path = parse_path(text)
        except ValueError:
            continue
        name = path.attribute.lower()
        if path.is_reference:
            skipped.append(f"{text} (a reference to another user)")
            continue
        if path.is_core and name in ("id", "meta", "schemas", "groups", "password"):
            skipped.append(f"{text} (the target owns it, or it is a secret)")
            continue
        found = schema.lookup(text) if schema is not None else None
        if found is not None and found.problem:
            skipped.append(f"{text} (not in the target's schema)")
            continue
        definition = found.definition if found is not None else None
        kind = (definition or {}).get("type")
        if definition is not None and definition["mutability"] in ("readOnly", "writeOnly"):
            skipped.append(f"{text} ({definition['mutability']})")
            continue
        value = _sample(path, kind, suffix)
        if value is None:
            skipped.append(f"{text} (a {kind} value)")
        else:
            values[text] = value
    if not any(parse_path(p).attribute.lower() == "username" for p in values):
        values["userName"] = _sample(parse_path("userName"), "string", suffix)
    return values, skipped


def _sample(path, kind, suffix):
    name, sub = path.attribute.lower(), (path.sub_attribute or "").lower()
    if (name == "active" and path.is_core) or kind == "boolean":
        return True
    if kind in ("reference", "binary", "complex"):
        return None
    samples = {"integer": 1, "decimal": 1.5, "dateTime": "2026-01-01T00:00:00Z"}
    if kind in samples:
        return samples[kind]
    if name == "username" and path.is_core:
        return f"Portal.Check.{suffix}@example.com"  # mixed case, to test case-insensitive filters
    if name == "emails":
        return f"{PROBE_PREFIX}-{suffix}@example.com"
    if name == "phonenumbers":
        return "+1 555 0100"
    if name in ("locale", "preferredlanguage"):
        return "en-US"
    if name == "timezone":
        return "Europe/London"
    if sub == "country":
        return "GB"
    return f"{PROBE_PREFIX}-{suffix}"


def compare(sent: dict, stored: dict) -> tuple[list[str], list[tuple[str, object, object]]]:
    """(paths the target dropped, (path, sent, stored) it changed); string case and bool/text shape ignored."""
    dropped, changed = [], []
    for path, value in sent.items():
        kept = read_value(stored, path)
        if kept is None or kept == [] or kept == "":
            dropped.append(path)
        elif str(kept).lower() != str(value).lower():
            changed.append((path, value, kept))
    return dropped, changed
