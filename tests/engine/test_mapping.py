"""Evaluating an object mapping for one source object (engine/mapping.py)."""

import pytest

from provisioning.engine.errors import ObjectFailure
from provisioning.engine.mapping import evaluate_mappings, lookup
from provisioning.models import AttributeMapping, ExportState
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def user_mapping():
    app = factories.ApplicationFactory()
    return app.object_mappings.get(object_type="user")


def add(object_mapping, **fields):
    return factories.AttributeMappingFactory(object_mapping=object_mapping, **fields)


def test_lookup_is_case_insensitive_like_entra():
    assert lookup({"displayName": "Zoë"}, "DisplayName") == "Zoë"
    assert lookup({"displayName": "Zoë"}, "mail") is None


def test_default_value_applies_on_create_only(user_mapping):
    add(user_mapping, source_attribute="department", target_attribute="urn:x:costCenter", default_value="Unassigned")
    attributes = {"userPrincipalName": "a@b.c", "IsSoftDeleted": False}
    created = evaluate_mappings(user_mapping.application, user_mapping, attributes, creating=True)
    updated = evaluate_mappings(user_mapping.application, user_mapping, attributes, creating=False)
    assert created.values["urn:x:costCenter"] == "Unassigned"
    assert "urn:x:costCenter" not in updated.values


def test_only_during_creation_mappings_are_left_out_of_updates(user_mapping):
    add(user_mapping, mapping_type="constant", constant_value="Welcome", target_attribute="nickName",
        apply_on=AttributeMapping.ApplyOn.CREATE_ONLY)
    attributes = {"userPrincipalName": "a@b.c", "IsSoftDeleted": False}
    assert evaluate_mappings(user_mapping.application, user_mapping, attributes, creating=True).values["nickName"] == "Welcome"
    assert "nickName" not in evaluate_mappings(user_mapping.application, user_mapping, attributes, creating=False).values


def test_null_values_do_not_flow_and_none_mappings_are_ignored(user_mapping):
    add(user_mapping, mapping_type="none", target_attribute="nickName")
    evaluation = evaluate_mappings(user_mapping.application, user_mapping, {"userPrincipalName": "a@b.c", "IsSoftDeleted": False}, creating=True)
    assert "title" not in evaluation.values and "nickName" not in evaluation.values
    assert evaluation.values["active"] == "True"


def test_manager_resolves_to_the_managers_target_id_or_is_left_out_with_a_note(user_mapping):
    app = user_mapping.application
    boss = factories.DirectoryUserFactory()
    path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
    attributes = {"userPrincipalName": "a@b.c", "IsSoftDeleted": False, "manager": str(boss.object_id)}

    before = evaluate_mappings(app, user_mapping, attributes, creating=True)
    assert path not in before.values
    assert "not provisioned yet" in next(a.note for a in before.attributes if a.target == path)

    ExportState.objects.create(application=app, object_type="user", source_id=boss.object_id, target_id="boss-id")
    assert evaluate_mappings(app, user_mapping, attributes, creating=True).values[path] == "boss-id"


def test_required_mapping_without_value_raises_with_attribute_and_user(user_mapping):
    with pytest.raises(ObjectFailure) as excinfo:
        evaluate_mappings(user_mapping.application, user_mapping, {"displayName": "No UPN", "IsSoftDeleted": False}, creating=True)
    assert excinfo.value.code == "MandatoryFieldsMissing"
    assert "userName" in excinfo.value.description and "No UPN" in excinfo.value.description


def test_select_unique_value_asks_the_target(user_mapping):
    add(user_mapping, mapping_type="expression", target_attribute="nickName",
        expression='SelectUniqueValue(Join(".", [givenName], [surname]), Join(".", [givenName], [surname], "2"))')
    taken = {"Zoë.Müller"}
    evaluation = evaluate_mappings(
        user_mapping.application, user_mapping,
        {"userPrincipalName": "a@b.c", "givenName": "Zoë", "surname": "Müller", "IsSoftDeleted": False},
        creating=True, value_exists=lambda path: (lambda candidate: candidate in taken),
    )
    assert evaluation.values["nickName"] == "Zoë.Müller.2"
