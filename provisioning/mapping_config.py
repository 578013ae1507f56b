"""An application's mapping configuration: the source schema, the rules one attribute mapping must follow,
and export / import of every object mapping (attribute mappings + scoping filters) as one JSON document.

The Edit Attribute dialog and the importer share `validate_attribute_mapping`, so a configuration that
imports cleanly is one an admin could have typed in by hand, and the other way round.

Import is all or nothing: the whole document is checked first and every problem is reported with its JSON
location (`objectMappings[0].attributeMappings[3].expression`); only a document without problems replaces
the application's configuration, in one transaction.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.db import transaction

from provisioning.defaults import DEFAULT_OBJECT_MAPPINGS
from provisioning.engine.payload import PathError, parse_path
from provisioning.expressions import ExpressionError, compile_expression
from provisioning.expressions.nodes import Call, walk
from provisioning.models import AttributeMapping, DirectoryUser, ObjectMapping, ScopingClause, ScopingFilter
from provisioning.models.directory import COMPUTED_USER_ATTRIBUTES, GROUP_ATTRIBUTES, USER_ATTRIBUTES
from provisioning.scoping import validate_clause

FORMAT = "provisioning-portal/mappings"
VERSION = 1

MappingType = AttributeMapping.MappingType
ApplyOn = AttributeMapping.ApplyOn
OBJECT_TYPES = tuple(ObjectMapping.ObjectType.values)

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
SCOPING_TITLE_MAX = ScopingFilter._meta.get_field("title").max_length
CLAUSE_VALUE_MAX = ScopingClause._meta.get_field("value").max_length


# --- the source schema ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceSchema:
    """The source attributes an object type offers: the dropdowns' choices and what expressions may read."""

    object_type: str
    attributes: tuple[str, ...]
    multi_valued: frozenset[str] = frozenset()

    def canonical(self, name: str) -> str | None:
        """The attribute's spelling in the schema; Entra's attribute names are case-insensitive."""
        lowered = (name or "").strip().lower()
        return next((a for a in self.attributes if a.lower() == lowered), None)

    def suggestion(self, name: str) -> str:
        """' — did you mean 'givenName'?' for a near miss, else ''."""
        by_lower = {a.lower(): a for a in self.attributes}
        close = difflib.get_close_matches((name or "").lower(), list(by_lower), n=1, cutoff=0.6)
        return f" — did you mean '{by_lower[close[0]]}'?" if close else ""

    @property
    def noun(self) -> str:
        return "directory users" if self.object_type == ObjectMapping.ObjectType.USER else "directory groups"


def source_schema(object_type: str) -> SourceSchema:
    """Directory attributes, plus for users the computed IsSoftDeleted and every extension attribute in use."""
    if object_type == ObjectMapping.ObjectType.GROUP:
        return SourceSchema(object_type, tuple(GROUP_ATTRIBUTES), frozenset({"members"}))
    extensions, multi_valued = set(), set()
    # Distinct JSON documents, not users: a directory shares a handful of extension shapes.
    documents = DirectoryUser.objects.exclude(extension_attributes={}).values_list("extension_attributes", flat=True)
    for document in documents.distinct():
        for name, value in (document or {}).items():
            extensions.add(name)
            if isinstance(value, list):
                multi_valued.add(name)
    known = {a.lower() for a in USER_ATTRIBUTES + COMPUTED_USER_ATTRIBUTES}
    extra = sorted((e for e in extensions if e.lower() not in known), key=str.lower)
    return SourceSchema(object_type, (*USER_ATTRIBUTES, *COMPUTED_USER_ATTRIBUTES, *extra), frozenset(multi_valued))


