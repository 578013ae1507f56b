"""provisioning.mapping_config.target_schema: the target's /Schemas as a pick list and as Save's rules."""

import httpx
import pytest

from provisioning.scim.payload import parse_path
from provisioning.mapping_config.target_schema import (
    MAX_ATTRIBUTES,
    SchemaError,
    discovery_document,
    server_owned_problem,
    target_schema,
    value_problem,
)
from tests.scim.noncompliant import ENTERPRISE, NonCompliantTarget, Quirks


@pytest.fixture(scope="module")
def scim2_document(scim_server):
    """What scim2-server really publishes, read once."""
    base = scim_server.tenant_url()
    headers = {"Authorization": f"Bearer {scim_server.token}"}
    schemas = httpx.get(f"{base}/Schemas", headers=headers).json()
    types = httpx.get(f"{base}/ResourceTypes", headers=headers).json()
    return discovery_document(schemas, types)


@pytest.fixture(scope="module")
def small_document():
    with NonCompliantTarget(Quirks()) as target:
        headers = {"Authorization": f"Bearer {target.token}"}
        return discovery_document(httpx.get(f"{target.url}/Schemas", headers=headers).json(),
                                  httpx.get(f"{target.url}/ResourceTypes", headers=headers).json())


def test_scim2_servers_user_pick_list_has_the_paths_mappings_write(scim2_document):
    schema = target_schema(scim2_document, "user")
    by_path = {a.path: a for a in schema.attributes()}
    assert by_path["userName"].type == "string" and by_path["userName"].required
    assert by_path["active"].type == "boolean"
    assert by_path['emails[type eq "work"].value'].mutability == "readWrite"
    assert by_path["name.givenName"].label == "name.givenName (string, readWrite)"
    assert by_path[f"{ENTERPRISE}:manager"].type == "reference"  # written whole, as the manager's target id
    assert by_path["externalId"].writable  # RFC 7643 §3.1: common to every resource, though /Schemas omits it
    assert not by_path["id"].writable and not by_path['groups[type eq "direct"].value'].writable
    assert by_path["password"].mutability == "writeOnly"


def test_scim2_servers_group_schema(scim2_document):
    schema = target_schema(scim2_document, "group")
    by_path = {a.path: a for a in schema.attributes()}
    assert {"displayName", "externalId", "members"} <= set(by_path)
    assert schema.lookup("members").definition["type"] == "complex"


def test_lookup_names_the_problem_and_the_near_miss(scim2_document):
    schema = target_schema(scim2_document, "user")
    assert schema.lookup("userName").problem == ""
    assert schema.lookup("USERNAME").definition["name"] == "userName"  # names are case-insensitive
    assert schema.lookup("titel").problem == "the target's User core schema has no attribute 'titel' — did you mean 'title'?"
    assert "has no sub-attribute 'givenNam'" in schema.lookup("name.givenNam").problem
    assert "is a string in the target's schema, not a complex attribute" in schema.lookup("title.value").problem
    assert "no schema extension urn:example:custom" in schema.lookup("urn:example:custom:badge").problem
    assert schema.lookup(f"{ENTERPRISE}:department").definition["type"] == "string"
    # A sub-attribute of a read-only attribute is read-only, whatever it says itself.
    assert schema.lookup('groups[type eq "direct"].value').definition["mutability"] == "readOnly"


def test_small_target_mutabilities(small_document):
    schema = target_schema(small_document, "user")
    assert schema.lookup("employeeType").definition["mutability"] == "immutable"
    assert schema.lookup("password").definition["mutability"] == "writeOnly"
    assert schema.lookup("meta.created").definition["mutability"] == "readOnly"


def test_without_resource_types_users_get_core_and_enterprise():
    schemas = {"Resources": [
        {"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": [{"name": "userName", "type": "string"}]},
        {"id": ENTERPRISE, "attributes": [{"name": "department", "type": "string"}]},
    ]}
    document = discovery_document(schemas, None)
    assert target_schema(document, "user").schema_urns == ("urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE)
    assert target_schema(document, "group") is None  # no Group schema: free text for groups
    assert target_schema({}, "user") is None


@pytest.mark.parametrize("answer, reason", [
    ({"detail": "nope"}, "neither a ListResponse of schemas nor a list"),
    ({"Resources": [{"id": "x"}]}, "lists no schema with attributes"),
    ([], "lists no schema with attributes"),
])
def test_unusable_answers_say_why(answer, reason):
    with pytest.raises(SchemaError, match=reason):
        discovery_document(answer)


def test_a_hostile_schema_is_bounded_and_cleaned():
    attributes = [{"name": f"a{i}", "type": "string", "description": "x" * 10_000} for i in range(5_000)]
    attributes += [{"name": "bad name!"}, {"name": {"not": "text"}}, "not an object"]
    document = discovery_document([{"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": attributes}])
    stored = document["schemas"]["urn:ietf:params:scim:schemas:core:2.0:User"]["attributes"]
    assert len(stored) <= MAX_ATTRIBUTES + 2  # + the common id and externalId
    assert max(len(a["description"]) for a in stored) <= 160
    assert all(" " not in a["name"] for a in stored)


@pytest.mark.parametrize("path, object_type, owned", [
    ("id", "user", "id cannot be mapped"),
    ("meta.lastModified", "user", "meta cannot be mapped"),
    ("groups", "user", "groups cannot be mapped on users"),
    ("schemas", "group", "schemas cannot be mapped"),
    ("members", "group", ""),
    ("userName", "user", ""),
    (f"{ENTERPRISE}:id", "user", ""),  # an extension's own attribute named id is the extension's business
])
def test_server_owned_attributes(path, object_type, owned):
    problem = server_owned_problem(parse_path(path), object_type)
    assert problem.startswith(owned) if owned else problem == ""


@pytest.mark.parametrize("kind, value, ok", [
    ("boolean", "yes", False), ("boolean", "True", True), ("boolean", "false", True),
    ("integer", "12", True), ("integer", "1.5", False), ("decimal", "1.5", True), ("decimal", "abc", False),
    ("dateTime", "2026-01-31T08:00:00Z", True), ("dateTime", "31/01/2026", False), ("string", "anything", True),
])
def test_constant_values_are_checked_against_the_type(kind, value, ok):
    problem = value_problem({"name": "attr", "type": kind}, value)
    assert (problem == "") is ok
    if not ok:
        assert f"'{value}'" in problem
