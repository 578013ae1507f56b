"""The $filter subset: comparisons joined by and, parentheses; everything else refused in words."""

import pytest

from provisioning.api.odata import Condition, FilterError, parse

SUPPORTED = {"activityDateTime": ("ge", "le"), "provisioningAction": ("eq",), "sourceIdentity/displayName": ("eq",),
             "cycleId": ("eq",)}


def test_comparisons_joined_by_and_with_parentheses():
    text = "(activityDateTime ge 2025-11-23T09:00:00Z and activityDateTime le 2025-11-24T00:00:00Z) and provisioningAction eq 'create'"
    assert parse(text, SUPPORTED) == [
        Condition("activityDateTime", "ge", "2025-11-23T09:00:00Z"),
        Condition("activityDateTime", "le", "2025-11-24T00:00:00Z"),
        Condition("provisioningAction", "eq", "create"),
    ]


def test_strings_keep_spaces_and_doubled_quotes():
    assert parse("sourceIdentity/displayName eq 'Mary O''Brien (HR)'", SUPPORTED) == [
        Condition("sourceIdentity/displayName", "eq", "Mary O'Brien (HR)")]


def test_unquoted_guid():
    assert parse("cycleId eq 3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f", SUPPORTED)[0].value == "3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f"


@pytest.mark.parametrize("text,words", [
    ("provisioningAction eq 'create' or provisioningAction eq 'update'", "not 'or'"),
    ("not provisioningAction eq 'create'", "does not support 'not'"),
    ("startswith(sourceIdentity/displayName, 'Ja')", "does not support functions such as startswith()"),
    ("userPrincipalName eq 'x'", "cannot filter on 'userPrincipalName': use activityDateTime, provisioningAction"),
    ("activityDateTime gt 2025-01-01", "activityDateTime supports ge and le, not gt"),
    ("provisioningAction has 'create'", "'has' is not a comparison"),
    ("provisioningAction eq", "incomplete"),
    ("provisioningAction eq 'create", "no closing quote"),
    ("(provisioningAction eq 'create'", "no matching ')'"),
    ("provisioningAction eq 'create' provisioningAction eq 'x'", "join conditions with 'and'"),
    ("provisioningAction eq 'create' and", "ends where a condition should follow"),
    ("   ", "The $filter is empty"),
    ("provisioningAction eq ,", "has no value"),
])
def test_what_is_not_supported_is_refused_in_words(text, words):
    with pytest.raises(FilterError) as caught:
        parse(text, SUPPORTED)
    assert words in str(caught.value)


def test_deep_nesting_is_refused_not_a_recursion_error():
    with pytest.raises(FilterError, match="too deeply"):
        parse("(" * 500 + "cycleId eq 1" + ")" * 500, SUPPORTED)
