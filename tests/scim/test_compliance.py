"""Test Connection's compliance checklist, against the real scim2-server and a target that breaks the rules."""

import httpx

from provisioning.scim.filters import matching_filter
from provisioning.mapping_config.target_schema import target_schema
from provisioning.scim.compliance import FAILED, NOT_APPLICABLE, NOT_CHECKED, PASSED, MatchingAttribute, Target, probe_value
from provisioning.scim.connection import check_connection
from tests.scim.noncompliant import NonCompliantTarget, Quirks
from tests.servers import free_port

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DEFAULT_USER_ATTRIBUTES = (
    "userName", "active", "displayName", "title", 'emails[type eq "work"].value', "name.givenName", "name.familyName",
    "name.formatted", "externalId", f"{ENTERPRISE}:employeeNumber", f"{ENTERPRISE}:department", f"{ENTERPRISE}:manager",
)


def matching(resource, path, precedence=1):
    return MatchingAttribute(resource, path, precedence, matching_filter(path, probe_value()))


DEFAULT_TARGET = Target(
    matching=(matching("Users", "userName"), matching("Groups", "displayName")),
    groups_enabled=True,
    user_attributes=DEFAULT_USER_ATTRIBUTES,
)


def lines(result):
    return {check.key: check for check in result.checks}


def statuses(result):
    return {check.key: check.status for check in result.checks}


# ---------------------------------------------------------------- scim2-server


def test_every_read_only_line_passes_against_scim2_server(scim_server, scim_tenant_url):
    result = check_connection(scim_tenant_url, scim_server.token, compliance=DEFAULT_TARGET)

    assert result.ok
    assert statuses(result) == {
        "authentication": PASSED, "service_provider_config": PASSED, "schemas": PASSED, "resource_types": PASSED,
        "empty_result": PASSED, "filter:Groups:displayName": PASSED, "filter:Users:userName": PASSED,
        "patch": PASSED, "groups": PASSED,
        "username_case": NOT_APPLICABLE,  # an empty tenant has no user to try
        "write_test": NOT_CHECKED,
    }
    checks = lines(result)
    assert checks["authentication"].request.startswith(f"GET {scim_tenant_url}/Users?filter=userName+eq+")
    assert "Authorization: Bearer [redacted]" in checks["authentication"].request
    assert scim_server.token not in repr(result.checks)
    assert "Lists User at /Users" in checks["resource_types"].summary
    schema = target_schema(result.target_schema, "user")
    paths = {a.path for a in schema.attributes()}
    assert {"userName", "name.givenName", 'emails[type eq "work"].value', f"{ENTERPRISE}:department"} <= paths


def test_the_write_test_creates_reads_patches_and_deletes_a_user_on_scim2_server(scim_server, scim_tenant_url):
    result = check_connection(scim_tenant_url, scim_server.token, compliance=DEFAULT_TARGET, write=True)

    checks = lines(result)
    for key in ("write_create", "write_read", "write_patch", "write_delete", "username_case", "patch"):
        assert checks[key].status == PASSED, checks[key]
    assert "write_test" not in checks
    assert f"Not sent: {ENTERPRISE}:manager (a reference to another user)" in checks["write_create"].summary
    assert "Portal.Check." in checks["write_create"].request and '"title"' in checks["write_create"].request
    left = httpx.get(f"{scim_tenant_url}/Users", headers={"Authorization": f"Bearer {scim_server.token}"}).json()
    assert left["totalResults"] == 0  # the throw-away user is gone


def test_a_rejected_token_fails_authentication_and_still_reads_what_needs_none(scim_server, scim_tenant_url):
    result = check_connection(scim_tenant_url, "wrong-token-abc123", compliance=DEFAULT_TARGET, write=True)

    assert not result.ok
    checks = lines(result)
    assert checks["authentication"].status == FAILED
    assert "401 Unauthorized" in checks["authentication"].response
    assert "Copy a current token" in checks["authentication"].fix
    assert checks["service_provider_config"].status == PASSED  # scim2-server serves it without a token
    assert checks["empty_result"].status == NOT_CHECKED
    assert "write_create" not in checks  # nothing is written through a connection that failed
    assert "wrong-token-abc123" not in repr(result.checks)


def test_an_unreachable_target_checks_nothing_else():
    result = check_connection(f"http://127.0.0.1:{free_port()}/scim/v2", "token", compliance=DEFAULT_TARGET)

    checks = lines(result)
    assert checks["authentication"].status == FAILED and "connection refused" in checks["authentication"].summary
    assert {c.status for k, c in checks.items() if k != "authentication"} == {NOT_CHECKED}


def test_without_the_compliance_target_test_connection_is_unchanged(scim_server, scim_tenant_url):
    result = check_connection(scim_tenant_url, scim_server.token)
    assert result.ok and result.checks == () and result.target_schema is None


