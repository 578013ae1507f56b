"""SCIM payloads from target attribute paths, in RFC and Entra-compatible modes — and accepted by a real server."""

import httpx
import pytest

from provisioning.scim.payload import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    ENTRA_GROUP,
    Change,
    PathError,
    TargetPath,
    build_resource,
    coerce_value,
    diff,
    membership_operations,
    parse_path,
    patch_operations,
    read_value,
)

ENT = ENTERPRISE_USER
CUSTOM = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
WORK_EMAIL = 'emails[type eq "work"].value'
MOBILE = 'phoneNumbers[type eq "mobile"].value'
WORK_CITY = 'addresses[type eq "work"].locality'


# --- parse_path ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, expected",
    [
        ("userName", TargetPath(None, "userName", None, None, None)),
        ("active", TargetPath(None, "active", None, None, None)),
        ("name.givenName", TargetPath(None, "name", None, None, "givenName")),
        (WORK_EMAIL, TargetPath(None, "emails", "type", "work", "value")),
        (MOBILE, TargetPath(None, "phoneNumbers", "type", "mobile", "value")),
        (WORK_CITY, TargetPath(None, "addresses", "type", "work", "locality")),
        (f"{ENT}:department", TargetPath(ENT, "department", None, None, None)),
        (f"{ENT}:manager", TargetPath(ENT, "manager", None, None, None)),
        (f"{CUSTOM}:costCenter", TargetPath(CUSTOM, "costCenter", None, None, None)),
        (f"{CORE_USER}:userName", TargetPath(CORE_USER, "userName", None, None, None)),
        ("displayName", TargetPath(None, "displayName", None, None, None)),
        ("externalId", TargetPath(None, "externalId", None, None, None)),
        ("members", TargetPath(None, "members", None, None, None)),
        ('emails[type EQ "a]b \\"x\\""].value', TargetPath(None, "emails", "type", 'a]b "x"', "value")),
        ("  userName  ", TargetPath(None, "userName", None, None, None)),
    ],
)
def test_parse_path(path, expected):
    parsed = parse_path(path)
    assert parsed == expected
    assert parse_path(parsed.text) == parsed  # text is a faithful rendering


def test_path_properties():
    assert parse_path(WORK_EMAIL).text == WORK_EMAIL
    assert parse_path(f"{ENT}:manager").is_reference
    assert not parse_path(f"{ENT}:manager").is_core
    assert parse_path(f"{CORE_USER}:userName").is_core
    assert parse_path("members").is_members
    assert parse_path(f"{CUSTOM}:emails[type eq \"x\"].value").container_path == f"{CUSTOM}:emails"


@pytest.mark.parametrize(
    "path, message",
    [
        ("", "The target attribute path is empty"),
        ('emails[type eq "work".value', "unbalanced [ in"),
        ('emails[type eq "work"]].value', "unbalanced ] in"),
        ('emails[type eq "work].value', 'unterminated "'),
        ("emails[type eq work].value", 'filter must be `attr eq "value"`'),
        ('emails[type ne "work"].value', 'filter must be `attr eq "value"`'),
        ('emails[type eq "work" and primary eq true].value', 'filter must be `attr eq "value"`'),
        ('emails[type eq "work"]', "no sub-attribute"),
        ('emails[a eq "[x"][b eq "y"].value', "a path holds one filter"),
        ('emails[type eq [x]].value', "nested [ in"),
        ("name.given.first", "not a sub-attribute name"),
        ("9lives", "is not a SCIM attribute name"),
        ("user name", "Unexpected"),
        (f"{ENT}:", "ends with its schema URN"),
        ("urn:department", "is not a schema URN"),
    ],
)
def test_malformed_paths(path, message):
    with pytest.raises(PathError) as excinfo:
        parse_path(path)
    assert message in str(excinfo.value)
    assert isinstance(excinfo.value, ValueError)


# --- coerce_value ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected", [(True, True), ("True", True), ("true", True), (False, False), ("False", False), (" false ", False)]
)
def test_active_becomes_a_boolean(raw, expected):
    assert coerce_value("active", raw) is expected


