"""provisioning.mapping_config: the rules of one attribute mapping, and export / import of a whole configuration."""

import copy

import pytest

from provisioning.mapping_config import (
    FORMAT,
    DocumentError,
    SourceSchema,
    check_expression,
    deletion_refusal,
    export_configuration,
    import_configuration,
    mapping_values,
    read_document,
    source_schema,
    validate_attribute_mapping,
)
from provisioning.models import AttributeMapping, ObjectMapping, ScopingFilter
from tests import factories

SCHEMA = SourceSchema("user", ("userPrincipalName", "givenName", "surname", "mail", "department", "IsSoftDeleted"))


def values(**overrides):
    base = {
        "mapping_type": "direct",
        "source_attribute": "mail",
        "constant_value": "",
        "expression": "",
        "default_value": "",
        "target_attribute": "displayName",
        "is_matching": False,
        "matching_precedence": None,
        "apply_on": "always",
        "required": False,
    }
    base.update(overrides)
    return base


USER_NAME = values(source_attribute="userPrincipalName", target_attribute="userName", is_matching=True, matching_precedence=1)


def problems(candidate, siblings=(), **kwargs):
    return [(p.field, p.message) for p in validate_attribute_mapping(candidate, schema=SCHEMA, siblings=list(siblings), **kwargs)]


# --- one attribute mapping ---------------------------------------------------------------------------


def test_a_sound_mapping_has_no_problem():
    assert problems(values(), [USER_NAME]) == []
    assert problems(values(mapping_type="none", source_attribute=""), [USER_NAME]) == []


def test_direct_needs_a_known_source_attribute():
    assert problems(values(source_attribute=""))[0][0] == "source_attribute"
    [(field, message)] = problems(values(source_attribute="givnName"))
    assert field == "source_attribute" and "did you mean 'givenName'?" in message
    assert problems(values(source_attribute="GIVENNAME")) == []  # Entra's names are case-insensitive


def test_constant_needs_a_value():
    [(field, message)] = problems(values(mapping_type="constant", source_attribute=""))
    assert field == "constant_value" and "Constant Value is required" in message


def test_expression_must_parse_against_the_schema():
    [(field, message)] = problems(values(mapping_type="expression", expression=""))
    assert field == "expression" and "Expression is required" in message

    [problem] = validate_attribute_mapping(values(mapping_type="expression", expression='Join(".", [givenName] [surname])'), schema=SCHEMA)
    assert problem.field == "expression" and "after argument 2 of Join" in problem.message
    assert problem.excerpt.splitlines()[-1].strip() == "^"

    [(_, message)] = problems(values(mapping_type="expression", expression='Joyn(" ", [givenName])'))
    assert "unknown function 'Joyn'" in message and "did you mean Join?" in message
    [(_, message)] = problems(values(mapping_type="expression", expression="ToLower([departmant])"))
    assert "did you mean [department]?" in message
    [(_, message)] = problems(values(mapping_type="expression", expression=f'Append("{"x" * 10_000}", "")'))
    assert "at most 10,000 characters" in message


def test_check_expression_reports_what_it_reads():
    check = check_expression('Join(" ", [givenName], [surname])', SCHEMA)
    assert check.ok and check.reads == ("givenName", "surname")


def test_target_path_must_be_well_formed_not_id_and_not_duplicated():
    [(field, message)] = problems(values(target_attribute=""))
    assert field == "target_attribute" and "Target attribute is required" in message
    [(field, message)] = problems(values(target_attribute='emails[type eq "work".value'))
    assert field == "target_attribute" and "not a valid SCIM path" in message
    [(_, message)] = problems(values(target_attribute="id"))
    assert "id cannot be mapped" in message and "externalId" in message
    [(_, message)] = problems(values(target_attribute="USERNAME"), [USER_NAME])
    assert "'USERNAME' is already mapped" in message and "from userPrincipalName" in message
    assert problems(values(target_attribute='emails[type eq "home"].value'), [values(target_attribute='emails[type eq "work"].value')]) == []


def test_matching_needs_a_unique_precedence_and_a_real_value():
    [(field, message)] = problems(values(is_matching=True), [USER_NAME])
    assert field == "matching_precedence" and "Matching precedence is required" in message
    [(field, message)] = problems(values(is_matching=True, matching_precedence=1), [USER_NAME])
    assert field == "matching_precedence" and "already used by userName" in message
    [(field, _)] = problems(values(is_matching=True, matching_precedence=0))
    assert field == "matching_precedence"
    assert problems(values(is_matching=True, matching_precedence=2), [USER_NAME]) == []

    [(field, message)] = problems(values(mapping_type="none", is_matching=True, matching_precedence=2))
    assert field == "is_matching" and "type None gives no value" in message
    [(field, message)] = problems(values(mapping_type="constant", constant_value="x", is_matching=True, matching_precedence=2))
    assert "every object would match the same target" in message


def test_select_unique_value_cannot_match():
    expression = 'SelectUniqueValue(Join("", [givenName]), Join("", [givenName], [surname]))'
    assert problems(values(mapping_type="expression", expression=expression)) == []
    [(field, message)] = problems(values(mapping_type="expression", expression=expression, is_matching=True, matching_precedence=2))
    assert field == "expression" and "SelectUniqueValue cannot be used on a matching attribute" in message


def test_the_last_matching_attribute_must_stay_matching():
    [(field, message)] = problems(values(target_attribute="userName"), [], was_matching=True)
    assert field == "is_matching" and "At least one attribute must be used for matching" in message
    assert problems(values(target_attribute="userName"), [values(target_attribute="externalId", is_matching=True, matching_precedence=2)], was_matching=True) == []


def test_apply_and_type_must_be_choices_and_lengths_are_bounded():
    fields = {f for f, _ in problems(values(mapping_type="lookup", apply_on="sometimes", default_value="x" * 1025))}
    assert fields == {"mapping_type", "apply_on", "default_value"}


@pytest.mark.django_db
def test_source_schema_adds_extension_attributes_in_use():
    factories.DirectoryUserFactory(extension_attributes={"extension_costCenter": "4711", "extension_badges": ["a", "b"]})
    factories.DirectoryUserFactory(extension_attributes={"extension_costCenter": "4712"})
    schema = source_schema("user")
    assert schema.attributes[-3:] == ("IsSoftDeleted", "extension_badges", "extension_costCenter")
    assert schema.multi_valued == {"extension_badges"}
    assert "extension_costCenter" not in source_schema("group").attributes


@pytest.mark.django_db
def test_deletion_refusal_for_required_and_last_matching():
    app = factories.ApplicationFactory()
    users = app.object_mappings.get(object_type="user")
    user_name = users.attribute_mappings.get(target_attribute="userName")
    assert "required attribute" in deletion_refusal(user_name)
    user_name.required = False
    assert "only matching attribute" in deletion_refusal(user_name)
    assert deletion_refusal(users.attribute_mappings.get(target_attribute="title")) == ""


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


@pytest.mark.django_db
def test_mapping_values_match_the_validator_keys():
    mapping = factories.AttributeMappingFactory()
    assert set(mapping_values(mapping)) == set(values())
    assert ObjectMapping.objects.count() == 1
