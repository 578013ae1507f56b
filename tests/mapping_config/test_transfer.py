"""provisioning.mapping_config.transfer: export / import of a whole mapping configuration."""

import copy

import pytest

from provisioning.mapping_config.transfer import (
    FORMAT,
    DocumentError,
    export_configuration,
    import_configuration,
    read_document,
)
from provisioning.models import AttributeMapping, ScopingFilter
from tests import factories

# --- export ------------------------------------------------------------------------------------------


@pytest.fixture
def configured(db):
    app = factories.ApplicationFactory(name="Contoso")
    users = app.object_mappings.get(object_type="user")
    AttributeMapping.objects.filter(object_mapping=users, target_attribute="title").update(
        apply_on="create_only", default_value="Staff"
    )
    sales = factories.ScopingFilterFactory(object_mapping=users, title="Sales")
    factories.ScopingClauseFactory(scoping_filter=sales, attribute="department", operator="EQUALS", value="Sales")
    factories.ScopingClauseFactory(scoping_filter=sales, attribute="accountEnabled", operator="IS TRUE", value="")
    groups = app.object_mappings.get(object_type="group")
    groups.enabled, groups.action_delete = False, False
    groups.save()
    return app


def test_export_shape(configured):
    document = export_configuration(configured)
    assert document["format"] == FORMAT and document["version"] == 1 and document["application"] == "Contoso"
    by_type = {m["objectType"]: m for m in document["objectMappings"]}
    assert set(by_type) == {"user", "group"}
    users = by_type["user"]
    assert users["name"] == "Provision Directory Users" and users["enabled"] is True
    assert users["targetObject"] == "urn:ietf:params:scim:schemas:core:2.0:User"
    assert users["actions"] == {"create": True, "update": True, "delete": True}
    assert by_type["group"]["enabled"] is False and by_type["group"]["actions"]["delete"] is False
    assert users["attributeMappings"][0] == {
        "targetAttribute": "userName",
        "mappingType": "direct",
        "sourceAttribute": "userPrincipalName",
        "constantValue": "",
        "expression": "",
        "defaultValue": "",
        "matching": True,
        "matchingPrecedence": 1,
        "applyMapping": "always",
        "required": True,
    }
    title = next(a for a in users["attributeMappings"] if a["targetAttribute"] == "title")
    assert title["applyMapping"] == "create_only" and title["defaultValue"] == "Staff"
    assert users["scopingFilters"] == [
        {
            "title": "Sales",
            "clauses": [
                {"attribute": "department", "operator": "EQUALS", "value": "Sales"},
                {"attribute": "accountEnabled", "operator": "IS TRUE", "value": ""},
            ],
        }
    ]


# --- import ------------------------------------------------------------------------------------------


def test_round_trip_between_two_apps(configured):
    other = factories.ApplicationFactory(name="Fabrikam")
    exported = export_configuration(configured)
    result = import_configuration(other, copy.deepcopy(exported))
    assert result.ok and result.problems == []
    again = export_configuration(other)
    assert again.pop("application") == "Fabrikam"
    exported.pop("application")
    assert again == exported


def test_import_replaces_everything_and_drops_absent_object_types(configured):
    document = export_configuration(configured)
    document["objectMappings"] = [m for m in document["objectMappings"] if m["objectType"] == "user"]
    users = document["objectMappings"][0]
    users["attributeMappings"] = users["attributeMappings"][:2]
    users["scopingFilters"] = []
    assert import_configuration(configured, document).ok
    assert list(configured.object_mappings.values_list("object_type", flat=True)) == ["user"]
    user_mapping = configured.object_mappings.get()
    assert [a.target_attribute for a in user_mapping.attribute_mappings.all()] == ["userName", "active"]
    assert not ScopingFilter.objects.filter(object_mapping__application=configured).exists()


def locate(document, object_type):
    return next(i for i, m in enumerate(document["objectMappings"]) if m["objectType"] == object_type)


def test_import_lists_every_problem_with_its_location_and_applies_nothing(configured):
    before = export_configuration(configured)
    document = copy.deepcopy(before)
    u, g = locate(document, "user"), locate(document, "group")
    users, groups = document["objectMappings"][u], document["objectMappings"][g]
    users["attributeMappings"][3]["mappingType"] = "expression"
    users["attributeMappings"][3]["expression"] = 'Joyn(".", [givenName])'
    users["attributeMappings"][4]["targetAttribute"] = "userName"
    users["attributeMappings"][5]["matching"] = "yes"
    users["attributeMappings"][6]["colour"] = "blue"
    users["scopingFilters"][0]["clauses"][0] = {"attribute": "manager", "operator": "IS NOT NULL"}
    users["enabled"] = False
    groups["attributeMappings"][0]["matching"] = False
    groups["enabled"] = True

    result = import_configuration(configured, document)
    assert not result.applied and not result.ok
    found = {str(p) for p in result.problems}
    expected = [
        f"objectMappings[{u}].attributeMappings[3].expression: unknown function 'Joyn'",
        f"objectMappings[{u}].attributeMappings[4].targetAttribute: Target attribute 'userName' is already mapped",
        f"objectMappings[{u}].attributeMappings[5].matching: must be true/false, not text.",
        f"objectMappings[{u}].attributeMappings[6].colour: unknown key 'colour'",
        f"objectMappings[{u}].scopingFilters[0].clauses[0]: 'manager' cannot be used in a scoping filter: manager is a reference attribute",
        f"objectMappings[{u}].enabled: must be true: the user object mapping cannot be disabled",
        f"objectMappings[{g}].attributeMappings: has no matching attribute",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in found), (text, found)
    assert len(result.problems) == len(expected)
    assert export_configuration(configured) == before