def test_active_refuses_non_booleans_with_a_fix():
    with pytest.raises(ValueError, match=r"active takes a Boolean .* 'yes'.*Not\(\[IsSoftDeleted\]\)"):
        coerce_value("active", "yes")


def test_coerce_strings_and_unknown_types():
    assert coerce_value("title", True) == "True"
    assert coerce_value(f"{ENT}:employeeNumber", 42) == "42"
    assert coerce_value(WORK_EMAIL, "a@b.c") == "a@b.c"
    assert coerce_value("userName", "Ann@X") == "Ann@X"
    assert coerce_value(f"{CUSTOM}:isContractor", True) is True  # unknown target type: left alone
    assert coerce_value(f"{ENT}:manager", "abc") == "abc"
    assert coerce_value("title", None) is None


# --- build_resource ------------------------------------------------------------------------------------

USER_VALUES = {
    "userName": "ann@contoso.com",
    "active": "True",
    "displayName": "Ann Lee",
    "name.givenName": "Ann",
    "name.familyName": "Lee",
    WORK_EMAIL: "ann@contoso.com",
    MOBILE: "+1 555 0100",
    WORK_CITY: "Paris",
    'addresses[type eq "work"].postalCode': "75001",
    "externalId": "ann",
    f"{ENT}:department": "Engineering",
    f"{ENT}:manager": "mgr-target-id",
    f"{CUSTOM}:costCenter": "4711",
    "title": None,  # null does not flow
}


def test_build_user_rfc():
    body = build_resource("User", USER_VALUES)
    assert body == {
        "schemas": [CORE_USER, ENT, CUSTOM],
        "userName": "ann@contoso.com",
        "active": True,
        "displayName": "Ann Lee",
        "name": {"givenName": "Ann", "familyName": "Lee"},
        "emails": [{"type": "work", "value": "ann@contoso.com", "primary": True}],
        "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100"}],
        "addresses": [{"type": "work", "locality": "Paris", "postalCode": "75001"}],
        "externalId": "ann",
        ENT: {"department": "Engineering", "manager": {"value": "mgr-target-id"}},
        CUSTOM: {"costCenter": "4711"},
    }


def test_build_user_entra_compatible():
    body = build_resource("User", {"userName": "ann", "active": True, f"{CUSTOM}:costCenter": "1"}, entra_compatible=True)
    assert body == {
        "schemas": [CORE_USER, ENT],  # Entra always lists enterprise and never a custom extension
        "userName": "ann",
        "active": True,
        CUSTOM: {"costCenter": "1"},
        "meta": {"resourceType": "User"},
    }


def test_only_the_first_email_is_primary():
    body = build_resource("User", {WORK_EMAIL: "a@w", 'emails[type eq "home"].value': "a@h"})
    assert body["emails"] == [{"type": "work", "value": "a@w", "primary": True}, {"type": "home", "value": "a@h"}]


def test_build_group_without_members():
    values = {"displayName": "Engineering", "externalId": "oid-1", "members": ["u1", "u2"]}
    assert build_resource("Group", values) == {"schemas": [CORE_GROUP], "displayName": "Engineering", "externalId": "oid-1"}
    assert build_resource("Group", values, entra_compatible=True) == {
        "schemas": [CORE_GROUP, ENTRA_GROUP],
        "displayName": "Engineering",
        "externalId": "oid-1",
        "meta": {"resourceType": "Group"},
    }


def test_build_refuses_bad_input():
    with pytest.raises(ValueError, match="'User' or 'Group'"):
        build_resource("Users", {})
    with pytest.raises(PathError, match="same attribute"):
        build_resource("User", {"name": "Ann", "name.givenName": "Ann"})
    with pytest.raises(PathError, match="unbalanced"):
        build_resource("User", {"emails[type": "x"})


# --- read_value ------------------------------------------------------------------------------------

TARGET_USER = {
    "schemas": [CORE_USER, ENT],
    "id": "u1",
    "userName": "Ann@Contoso.com",
    "active": True,
    "name": {"givenName": "Ann", "familyName": "Lee"},
    "emails": [{"type": "Work", "value": "ann@contoso.com", "primary": True}],
    "addresses": [{"type": "work", "locality": "Paris"}],
    ENT: {"department": "Engineering", "manager": {"value": "m1", "$ref": "../Users/m1", "displayName": "Max"}},
}