# --- one attribute mapping -----------------------------------------------------------------------


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
) -> list[FieldProblem]:
    """Every problem with one attribute mapping, each naming its field and saying the fix.

    `values` holds the LABELS keys with Python values (strings, bools, an int or None for the precedence);
    `siblings` are the other attribute mappings of the same object mapping (same keys);
    `was_matching` is true when editing a mapping that is saved as a matching attribute.
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

    _check_target(target, siblings, problem)

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


def _check_target(target, siblings, problem):
    if not target:
        problem("target_attribute", "Target attribute is required: enter the SCIM attribute to write, e.g. userName.")
        return
    try:
        path = parse_path(target)
    except PathError as exc:
        problem("target_attribute", f"Target attribute is not a valid SCIM path: {exc}")
        return
    if path.is_core and path.attribute.lower() == "id" and not path.sub_attribute and not path.is_filtered:
        problem(
            "target_attribute",
            "id cannot be mapped: the target app assigns it (it is the SCIM primary key). "
            "Map the value to externalId instead.",
        )
    key = _target_key(target)
    for sibling in siblings:
        if _target_key(sibling.get("target_attribute") or "") == key:
            problem(
                "target_attribute",
                f"Target attribute '{target}' is already mapped in this object mapping "
                f"(from {_source_text(sibling)}): edit that mapping instead, or choose another target attribute.",
            )
            return


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


def require_full_cycle(app) -> None:
    """After a mapping or scoping change the next cycle re-evaluates every object, as Entra restarts the job.

    An incremental cycle only reads objects changed since the watermark, so without this a user left out
    by a new scoping filter, or due a newly mapped attribute, would wait for its next source change.
    """
    type(app).objects.filter(pk=app.pk).update(watermark=None)
    app.watermark = None


# --- export --------------------------------------------------------------------------------------

# JSON key → model field, in the order the export writes them.
ATTRIBUTE_KEYS = {
    "targetAttribute": "target_attribute",
    "mappingType": "mapping_type",
    "sourceAttribute": "source_attribute",
    "constantValue": "constant_value",
    "expression": "expression",
    "defaultValue": "default_value",
    "matching": "is_matching",
    "matchingPrecedence": "matching_precedence",
    "applyMapping": "apply_on",
    "required": "required",
}
OBJECT_MAPPING_KEYS = ("objectType", "name", "enabled", "targetObject", "actions", "attributeMappings", "scopingFilters")
ACTION_KEYS = {"create": "action_create", "update": "action_update", "delete": "action_delete"}
DOCUMENT_KEYS = ("format", "version", "application", "objectMappings")


def export_configuration(app) -> dict:
    """Every object mapping of the application, with its attribute mappings and scoping filters."""
    object_mappings = app.object_mappings.prefetch_related("attribute_mappings", "scoping_filters__clauses")
    return {
        "format": FORMAT,
        "version": VERSION,
        "application": app.name,
        "objectMappings": [_export_object_mapping(m) for m in object_mappings],
    }


def _export_object_mapping(mapping):
    return {
        "objectType": mapping.object_type,
        "name": mapping.name,
        "enabled": mapping.enabled,
        "targetObject": mapping.target_object,
        "actions": {key: getattr(mapping, name) for key, name in ACTION_KEYS.items()},
        "attributeMappings": [
            {key: getattr(a, name) for key, name in ATTRIBUTE_KEYS.items()} for a in mapping.attribute_mappings.all()
        ],
        "scopingFilters": [
            {
                "title": f.title,
                "clauses": [{"attribute": c.attribute, "operator": c.operator, "value": c.value} for c in f.clauses.all()],
            }
            for f in mapping.scoping_filters.all()
        ],
    }


# --- import --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    location: str  # a JSON path into the document, e.g. objectMappings[0].attributeMappings[3].expression
    message: str
    excerpt: str = ""

    def __str__(self):
        return f"{self.location}: {self.message}"


@dataclass
class ImportResult:
    problems: list[Problem] = field(default_factory=list)
    applied: bool = False

    @property
    def ok(self) -> bool:
        return self.applied and not self.problems


class DocumentError(ValueError):
    """The uploaded text is not a JSON document at all; the message says where and how to fix it."""


def read_document(raw: bytes | str) -> object:
    """Parse an uploaded or pasted configuration file."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DocumentError(
                f"The file is not UTF-8 text (byte {exc.start} cannot be read): upload the .json file that Export downloaded."
            ) from None
    if not raw.strip():
        raise DocumentError("The configuration is empty: upload the .json file that Export downloaded, or paste its text.")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DocumentError(
            f"The configuration is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. "
            "Upload the file Export downloaded unchanged, or fix the JSON there."
        ) from None


def import_configuration(app, data: object) -> ImportResult:
    """Check the whole document; when it has no problem, replace the app's mapping configuration with it."""
    checker = _ImportChecker()
    plan = checker.document(data)
    if checker.problems:
        return ImportResult(checker.problems, applied=False)
    _apply(app, plan)
    require_full_cycle(app)
    return ImportResult([], applied=True)


@transaction.atomic
def _apply(app, plan):
    app.object_mappings.exclude(object_type__in=[p["object_type"] for p in plan]).delete()
    for item in plan:
        object_mapping, _ = ObjectMapping.objects.update_or_create(
            application=app, object_type=item["object_type"], defaults=item["fields"]
        )
        object_mapping.attribute_mappings.all().delete()
        object_mapping.scoping_filters.all().delete()
        AttributeMapping.objects.bulk_create(
            AttributeMapping(object_mapping=object_mapping, position=i, **values)
            for i, values in enumerate(item["attributes"])
        )
        for i, (title, clauses) in enumerate(item["filters"]):
            scoping_filter = ScopingFilter.objects.create(object_mapping=object_mapping, title=title, position=i)
            ScopingClause.objects.bulk_create(
                ScopingClause(scoping_filter=scoping_filter, position=j, **clause) for j, clause in enumerate(clauses)
            )


