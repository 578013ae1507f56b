"""Export / import of every object mapping of an application (attribute mappings + scoping filters) as one
JSON document.

Import is all or nothing: the whole document is checked first, with the same rules as the Edit Attribute
dialog and the scoping editor, and every problem is reported with its JSON location
(`objectMappings[0].attributeMappings[3].expression`); only a document without problems replaces the
application's configuration, in one transaction.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field

from django.db import transaction

from provisioning.defaults import DEFAULT_OBJECT_MAPPINGS
from provisioning.scim.payload import PathError, parse_path
from provisioning.mapping_config.attribute_rules import ApplyOn, MappingType, validate_attribute_mapping
from provisioning.mapping_config.clause_rules import validate_filter_title, validate_scoping_clause
from provisioning.mapping_config.source_schema import SourceSchema, source_schema
from provisioning.mapping_config.target_schema import target_schema
from provisioning.mapping_config.watermark import require_full_cycle
from provisioning.models import AttributeMapping, ObjectMapping, ScopingClause, ScopingFilter

FORMAT = "provisioning-portal/mappings"
VERSION = 1
OBJECT_TYPES = tuple(ObjectMapping.ObjectType.values)

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
# Not a model field: a write-only target (password) is mapped only when the admin confirmed it, and an
# exported mapping carries that confirmation so the document imports again.
CONFIRM_KEY = "confirmWriteOnly"
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
        "objectMappings": [_export_object_mapping(m, app.target_schema) for m in object_mappings],
    }


def _export_object_mapping(mapping, document):
    return {
        "objectType": mapping.object_type,
        "name": mapping.name,
        "enabled": mapping.enabled,
        "targetObject": mapping.target_object,
        "actions": {key: getattr(mapping, name) for key, name in ACTION_KEYS.items()},
        "attributeMappings": [_export_attribute(a, mapping.object_type, document) for a in mapping.attribute_mappings.all()],
        "scopingFilters": [
            {
                "title": f.title,
                "clauses": [{"attribute": c.attribute, "operator": c.operator, "value": c.value} for c in f.clauses.all()],
            }
            for f in mapping.scoping_filters.all()
        ],
    }


def _export_attribute(mapping, object_type, document):
    entry = {key: getattr(mapping, name) for key, name in ATTRIBUTE_KEYS.items()}
    if _is_write_only(mapping.target_attribute, object_type, document):
        entry[CONFIRM_KEY] = True
    return entry


def _is_write_only(target, object_type, document):
    try:
        path = parse_path(target)
    except PathError:
        return False
    if path.is_core and path.attribute.lower() == "password" and not path.sub_attribute:
        return True
    schema = target_schema(document, object_type)
    found = schema.lookup(target) if schema else None
    return bool(found and found.definition and found.definition["mutability"] == "writeOnly")


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
    checker = _ImportChecker(app.target_schema)
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

    def __init__(self, target_document=None):
        self.problems: list[Problem] = []
        self._schemas: dict[str, SourceSchema] = {}
        self.target_document = target_document

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
        target = target_schema(self.target_document, object_type)
        accepted = []
        for index, entry in enumerate(entries):
            where = f"{location}.attributeMappings[{index}]"
            values = self.attribute_values(entry, where)
            if values is None:
                continue
            confirmed = self.typed(entry, CONFIRM_KEY, where, "true/false", False)
            problems = validate_attribute_mapping(
                values, schema=schema, siblings=accepted, target_schema=target, password_confirmed=confirmed
            )
            for problem in problems:
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
        if not self.keys(entry, where, (*ATTRIBUTE_KEYS, CONFIRM_KEY), required=("targetAttribute", "mappingType")):
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


_FIELD_TO_KEY = {model_field: key for key, model_field in ATTRIBUTE_KEYS.items()}


def _json_key(model_field):
    return _FIELD_TO_KEY.get(model_field, model_field)