@pytest.mark.parametrize(
    "path, expected",
    [
        ("userName", "Ann@Contoso.com"),
        ("USERNAME", "Ann@Contoso.com"),  # attribute names are case-insensitive
        ("active", True),
        ("name.givenName", "Ann"),
        ("name.middleName", None),
        (WORK_EMAIL, "ann@contoso.com"),  # type values compare case-insensitively
        ('emails[type eq "home"].value', None),
        (MOBILE, None),
        (WORK_CITY, "Paris"),
        ('addresses[type eq "work"].postalCode', None),
        (f"{ENT}:department", "Engineering"),
        (f"{ENT}:manager", "m1"),
        (f"{ENT}:costCenter", None),
        (f"{CUSTOM}:costCenter", None),
        (f"{CORE_USER}:userName", "Ann@Contoso.com"),
        ("title", None),
    ],
)
def test_read_value(path, expected):
    assert read_value(TARGET_USER, path) == expected


def test_read_group_values():
    group = {"displayName": "Eng", "externalId": "g", "members": [{"value": "u1"}, {"value": "u2", "display": "B"}]}
    assert read_value(group, "displayName") == "Eng"
    assert read_value(group, "members") == ["u1", "u2"]
    assert read_value({"displayName": "Eng"}, "members") is None


def test_read_manager_held_as_a_plain_id():
    assert read_value({ENT: {"manager": "m9"}}, f"{ENT}:manager") == "m9"


# --- diff ------------------------------------------------------------------------------------


def test_diff_unchanged():
    desired = {
        "userName": "Ann@Contoso.com",
        "active": "True",  # the target holds true
        "name.givenName": "Ann",
        WORK_EMAIL: "ann@contoso.com",
        f"{ENT}:department": "Engineering",
        f"{ENT}:manager": "m1",
        "title": None,  # not compared: null does not flow
    }
    assert diff(desired, TARGET_USER) == []


def test_diff_changes():
    desired = {
        "userName": "ann@contoso.com",  # a case change is a change
        "active": "False",
        "name.givenName": "Anne",
        MOBILE: "+1 555",  # new multi-valued entry
        f"{ENT}:manager": "m2",
        f"{ENT}:costCenter": 4711,
    }
    assert diff(desired, TARGET_USER) == [
        Change("userName", "Ann@Contoso.com", "ann@contoso.com"),
        Change("active", True, False),
        Change("name.givenName", "Ann", "Anne"),
        Change(MOBILE, None, "+1 555"),
        Change(f"{ENT}:manager", "m1", "m2"),
        Change(f"{ENT}:costCenter", None, "4711"),
    ]


def test_diff_normalises_booleans_held_as_strings_by_the_target():
    assert diff({"active": True}, {"active": "True"}) == []
    assert diff({"active": False}, {"active": "true"}) == [Change("active", "true", False)]
    assert diff({f"{CUSTOM}:flag": True}, {CUSTOM: {"flag": "True"}}) == []


def test_diff_ignores_members():
    assert diff({"displayName": "Eng", "members": ["u1"]}, {"displayName": "Eng", "members": []}) == []


# --- patch_operations ------------------------------------------------------------------------------------


def changes_for(desired, resource):
    return diff(desired, resource)


def test_patch_rfc_every_path_form():
    desired = {
        "userName": "ann@contoso.com",
        "active": False,
        "name.givenName": "Anne",
        "name.middleName": "J",
        WORK_EMAIL: "anne@contoso.com",
        MOBILE: "+1 555",
        WORK_CITY: "Lyon",
        'addresses[type eq "work"].postalCode': "69001",
        f"{ENT}:department": "Sales",
        f"{ENT}:costCenter": "4711",
        f"{ENT}:manager": "m2",
        f"{CUSTOM}:costCenter": "12",
        "title": "Engineer",
    }
    assert patch_operations(diff(desired, TARGET_USER), TARGET_USER) == [
        {"op": "replace", "path": "userName", "value": "ann@contoso.com"},
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": "name.givenName", "value": "Anne"},
        {"op": "add", "path": "name.middleName", "value": "J"},
        {"op": "replace", "path": WORK_EMAIL, "value": "anne@contoso.com"},
        {"op": "add", "path": "phoneNumbers", "value": [{"type": "mobile", "value": "+1 555"}]},
        {"op": "replace", "path": WORK_CITY, "value": "Lyon"},
        {"op": "replace", "path": 'addresses[type eq "work"].postalCode', "value": "69001"},
        {"op": "replace", "path": f"{ENT}:department", "value": "Sales"},
        {"op": "add", "path": f"{ENT}:costCenter", "value": "4711"},
        {"op": "replace", "path": f"{ENT}:manager", "value": {"value": "m2"}},
        {"op": "add", "path": f"{CUSTOM}:costCenter", "value": "12"},
        {"op": "add", "path": "title", "value": "Engineer"},
    ]


