"""provisioning.mapping_config.clause_rules: scoping filter titles and clauses, as the editor and importer check them."""

from provisioning.mapping_config.clause_rules import CLAUSE_VALUE_MAX, validate_filter_title, validate_scoping_clause
from provisioning.mapping_config.source_schema import SourceSchema

SCHEMA = SourceSchema("user", ("department", "accountEnabled", "proxyAddresses"), frozenset({"proxyAddresses"}))


def test_a_title_is_required_and_bounded():
    assert validate_filter_title("  ")[0].startswith("Scoping Filter Title is required")
    assert "too long" in validate_filter_title("x" * 1000)[0]
    assert validate_filter_title("Sales") == []


def test_an_unknown_attribute_is_named_with_a_suggestion():
    [message] = validate_scoping_clause(SCHEMA, "departmnt", "EQUALS", "Sales")
    assert "'departmnt' is not an attribute of directory users — did you mean 'department'?" in message
    assert validate_scoping_clause(SCHEMA, "department", "EQUALS", "Sales") == []


def test_a_value_is_bounded():
    assert any("too long" in m for m in validate_scoping_clause(SCHEMA, "department", "EQUALS", "x" * (CLAUSE_VALUE_MAX + 1)))