def test_import_checks_the_document_shape(configured):
    def messages(document):
        return [str(p) for p in import_configuration(configured, document).problems]

    assert messages([]) == ["(document): must be a JSON object {…}, not a list."]
    assert messages({"format": "other", "version": 2, "objectMappings": []}) == [
        'format: must be "provisioning-portal/mappings": this is not a mapping configuration exported by Provisioning Portal.',
        "version: must be 1: this portal reads version 1 configurations only.",
        "objectMappings: is empty: include the user and/or group object mapping.",
    ]
    document = {"format": FORMAT, "version": 1, "objectMappings": [{"objectType": "device", "attributeMappings": []}, {"objectType": "user"}]}
    assert messages(document) == [
        "objectMappings[0].objectType: must be one of 'user', 'group', not \"device\".",
        "objectMappings[1].attributeMappings: is missing: every entry needs 'attributeMappings'.",
    ]
    one = {"objectType": "group", "attributeMappings": [{"targetAttribute": "displayName", "mappingType": "direct", "sourceAttribute": "displayName", "matching": True, "matchingPrecedence": 1}]}
    document = {"format": FORMAT, "version": 1, "objectMappings": [one, copy.deepcopy(one)]}
    assert messages(document) == ["objectMappings[1].objectType: 'group' is also configured by objectMappings[0]: keep one object mapping per object type."]
    # Optional keys take their defaults.
    document = {"format": FORMAT, "version": 1, "objectMappings": [one]}
    assert import_configuration(configured, document).ok
    groups = configured.object_mappings.get()
    assert groups.name == "Provision Directory Groups" and groups.enabled and groups.action_delete
    assert groups.attribute_mappings.get().apply_on == "always"


def test_import_checks_types_and_precedence(configured):
    document = export_configuration(configured)
    users = document["objectMappings"][locate(document, "user")]
    users["attributeMappings"][0]["matchingPrecedence"] = "first"
    users["attributeMappings"][1]["mappingType"] = "Lookup"
    users["attributeMappings"][2]["applyMapping"] = "weekly"
    users["scopingFilters"][0]["title"] = ""
    users["scopingFilters"][0]["clauses"].append({"attribute": "departmnt", "operator": "EQUALS", "value": "x"})
    found = [str(p) for p in import_configuration(configured, document).problems]
    u = locate(document, "user")
    assert found[0] == f'objectMappings[{u}].attributeMappings[0].matchingPrecedence: must be a whole number of 1 or more, or null; not "first".'
    assert found[1].startswith(f"objectMappings[{u}].attributeMappings[1].mappingType: must be one of 'direct', 'constant', 'expression', 'none'")
    assert found[2].startswith(f"objectMappings[{u}].attributeMappings[2].applyMapping: must be one of 'always', 'create_only'")
    assert any(p.startswith(f"objectMappings[{u}].attributeMappings: has no matching attribute") for p in found)
    assert any(p.startswith(f"objectMappings[{u}].scopingFilters[0].title: Scoping Filter Title is required") for p in found)
    assert any("clauses[2]: 'departmnt' is not an attribute of directory users — did you mean 'department'?" in p for p in found)


def test_read_document_explains_bad_input():
    assert read_document(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}
    with pytest.raises(DocumentError, match="not valid JSON: Expecting value at line 2, column 1"):
        read_document('{"a":\n')
    with pytest.raises(DocumentError, match="not UTF-8"):
        read_document(b"\xff\xfe\x00")
    with pytest.raises(DocumentError, match="is empty"):
        read_document("  ")




# --- against the target's schema ------------------------------------------------------------------------


def test_import_checks_target_attributes_against_the_apps_schema(configured):
    from tests.scim.noncompliant import CORE_USER, ENTERPRISE, ENTERPRISE_ATTRIBUTES, USER_ATTRIBUTES
    from provisioning.mapping_config.target_schema import discovery_document

    document = export_configuration(configured)
    configured.target_schema = discovery_document([{"id": CORE_USER, "attributes": USER_ATTRIBUTES},
                                                   {"id": ENTERPRISE, "attributes": ENTERPRISE_ATTRIBUTES}])
    configured.save()
    users = next(m for m in document["objectMappings"] if m["objectType"] == "user")
    users["attributeMappings"].append({"targetAttribute": "badgeNumber", "mappingType": "constant", "constantValue": "1"})
    result = import_configuration(configured, document)
    assert not result.applied
    [problem] = [p for p in result.problems if "badgeNumber" in p.message]
    assert problem.location.endswith(".targetAttribute") and "has no attribute 'badgeNumber'" in problem.message


def test_a_confirmed_password_mapping_round_trips(configured):
    users = configured.object_mappings.get(object_type="user")
    factories.AttributeMappingFactory(object_mapping=users, target_attribute="password", mapping_type="direct",
                                      source_attribute="mail", position=99)
    document = export_configuration(configured)
    exported = next(m for m in document["objectMappings"] if m["objectType"] == "user")
    [password] = [a for a in exported["attributeMappings"] if a["targetAttribute"] == "password"]
    assert password["confirmWriteOnly"] is True
    assert import_configuration(configured, copy.deepcopy(document)).ok
    del password["confirmWriteOnly"]
    result = import_configuration(configured, document)
    assert not result.applied and any("password is write-only" in p.message for p in result.problems)
