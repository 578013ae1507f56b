"""provisioning.mapping_config.attribute_rules: the rules of one attribute mapping."""

import pytest

from provisioning.mapping_config.attribute_rules import (
    check_expression,
    deletion_refusal,
    mapping_values,
    validate_attribute_mapping,
)
from provisioning.mapping_config.source_schema import SourceSchema
from provisioning.mapping_config.target_schema import discovery_document, target_schema
from provisioning.models import ObjectMapping
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
def test_deletion_refusal_for_required_and_last_matching():
    app = factories.ApplicationFactory()
    users = app.object_mappings.get(object_type="user")
    user_name = users.attribute_mappings.get(target_attribute="userName")
    assert "required attribute" in deletion_refusal(user_name)
    user_name.required = False
    assert "only matching attribute" in deletion_refusal(user_name)
    assert deletion_refusal(users.attribute_mappings.get(target_attribute="title")) == ""


@pytest.mark.django_db
def test_mapping_values_match_the_validator_keys():
    mapping = factories.AttributeMappingFactory()
    assert set(mapping_values(mapping)) == set(values())
    assert ObjectMapping.objects.count() == 1


# --- against the target's schema ------------------------------------------------------------------------

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def small_target():
    from tests.scim.noncompliant import CORE_USER, ENTERPRISE_ATTRIBUTES, USER_ATTRIBUTES

    document = discovery_document([{"id": CORE_USER, "attributes": USER_ATTRIBUTES},
                                   {"id": ENTERPRISE, "attributes": ENTERPRISE_ATTRIBUTES}])
    return target_schema(document, "user")


def test_an_attribute_the_target_does_not_have_is_refused_with_a_suggestion():
    [(field, message)] = problems(values(target_attribute="titel"), target_schema=small_target())
    assert field == "target_attribute"
    assert "'titel' is refused: the target's User core schema has no attribute 'titel' — did you mean 'title'? Choose" in message
    assert problems(values(target_attribute="title"), target_schema=small_target()) == []
    assert problems(values(target_attribute="titel")) == []  # no /Schemas: free text


def test_read_only_and_server_owned_attributes_are_refused():
    target = small_target()
    [(_, message)] = problems(values(target_attribute='groups[type eq "direct"].value'), target_schema=target)
    assert "groups cannot be mapped on users" in message
    [(_, message)] = problems(values(target_attribute="meta.created"))
    assert "meta cannot be mapped" in message  # refused without /Schemas too
    [(_, message)] = problems(values(target_attribute="groups"))
    assert "groups cannot be mapped on users" in message


def test_a_read_only_attribute_of_the_targets_own_is_refused():
    from tests.scim.noncompliant import CORE_USER, USER_ATTRIBUTES

    attributes = [*USER_ATTRIBUTES, {"name": "created", "type": "dateTime", "mutability": "readOnly"}]
    target = target_schema(discovery_document([{"id": CORE_USER, "attributes": attributes}]), "user")
    [(_, message)] = problems(values(target_attribute="created"), target_schema=target)
    assert "'created' is read-only in the target's schema" in message


def test_password_needs_the_admins_confirmation():
    [(field, message)] = problems(values(target_attribute="password"))
    assert field == "target_attribute" and "password is write-only" in message and "tick" in message
    assert problems(values(target_attribute="password"), password_confirmed=True) == []
    assert problems(values(target_attribute="password"), target_schema=small_target(), password_confirmed=True) == []


def test_a_constant_of_the_wrong_type_is_refused():
    active = values(mapping_type="constant", source_attribute="", constant_value="yes", target_attribute="active")
    [(field, message)] = problems(active)  # active is a Boolean by RFC 7643, /Schemas or not
    assert field == "constant_value" and "active takes a Boolean: enter True or False, not 'yes'" in message
    assert problems({**active, "constant_value": "False"}) == []
    assert problems(active, target_schema=small_target())[0][1].startswith("Constant Value: active takes a Boolean")


def test_an_immutable_attribute_is_set_only_on_creation():
    [(field, message)] = problems(values(target_attribute="employeeType"), target_schema=small_target())
    assert field == "apply_on" and "Only during object creation" in message
    assert problems(values(target_attribute="employeeType", apply_on="create_only"), target_schema=small_target()) == []


def test_a_complex_attribute_needs_a_sub_attribute_but_manager_is_written_whole():
    [(_, message)] = problems(values(target_attribute="name"), target_schema=small_target())
    assert "'name' is a complex attribute: map one of its sub-attributes, e.g. name.givenName" in message
    assert problems(values(target_attribute=f"{ENTERPRISE}:manager", source_attribute="mail"), target_schema=small_target()) == []


def test_saved_mapping_warnings():
    from provisioning.mapping_config.attribute_rules import saved_mapping_warning

    target = small_target()
    assert saved_mapping_warning("title", "user", target) == ""
    assert saved_mapping_warning("titel", "user", target).startswith("Not in the app's schema")
    assert saved_mapping_warning("meta.created", "user", None).startswith("meta cannot be mapped")
    assert saved_mapping_warning("titel", "user", None) == ""
