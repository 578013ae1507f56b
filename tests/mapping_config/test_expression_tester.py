"""provisioning.mapping_config.expression_tester: evaluate an expression for a directory user, with test values."""

import pytest

from provisioning.mapping_config.expression_tester import show, test_expression, typed_test_value
from provisioning.mapping_config.source_schema import SourceSchema

SCHEMA = SourceSchema("user", ("givenName", "surname", "accountEnabled", "mail"))


class Person:
    def source_attributes(self):
        return {"givenName": "Ada", "surname": "Lovelace", "accountEnabled": True}

    def __str__(self):
        return "Ada Lovelace"


def test_it_evaluates_for_the_subject_and_lists_what_it_read():
    outcome = test_expression('Join(" ", [givenName], [surname])', SCHEMA, Person(), {})
    assert outcome["value"] == "Ada Lovelace" and outcome["error"] == ""
    assert [(r["name"], r["own"], r["used"]) for r in outcome["rows"]] == [
        ("givenName", "Ada", "Ada"), ("surname", "Lovelace", "Lovelace")]


def test_typed_values_override_and_null_is_null():
    outcome = test_expression('Join(" ", [givenName], [surname])', SCHEMA, Person(), {"surname": "Byron"})
    assert outcome["value"] == "Ada Byron" and outcome["overridden"]
    assert test_expression("[mail]", SCHEMA, None, {"mail": "(null)"})["is_null"]


def test_errors_say_what_and_where():
    assert "Enter an expression" in test_expression("  ", SCHEMA, None, {})["error"]
    outcome = test_expression("Join(", SCHEMA, None, {})
    assert outcome["error"] and "^" in outcome["excerpt"]


@pytest.mark.parametrize("name, text, value", [
    ("accountEnabled", "true", True), ("givenName", "true", "true"), ("mail", "a; b", ["a", "b"]), ("mail", "(null)", None),
])
def test_typed_test_values(name, text, value):
    assert typed_test_value(name, text) == value


def test_show():
    assert (show(None), show(True), show(["a", "b"]), show([])) == ("(null)", "True", "a; b", "(null)")
