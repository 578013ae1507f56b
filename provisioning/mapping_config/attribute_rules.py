"""The rules one attribute mapping must follow: the Edit Attribute dialog and the importer share
`validate_attribute_mapping`, so a configuration that imports cleanly is one an admin could have typed in
by hand, and the other way round. Target attributes are checked against the target's schema when it is
known (target_schema), and against the attributes every SCIM target owns itself when it is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from provisioning.scim.payload import PathError, _target_type, parse_path
from provisioning.expressions import ExpressionError, compile_expression
from provisioning.expressions.nodes import Call, walk
from provisioning.mapping_config.source_schema import SourceSchema
from provisioning.mapping_config.target_schema import TargetSchema, server_owned_problem, value_problem
from provisioning.models import AttributeMapping

MappingType = AttributeMapping.MappingType
ApplyOn = AttributeMapping.ApplyOn

# The Edit Attribute dialog's words, used in every message so the admin finds the field.
LABELS = {
    "mapping_type": "Mapping type",
    "source_attribute": "Source attribute",
    "constant_value": "Constant Value",
    "expression": "Expression",
    "default_value": "Default value if null",
    "target_attribute": "Target attribute",
    "is_matching": "Match objects using this attribute",
    "matching_precedence": "Matching precedence",
    "apply_on": "Apply this mapping",
    "required": "Required",
}
MAX_LENGTHS = {
    name: AttributeMapping._meta.get_field(name).max_length
    for name in ("source_attribute", "constant_value", "default_value", "target_attribute")
}


@dataclass(frozen=True)
class FieldProblem:
    field: str  # a key of LABELS
    message: str
    excerpt: str = ""  # for expression errors: the text with a caret under the problem


@dataclass(frozen=True)
class ExpressionCheck:
    ok: bool
    message: str = ""
    excerpt: str = ""
    reads: tuple[str, ...] = ()
    uses_select_unique_value: bool = False


def check_expression(text: str, schema: SourceSchema) -> ExpressionCheck:
    """Compile an expression against the source schema: what the inline validation and the tester show."""
    try:
        compiled = compile_expression(text, source_attributes=schema.attributes)
    except ExpressionError as exc:
        return ExpressionCheck(False, exc.message, exc.excerpt or "")
    return ExpressionCheck(
        True,
        reads=tuple(sorted(compiled.attributes, key=str.lower)),
        uses_select_unique_value=_calls(compiled, "SelectUniqueValue"),
    )


def _calls(compiled, function_name):
    return any(isinstance(node, Call) and node.name == function_name for node in walk(compiled.tree))


def validate_attribute_mapping(
    values: Mapping[str, object],
    *,
    schema: SourceSchema,
    siblings: Sequence[Mapping[str, object]] = (),
    was_matching: bool = False,
    target_schema: TargetSchema | None = None,
    password_confirmed: bool = False,
) -> list[FieldProblem]:
    """Every problem with one attribute mapping, each naming its field and saying the fix.

    `values` holds the LABELS keys with Python values (strings, bools, an int or None for the precedence);
    `siblings` are the other attribute mappings of the same object mapping (same keys);
    `was_matching` is true when editing a mapping that is saved as a matching attribute;
    `target_schema` is what the target's /Schemas says (None: not offered, so only the RFC's rules apply);
    `password_confirmed`: the admin confirmed that the target should receive a password.
    """
    problems: list[FieldProblem] = []

    def problem(name, message, excerpt=""):
        problems.append(FieldProblem(name, message, excerpt))

    mapping_type = values.get("mapping_type") or ""
    source = (values.get("source_attribute") or "").strip()
    constant = values.get("constant_value") or ""
    expression = values.get("expression") or ""
    target = (values.get("target_attribute") or "").strip()
    is_matching = bool(values.get("is_matching"))
    precedence = values.get("matching_precedence")
    apply_on = values.get("apply_on") or ""

    for name, limit in MAX_LENGTHS.items():
        if len(values.get(name) or "") > limit:
            problem(name, f"{LABELS[name]} is too long: use at most {limit:,} characters.")

    if mapping_type not in MappingType.values:
        problem("mapping_type", "Mapping type must be Direct, Constant, Expression or None: choose one.")
    elif mapping_type == MappingType.DIRECT:
        if not source:
            problem("source_attribute", "Source attribute is required for a Direct mapping: choose the directory attribute to copy.")
        elif schema.canonical(source) is None:
            problem(
                "source_attribute",
                f"Source attribute '{source}' is not an attribute of {schema.noun}{schema.suggestion(source)} "
                "Choose one from the list.",
            )
    elif mapping_type == MappingType.CONSTANT:
        if constant == "":
            problem(
                "constant_value",
                "Constant Value is required for a Constant mapping: enter the value every object gets "
                "(or choose Mapping type None to leave the target attribute alone).",
            )
    elif mapping_type == MappingType.EXPRESSION:
        if not expression.strip():
            problem("expression", 'Expression is required for an Expression mapping: enter one, e.g. Join(" ", [givenName], [surname]).')
        else:
            check = check_expression(expression, schema)
            if not check.ok:
                problem("expression", check.message, check.excerpt)
            elif check.uses_select_unique_value and is_matching:
                problem(
                    "expression",
                    "SelectUniqueValue cannot be used on a matching attribute: it generates a new value when an "
                    "object is created, so it cannot find an existing one. Set Match objects using this attribute "
                    "to No, or match on another attribute.",
                )

    if _check_target(target, siblings, problem):
        _check_against_target(values, target, schema.object_type, target_schema, password_confirmed, problem)

    if is_matching:
        if mapping_type == MappingType.NONE:
            problem(
                "is_matching",
                "A mapping of type None gives no value to match on: choose Direct or Expression, "
                "or set Match objects using this attribute to No.",
            )
        elif mapping_type == MappingType.CONSTANT:
            problem(
                "is_matching",
                "A Constant mapping cannot be used for matching: every object would match the same target "
                "object. Choose Direct or Expression, or set Match objects using this attribute to No.",
            )
        _check_precedence(precedence, siblings, problem)
    elif was_matching and not any(s.get("is_matching") for s in siblings):
        problem(
            "is_matching",
            "At least one attribute must be used for matching, and this is the only one: set Match objects "
            "using this attribute to Yes on another mapping first.",
        )

    if apply_on not in ApplyOn.values:
        problem("apply_on", "Apply this mapping must be Always or Only during object creation: choose one.")
    return problems


def _check_target(target, siblings, problem) -> bool:
    """The path itself and duplicates; True when it is worth checking against the target's schema."""
    if not target:
        problem("target_attribute", "Target attribute is required: enter the SCIM attribute to write, e.g. userName.")
        return False
    try:
        parse_path(target)
    except PathError as exc:
        problem("target_attribute", f"Target attribute is not a valid SCIM path: {exc}")
        return False
    key = _target_key(target)
    for sibling in siblings:
        if _target_key(sibling.get("target_attribute") or "") == key:
            problem(
                "target_attribute",
                f"Target attribute '{target}' is already mapped in this object mapping "
                f"(from {_source_text(sibling)}): edit that mapping instead, or choose another target attribute.",
            )
            return False
    return True