def _json_type(value):
    if value is None:
        return "null"
    return {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


DEFAULTS_BY_TYPE = {object_type: (name, target) for object_type, name, target, _ in DEFAULT_OBJECT_MAPPINGS}


class _ImportChecker:
    """Walks the document once, collecting problems and, alongside, the model values to write."""

    def __init__(self):
        self.problems: list[Problem] = []
        self._schemas: dict[str, SourceSchema] = {}

    def add(self, location, message, excerpt=""):
        self.problems.append(Problem(location, message, excerpt))

    def schema(self, object_type):
        if object_type not in self._schemas:
            self._schemas[object_type] = source_schema(object_type)
        return self._schemas[object_type]

    def keys(self, value, location, allowed, required=()):
        """True when value is a JSON object; reports unknown and missing keys."""
        if not isinstance(value, dict):
            self.add(location, f"must be a JSON object {{…}}, not {_json_type(value)}.")
            return False
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), list(allowed), n=1)
                hint = f" — did you mean '{close[0]}'?" if close else f" Expected keys: {', '.join(allowed)}."
                self.add(f"{location}.{key}", f"unknown key '{key}'{hint}")
        for key in required:
            if key not in value:
                self.add(f"{location}.{key}", f"is missing: every entry needs '{key}'.")
        return True

    def typed(self, container, key, location, kind, default):
        """container[key] when it has the JSON type kind ('text', 'true/false', 'list'), else default + a problem."""
        if key not in container:
            return default
        value = container[key]
        ok = {
            "text": isinstance(value, str),
            "true/false": isinstance(value, bool),
            "list": isinstance(value, list),
        }[kind]
        if not ok:
            self.add(f"{location}.{key}", f"must be {kind}, not {_json_type(value)}.")
            return default
        return value

    def document(self, data):
        if not self.keys(data, "(document)", DOCUMENT_KEYS, required=("format", "version", "objectMappings")):
            return []
        if "format" in data and data["format"] != FORMAT:
            self.add("format", f'must be "{FORMAT}": this is not a mapping configuration exported by Provisioning Portal.')
        if "version" in data and data["version"] != VERSION:
            self.add("version", f"must be {VERSION}: this portal reads version {VERSION} configurations only.")
        if "application" in data and not isinstance(data["application"], str):
            self.add("application", f"must be text, not {_json_type(data['application'])}.")
        items = self.typed(data, "objectMappings", "(document)", "list", [])
        if "objectMappings" in data and isinstance(items, list) and not items:
            self.add("objectMappings", "is empty: include the user and/or group object mapping.")
        plan, seen = [], {}
        for index, item in enumerate(items):
            location = f"objectMappings[{index}]"
            entry = self.object_mapping(item, location)
            if entry is None:
                continue
            if entry["object_type"] in seen:
                self.add(
                    f"{location}.objectType",
                    f"'{entry['object_type']}' is also configured by objectMappings[{seen[entry['object_type']]}]: "
                    "keep one object mapping per object type.",
                )
                continue
            seen[entry["object_type"]] = index
            plan.append(entry)
        return plan

    def object_mapping(self, item, location):
        if not self.keys(item, location, OBJECT_MAPPING_KEYS, required=("objectType", "attributeMappings")):
            return None
        object_type = item.get("objectType")
        if object_type not in OBJECT_TYPES:
            if "objectType" in item:
                self.add(f"{location}.objectType", f"must be one of {', '.join(map(repr, OBJECT_TYPES))}, not {json.dumps(object_type)}.")
            return None
        default_name, default_target = DEFAULTS_BY_TYPE[object_type]
        name = self.typed(item, "name", location, "text", default_name)
        target_object = self.typed(item, "targetObject", location, "text", default_target)
        enabled = self.typed(item, "enabled", location, "true/false", True)
        for key, value, limit in (("name", name, 128), ("targetObject", target_object, 256)):
            if not value.strip():
                self.add(f"{location}.{key}", "is empty: enter a value, or leave the key out for the default.")
            elif len(value) > limit:
                self.add(f"{location}.{key}", f"is too long: use at most {limit} characters.")
        if object_type == ObjectMapping.ObjectType.USER and not enabled:
            self.add(f"{location}.enabled", "must be true: the user object mapping cannot be disabled (as in Entra).")
        fields = {"name": name, "target_object": target_object, "enabled": enabled}
        actions = item.get("actions", {})
        if self.keys(actions, f"{location}.actions", tuple(ACTION_KEYS)):
            for key, model_field in ACTION_KEYS.items():
                fields[model_field] = self.typed(actions, key, f"{location}.actions", "true/false", True)
        attributes = self.attribute_mappings(item, location, object_type, enabled)
        filters = self.scoping_filters(item, location, object_type)
        return {"object_type": object_type, "fields": fields, "attributes": attributes, "filters": filters}

    def attribute_mappings(self, item, location, object_type, enabled):
        entries = self.typed(item, "attributeMappings", location, "list", [])
        schema = self.schema(object_type)
        accepted = []
        for index, entry in enumerate(entries):
            where = f"{location}.attributeMappings[{index}]"
            values = self.attribute_values(entry, where)
            if values is None:
                continue
            for problem in validate_attribute_mapping(values, schema=schema, siblings=accepted):
                self.add(f"{where}.{_json_key(problem.field)}", problem.message, problem.excerpt)
            accepted.append(values)
        readable = isinstance(item.get("attributeMappings"), list)
        if enabled and readable and not any(v["is_matching"] for v in accepted):
            self.add(
                f"{location}.attributeMappings",
                'has no matching attribute: set "matching": true and "matchingPrecedence": 1 on the mapping '
                "that identifies objects in the target (e.g. userName).",
            )
        return accepted

    def attribute_values(self, entry, where):
        if not self.keys(entry, where, tuple(ATTRIBUTE_KEYS), required=("targetAttribute", "mappingType")):
            return None
        values = {
            "target_attribute": self.typed(entry, "targetAttribute", where, "text", ""),
            "source_attribute": self.typed(entry, "sourceAttribute", where, "text", ""),
            "constant_value": self.typed(entry, "constantValue", where, "text", ""),
            "expression": self.typed(entry, "expression", where, "text", ""),
            "default_value": self.typed(entry, "defaultValue", where, "text", ""),
            "is_matching": self.typed(entry, "matching", where, "true/false", False),
            "required": self.typed(entry, "required", where, "true/false", False),
            "mapping_type": entry.get("mappingType"),
            "apply_on": entry.get("applyMapping", ApplyOn.ALWAYS),
            "matching_precedence": entry.get("matchingPrecedence"),
        }
        if values["mapping_type"] not in MappingType.values:
            if "mappingType" in entry:  # a missing key was reported by keys()
                self.add(f"{where}.mappingType", f"must be one of {', '.join(map(repr, MappingType.values))}, not {json.dumps(values['mapping_type'])}.")
            return None
        if values["apply_on"] not in ApplyOn.values:
            self.add(f"{where}.applyMapping", f"must be one of {', '.join(map(repr, ApplyOn.values))}, not {json.dumps(values['apply_on'])}.")
            values["apply_on"] = ApplyOn.ALWAYS
        precedence = values["matching_precedence"]
        if precedence is not None and (isinstance(precedence, bool) or not isinstance(precedence, int) or precedence < 1):
            self.add(f"{where}.matchingPrecedence", f"must be a whole number of 1 or more, or null; not {json.dumps(precedence)}.")
            values["matching_precedence"] = None
            values["is_matching"] = False  # reported once, not again as "precedence required"
        return values

    def scoping_filters(self, item, location, object_type):
        entries = self.typed(item, "scopingFilters", location, "list", [])
        schema = self.schema(object_type)
        accepted = []
        for index, entry in enumerate(entries):
            where = f"{location}.scopingFilters[{index}]"
            if not self.keys(entry, where, ("title", "clauses"), required=("title", "clauses")):
                continue
            title = self.typed(entry, "title", where, "text", "")
            if "title" in entry and isinstance(entry["title"], str):
                for message in validate_filter_title(title):
                    self.add(f"{where}.title", message)
            clauses = self.typed(entry, "clauses", where, "list", [])
            if "clauses" in entry and isinstance(entry["clauses"], list) and not clauses:
                self.add(f"{where}.clauses", "is empty: a scoping filter needs at least one clause.")
            checked = []
            for j, clause in enumerate(clauses):
                clause_where = f"{where}.clauses[{j}]"
                if not self.keys(clause, clause_where, ("attribute", "operator", "value"), required=("attribute", "operator")):
                    continue
                values = {
                    "attribute": self.typed(clause, "attribute", clause_where, "text", ""),
                    "operator": self.typed(clause, "operator", clause_where, "text", ""),
                    "value": self.typed(clause, "value", clause_where, "text", ""),
                }
                for message in validate_scoping_clause(schema, **values):
                    self.add(clause_where, message)
                checked.append(values)
            accepted.append((title, checked))
        return accepted


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


_FIELD_TO_KEY = {model_field: key for key, model_field in ATTRIBUTE_KEYS.items()}


def _json_key(model_field):
    return _FIELD_TO_KEY.get(model_field, model_field)