# ---------------------------------------------------------------- a target that breaks the rules


def test_a_404_for_no_match_fails_with_the_request_and_the_answer():
    with NonCompliantTarget(Quirks(empty_404=True, no_groups=True, no_discovery=True)) as target:
        result = check_connection(target.url, target.token, compliance=DEFAULT_TARGET)

    checks = lines(result)
    assert not result.ok
    empty = checks["empty_result"]
    assert empty.status == FAILED and "404 Not Found instead of an empty ListResponse" in empty.summary
    assert empty.request.startswith(f"GET {target.url}/Users?filter=userName+eq+")
    assert empty.response.startswith("404 Not Found") and "No such user" in empty.response
    assert "RFC 7644 §3.4.2" in empty.fix
    assert checks["authentication"].status == PASSED
    for key in ("service_provider_config", "schemas", "resource_types"):
        assert checks[key].status == FAILED and not checks[key].required
    assert "free text" in checks["schemas"].fix
    assert checks["groups"].status == FAILED and "set Provision Microsoft Entra ID Groups to No" in checks["groups"].fix
    assert checks["patch"].status == NOT_APPLICABLE  # no ServiceProviderConfig says either way
    assert result.target_schema is None


def test_groups_off_makes_a_missing_groups_endpoint_not_applicable():
    with NonCompliantTarget(Quirks(no_groups=True)) as target:
        result = check_connection(target.url, target.token, compliance=Target(
            matching=(matching("Users", "userName"), matching("Groups", "displayName")), groups_enabled=False))

    checks = lines(result)
    assert checks["groups"].status == NOT_APPLICABLE and "Group provisioning is off" in checks["groups"].summary
    assert checks["filter:Groups:displayName"].status == NOT_APPLICABLE
    assert checks["resource_types"].status == PASSED


def test_unfilterable_matching_attribute_dropped_attributes_case_and_patch_are_each_reported():
    quirks = Quirks(case_sensitive=True, drops=("title", "emails"), unfilterable=("externalId",), no_patch=True)
    config = Target(matching=(matching("Users", "userName"), matching("Users", "externalId", 2)),
                    groups_enabled=False, user_attributes=DEFAULT_USER_ATTRIBUTES)
    with NonCompliantTarget(quirks) as target:
        result = check_connection(target.url, target.token, compliance=config, write=True)
        left = dict(target.users)

    assert result.ok  # the connection works; the checklist says what will not
    checks = lines(result)
    assert checks["filter:Users:userName"].status == PASSED
    external = checks["filter:Users:externalId"]
    assert external.status == FAILED and "400 Bad Request" in external.summary + external.response
    assert "invalidFilter" in external.response and "Match objects using this attribute" in external.fix
    read = checks["write_read"]
    assert read.status == FAILED
    assert 'the target dropped title, emails[type eq "work"].value' in read.summary
    assert checks["username_case"].status == FAILED and "case-sensitively" in checks["username_case"].summary
    assert checks["patch"].status == FAILED
    patch = checks["write_patch"]
    assert patch.status == FAILED and patch.response.startswith("501") and "PATCH is not implemented" in patch.response
    assert patch.request.startswith("PATCH ") and '"Operations"' in patch.request
    assert checks["write_delete"].status == PASSED and left == {}


def test_the_write_test_sends_only_what_the_target_schema_has():
    with NonCompliantTarget(Quirks(schema_without=("title",))) as target:
        result = check_connection(target.url, target.token, compliance=DEFAULT_TARGET, write=True)
        posted = [r for r in target.requests if r[0] == "POST"]

    create = lines(result)["write_create"]
    assert create.status == PASSED and len(posted) == 1
    assert "title (not in the target's schema)" in create.summary and '"title"' not in create.request
    assert f"{ENTERPRISE}:manager (a reference to another user)" in create.summary


def test_an_existing_user_tests_case_insensitive_user_names_without_writing():
    with NonCompliantTarget(Quirks(case_sensitive=True)) as target:
        target.users["u1"] = {"id": "u1", "userName": "Dave.Brown@Contoso.com"}
        result = check_connection(target.url, target.token, compliance=DEFAULT_TARGET)
        posted = [r for r in target.requests if r[0] != "GET"]

    case = lines(result)["username_case"]
    assert case.status == FAILED
    assert "'dAVE.bROWN@cONTOSO.COM' did not find the user 'Dave.Brown@Contoso.com'" in case.summary
    assert posted == []  # read-only unless the admin asked for the write test


def test_the_small_target_without_quirks_passes_every_line():
    with NonCompliantTarget(Quirks()) as target:
        result = check_connection(target.url, target.token, compliance=DEFAULT_TARGET, write=True)
    checks = lines(result)
    assert [k for k, c in checks.items() if c.status == FAILED] == []