def saved_mapping_warning(target: str, object_type: str, target_schema: TargetSchema | None) -> str:
    """What is wrong with an already saved mapping's target attribute ('' when nothing): the target's schema
    may have been read, or changed, after the mapping was saved."""
    try:
        path = parse_path(target)
    except PathError as exc:
        return str(exc)
    owned = server_owned_problem(path, object_type)
    if owned or target_schema is None:
        return owned
    found = target_schema.lookup(target)
    if found.problem:
        return f"Not in the app's schema: {_sentence(found.problem)}"
    if found.definition["mutability"] == "readOnly":
        return "Read-only in the app's schema: the app refuses writes to it."
    return ""


def _sentence(text):
    return text if text.endswith(("?", ".")) else text + "."


def password_confirmation(target: str) -> str:
    return (
        f"{target} is write-only: the target stores it and never shows it back, and every cycle that sees a "
        "change sends it again. Confirm that this app should receive it (tick 'Send this write-only value to "
        "the target'), or remove the mapping."
    )


def _check_against_target(values, target, object_type, target_schema, password_confirmed, problem):
    """Refuse what the target cannot take: server-owned or read-only attributes, unknown ones, wrong types."""
    path = parse_path(target)
    owned = server_owned_problem(path, object_type)
    if owned:
        problem("target_attribute", owned)
        return
    definition = None
    if target_schema is not None:
        found = target_schema.lookup(target)
        if found.problem:
            problem("target_attribute", f"Target attribute '{target}' is refused: {_sentence(found.problem)} Choose "
                                        "an attribute from the target's list, or refresh it if the app's schema changed.")
            return
        definition = found.definition
        mutability = definition["mutability"]
        if mutability == "readOnly":
            problem("target_attribute", f"Target attribute '{target}' is read-only in the target's schema: the app "
                                        "sets it itself and refuses writes. Choose another target attribute.")
            return
        if mutability == "immutable" and values.get("apply_on") != ApplyOn.CREATE_ONLY:
            problem("apply_on", f"'{target}' is immutable in the target's schema: it can be set only when the object "
                                "is created. Set Apply this mapping to Only during object creation.")
        if definition["type"] == "complex" and not path.is_reference and not path.is_members:
            subs = ", ".join(f"{target}.{s['name']}" for s in (definition.get("subAttributes") or [])[:3])
            problem("target_attribute", f"'{target}' is a complex attribute: map one of its sub-attributes"
                                        f"{', e.g. ' + subs if subs else ''}.")
            return
    is_password = path.is_core and path.attribute.lower() == "password" and not path.sub_attribute
    if (is_password or (definition or {}).get("mutability") == "writeOnly") and not password_confirmed:
        problem("target_attribute", password_confirmation(target))
    if values.get("mapping_type") == MappingType.CONSTANT and values.get("constant_value"):
        if definition is None:
            known = _target_type(path)  # without /Schemas: RFC 7643's types (active is a Boolean)
            definition = {"name": target, "type": known} if known in ("boolean",) else None
        if definition is not None:
            wrong = value_problem({**definition, "name": target}, values["constant_value"])
            if wrong:
                problem("constant_value", f"Constant Value: {wrong}")