def test_patch_rfc_adds_a_whole_entry_when_none_of_that_type_exists():
    bare = {"userName": "bob"}
    desired = {WORK_EMAIL: "bob@w", WORK_CITY: "Oslo", 'addresses[type eq "work"].country': "NO", f"{ENT}:manager": "m1"}
    assert patch_operations(diff(desired, bare), bare) == [
        {"op": "add", "path": "emails", "value": [{"type": "work", "value": "bob@w", "primary": True}]},
        # two sub-attributes of one new entry travel as one entry
        {"op": "add", "path": "addresses", "value": [{"type": "work", "locality": "Oslo", "country": "NO"}]},
        {"op": "add", "path": f"{ENT}:manager", "value": {"value": "m1"}},
    ]


def test_patch_rfc_new_email_type_beside_existing_is_not_primary():
    ops = patch_operations([Change('emails[type eq "home"].value', None, "a@h")], TARGET_USER)
    assert ops == [{"op": "add", "path": "emails", "value": [{"type": "home", "value": "a@h"}]}]


def test_patch_entra_compatible_every_path_form():
    desired = {
        "userName": "ann@contoso.com",
        "active": False,
        "name.middleName": "J",
        WORK_EMAIL: "anne@contoso.com",
        MOBILE: "+1 555",
        WORK_CITY: "Lyon",
        f"{ENT}:department": "Sales",
        f"{ENT}:manager": "m2",
        f"{CUSTOM}:costCenter": "12",
    }
    assert patch_operations(diff(desired, TARGET_USER), TARGET_USER, entra_compatible=True) == [
        {"op": "Replace", "path": "userName", "value": "ann@contoso.com"},
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "name.middleName", "value": "J"},
        {"op": "Replace", "path": WORK_EMAIL, "value": "anne@contoso.com"},
        {"op": "Replace", "path": MOBILE, "value": "+1 555"},  # Entra replaces the filtered path even when absent
        {"op": "Replace", "path": WORK_CITY, "value": "Lyon"},
        {"op": "Replace", "path": f"{ENT}:department", "value": "Sales"},
        {"op": "Replace", "path": f"{ENT}:manager", "value": {"value": "m2"}},  # {"value": id} in both modes
        {"op": "Add", "path": f"{CUSTOM}:costCenter", "value": "12"},
    ]
    enable = patch_operations([Change("active", False, True)], {"active": False}, entra_compatible=True)
    assert enable == [{"op": "Replace", "path": "active", "value": "True"}]


def test_patch_group_display_name_both_modes():
    group = {"displayName": "Eng", "externalId": "g1"}
    changes = diff({"displayName": "Engineering", "externalId": "g1"}, group)
    assert patch_operations(changes, group) == [{"op": "replace", "path": "displayName", "value": "Engineering"}]
    assert patch_operations(changes, group, entra_compatible=True) == [
        {"op": "Replace", "path": "displayName", "value": "Engineering"}
    ]


def test_patch_refuses_members_and_nulls():
    with pytest.raises(ValueError, match="member_additions"):
        patch_operations([Change("members", [], ["u1"])], {})
    with pytest.raises(ValueError, match="null values are never provisioned"):
        patch_operations([Change("title", "x", None)], {"title": "x"})


# --- membership_operations ------------------------------------------------------------------------------------


