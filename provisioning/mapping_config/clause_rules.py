"""The rules of a scoping filter's title and clauses, shared by the scoping editor and the importer."""

from __future__ import annotations

from provisioning.mapping_config.source_schema import SourceSchema
from provisioning.models import ScopingClause, ScopingFilter
from provisioning.scoping import validate_clause

SCOPING_TITLE_MAX = ScopingFilter._meta.get_field("title").max_length
CLAUSE_VALUE_MAX = ScopingClause._meta.get_field("value").max_length


def validate_filter_title(title: str) -> list[str]:
    if not title.strip():
        return ["Scoping Filter Title is required: name the filter, e.g. Sales department."]
    if len(title) > SCOPING_TITLE_MAX:
        return [f"Scoping Filter Title is too long: use at most {SCOPING_TITLE_MAX} characters."]
    return []


def validate_scoping_clause(schema: SourceSchema, attribute: str, operator: str, value: str) -> list[str]:
    """validate_clause's problems, plus an attribute the source objects do not have."""
    problems = validate_clause(attribute, operator, value, multi_valued=schema.multi_valued)
    name = (attribute or "").strip()
    already_refused = any(p.startswith(f"'{name}' cannot be used") for p in problems)
    if name and not already_refused and schema.canonical(name) is None:
        problems.insert(
            0,
            f"'{name}' is not an attribute of {schema.noun}{schema.suggestion(name)} "
            "Choose an attribute from the list: an unknown attribute is always null, so the clause would never pass.",
        )
    if len(value or "") > CLAUSE_VALUE_MAX:
        problems.append(f"The Attribute Value is too long: use at most {CLAUSE_VALUE_MAX} characters.")
    return problems