def _check_precedence(precedence, siblings, problem):
    if precedence is None or precedence == "":
        problem(
            "matching_precedence",
            "Matching precedence is required when Match objects using this attribute is Yes: "
            "enter 1 for the attribute tried first, 2 for the next.",
        )
        return
    if isinstance(precedence, bool) or not isinstance(precedence, int) or precedence < 1:
        problem("matching_precedence", "Matching precedence must be a whole number of 1 or more.")
        return
    for sibling in siblings:
        if sibling.get("is_matching") and sibling.get("matching_precedence") == precedence:
            problem(
                "matching_precedence",
                f"Matching precedence {precedence} is already used by {sibling.get('target_attribute')}: "
                "each matching attribute needs its own precedence.",
            )
            return


def _target_key(target):
    """SCIM attribute names are case-insensitive; the filter value is not."""
    try:
        return parse_path(target.strip()).text.lower()
    except PathError:
        return target.strip().lower()


def _source_text(values):
    kind = values.get("mapping_type")
    if kind == MappingType.DIRECT:
        return values.get("source_attribute") or "(no source)"
    if kind == MappingType.CONSTANT:
        return f'"{values.get("constant_value")}"'
    if kind == MappingType.EXPRESSION:
        text = values.get("expression") or ""
        return text if len(text) <= 60 else text[:57] + "…"
    return "None"


def mapping_values(mapping: AttributeMapping) -> dict[str, object]:
    """A saved attribute mapping as the dict validate_attribute_mapping reads."""
    return {name: getattr(mapping, name) for name in LABELS}


def deletion_refusal(mapping: AttributeMapping) -> str:
    """Why this attribute mapping cannot be deleted, or '' when it can."""
    if mapping.required:
        return (
            f"{mapping.target_attribute} is a required attribute of {mapping.object_mapping.name} and cannot be "
            "deleted. Edit it to change where its value comes from."
        )
    if mapping.is_matching:
        others = mapping.object_mapping.attribute_mappings.exclude(pk=mapping.pk).filter(is_matching=True)
        if not others.exists():
            return (
                f"{mapping.target_attribute} is the only matching attribute of {mapping.object_mapping.name}: "
                "at least one must remain. Set Match objects using this attribute to Yes on another mapping first."
            )
    return ""
