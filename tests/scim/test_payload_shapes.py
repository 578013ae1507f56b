"""PATCH shapes chosen by what was learned about the target (scim/quirks.py overriding the request mode)."""

from provisioning.scim.payload import (
    ENTERPRISE_USER,
    Change,
    member_additions,
    member_removals,
    patch_operations,
    shape_keys,
)

WORK_EMAIL = 'emails[type eq "work"].value'
MANAGER = f"{ENTERPRISE_USER}:manager"


def test_the_manager_is_a_value_object_in_both_modes():
    for entra in (False, True):
        (operation,) = patch_operations([Change(MANAGER, None, "m1")], {}, entra_compatible=entra)
        assert operation["value"] == {"value": "m1"}
        assert operation["op"].lower() == "add"


def test_a_learned_boolean_shape_overrides_entra_mode_and_back():
    change = [Change("active", True, False)]
    assert patch_operations(change, {"active": True}, entra_compatible=True) == [{"op": "Replace", "path": "active", "value": "False"}]
    assert patch_operations(change, {"active": True}, entra_compatible=True, shapes={"active": "boolean"}) == [
        {"op": "Replace", "path": "active", "value": False}]
    assert patch_operations(change, {"active": True}, shapes={"active": "string"}) == [{"op": "replace", "path": "active", "value": "False"}]


def test_a_learned_absent_shape_switches_between_add_of_the_entry_and_replace_of_the_path():
    change = [Change(WORK_EMAIL, None, "a@contoso.example")]
    assert patch_operations(change, {}, entra_compatible=True) == [{"op": "Replace", "path": WORK_EMAIL, "value": "a@contoso.example"}]
    assert patch_operations(change, {}, entra_compatible=True, shapes={"absent": "add"}) == [
        {"op": "Add", "path": "emails", "value": [{"type": "work", "value": "a@contoso.example", "primary": True}]}]
    assert patch_operations(change, {}, shapes={"absent": "replace"}) == [{"op": "replace", "path": WORK_EMAIL, "value": "a@contoso.example"}]
    assert patch_operations([Change("title", None, "CTO")], {}, shapes={"absent": "replace"}) == [
        {"op": "replace", "path": "title", "value": "CTO"}]


def test_shape_keys_name_what_can_be_tried_the_other_way():
    assert shape_keys(Change("active", True, False), {"active": True}) == ["active"]
    assert shape_keys(Change("title", None, "CTO"), {}) == ["absent"]
    assert shape_keys(Change("title", "Eng", "CTO"), {"title": "Eng"}) == []


def test_members_are_added_and_removed_in_either_form():
    assert member_additions(["u1"]) == [{"op": "add", "path": "members", "value": [{"value": "u1"}]}]
    assert member_additions([]) == [] and member_removals([]) == []
    assert member_removals(["u1", "u2"]) == [{"op": "remove", "path": 'members[value eq "u1"]'},
                                             {"op": "remove", "path": 'members[value eq "u2"]'}]
    assert member_removals(["u1"], shape="value_list") == [{"op": "remove", "path": "members", "value": [{"value": "u1"}]}]
    assert member_removals(["u1"], entra_compatible=True) == [
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "u1"}]}]
    assert member_removals(["u1"], entra_compatible=True, shape="filter") == [{"op": "Remove", "path": 'members[value eq "u1"]'}]