def test_membership_rfc():
    assert membership_operations(["u1", "u2", "u1"], ["u3", 'we"ird']) == [
        {"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]},
        {"op": "remove", "path": 'members[value eq "u3"]'},
        {"op": "remove", "path": 'members[value eq "we\\"ird"]'},
    ]


def test_membership_entra_compatible():
    assert membership_operations(["u1"], ["u3", "u4"], entra_compatible=True) == [
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": "u1"}]},
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "u3"}, {"$ref": None, "value": "u4"}]},
    ]


def test_membership_edge_cases():
    assert membership_operations([], []) == []
    assert membership_operations([], ["u1"]) == [{"op": "remove", "path": 'members[value eq "u1"]'}]
    with pytest.raises(ValueError, match="both added and removed"):
        membership_operations(["u1"], ["u1"])
    with pytest.raises(ValueError, match="non-empty string ids"):
        membership_operations([""], [])


# --- a real SCIM server accepts the RFC-mode output ------------------------------------------------------


@pytest.fixture
def scim(scim_server, scim_tenant_url):
    with httpx.Client(
        base_url=scim_tenant_url,
        headers={"Authorization": f"Bearer {scim_server.token}", "Content-Type": "application/scim+json"},
        timeout=10,
    ) as client:
        yield client


def send_patch(client, endpoint, operations):
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}
    response = client.patch(endpoint, json=body)
    assert response.status_code in (200, 204), response.text


def create(client, endpoint, body):
    response = client.post(endpoint, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def test_rfc_user_payloads_are_accepted_by_scim2_server(scim):
    manager = create(scim, "/Users", build_resource("User", {"userName": "max@contoso.com", "active": True}))
    initial = {"userName": "ann@contoso.com", "active": "True", "name.givenName": "Ann"}
    user = create(scim, "/Users", build_resource("User", initial))
    assert read_value(user, WORK_EMAIL) is None

    desired = {
        "userName": "ann@contoso.com",
        "active": "False",
        "name.givenName": "Anne",
        "name.familyName": "Lee",
        WORK_EMAIL: "ann@contoso.com",  # no email yet: must become an add of the whole entry
        WORK_CITY: "Lyon",
        f"{ENT}:department": "Engineering",
        f"{ENT}:manager": manager["id"],
    }
    changes = diff(desired, user)
    assert [c.path for c in changes] == [p for p in desired if p != "userName"]
    send_patch(scim, f"/Users/{user['id']}", patch_operations(changes, user))

    stored = scim.get(f"/Users/{user['id']}").json()
    assert stored["active"] is False
    assert stored["emails"] == [{"type": "work", "value": "ann@contoso.com", "primary": True}]
    for path, value in desired.items():
        assert read_value(stored, path) == coerce_value(path, value), path
    assert diff(desired, stored) == []

    # A second round replaces the values that now exist.
    again = {WORK_EMAIL: "anne@contoso.com", f"{ENT}:department": "Sales", "active": True}
    operations = patch_operations(diff(again, stored), stored)
    assert {op["op"] for op in operations} == {"replace"}
    send_patch(scim, f"/Users/{user['id']}", operations)
    assert diff(again, scim.get(f"/Users/{user['id']}").json()) == []


def test_rfc_group_payloads_are_accepted_by_scim2_server(scim):
    ids = [create(scim, "/Users", build_resource("User", {"userName": f"u{i}@contoso.com"}))["id"] for i in range(3)]
    group = create(scim, "/Groups", build_resource("Group", {"displayName": "Eng", "externalId": "g1", "members": ids}))
    assert read_value(group, "members") is None  # created empty

    send_patch(scim, f"/Groups/{group['id']}", membership_operations(ids, []))
    assert sorted(read_value(scim.get(f"/Groups/{group['id']}").json(), "members")) == sorted(ids)

    send_patch(scim, f"/Groups/{group['id']}", membership_operations([], ids[:2]))
    stored = scim.get(f"/Groups/{group['id']}").json()
    assert read_value(stored, "members") == ids[2:]

    send_patch(scim, f"/Groups/{group['id']}", patch_operations(diff({"displayName": "Engineering"}, stored), stored))
    assert scim.get(f"/Groups/{group['id']}").json()["displayName"] == "Engineering"
