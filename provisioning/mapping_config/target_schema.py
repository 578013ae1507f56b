"""The target's schema: which attributes the SCIM app has, of which type and mutability (RFC 7643 §7).

Read from the app's /Schemas and /ResourceTypes by Test Connection (or Refresh on the mapping page) and stored
on the Application as a compact document (`discovery_document`), so the mapping editor needs no request:
its Target attribute becomes a pick list with type and mutability ("Edit attribute list for app" in Entra),
and Save refuses a mapping to an attribute the target does not have, cannot write, or of the wrong type.

Targets without /Schemas keep free text; the server-owned attributes (id, meta, groups, schemas) are refused
anyway, since RFC 7643 defines them as read-only on every target.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass

from provisioning.scim.payload import ENTERPRISE_USER, PathError, TargetPath, parse_path

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPES = {"user": "User", "group": "Group"}  # ObjectMapping.object_type → SCIM resource type
CORE_FOR = {"User": CORE_USER, "Group": CORE_GROUP}
TYPES = ("string", "boolean", "decimal", "integer", "dateTime", "reference", "complex", "binary")
MUTABILITIES = ("readOnly", "readWrite", "immutable", "writeOnly")
# What one hostile or huge /Schemas answer may put in the database.
MAX_SCHEMAS = 50
MAX_ATTRIBUTES = 400
MAX_DESCRIPTION = 160
MAX_CANONICAL = 20

# RFC 7643 §3.1 / §4.1.2: owned by the service provider on every target, whatever its /Schemas says.
SERVER_OWNED = {
    "id": "id cannot be mapped: the target app assigns it (it is the SCIM primary key). Map the value to externalId instead.",
    "meta": "meta cannot be mapped: the target app maintains it (created, lastModified, version, location) and "
            "refuses writes. Choose another target attribute.",
    "schemas": "schemas cannot be mapped: the portal sets it from the attributes you map.",
}
USER_GROUPS = (
    "groups cannot be mapped on users: it is read-only (RFC 7643 §4.1.2), the target derives it from group "
    "memberships. Provision the groups instead: turn on the group mapping, whose members attribute sets memberships."
)


# RFC 7643 §3.1: common to every resource, and not listed in /Schemas (§7: "not defined in any schema").
COMMON_ATTRIBUTES = [
    {"name": "id", "type": "string", "mutability": "readOnly", "multiValued": False, "required": False,
     "caseExact": True, "description": "The target's identifier of the resource (RFC 7643 §3.1)."},
    {"name": "externalId", "type": "string", "mutability": "readWrite", "multiValued": False, "required": False,
     "caseExact": True, "description": "The provisioning client's identifier of the resource (RFC 7643 §3.1)."},
]


class SchemaError(ValueError):
    """The target's /Schemas answer cannot be read as schemas; the message says why."""


# --- reading /Schemas and /ResourceTypes --------------------------------------------------------------


def _ci(data, name, default=None):
    if not isinstance(data, dict):
        return default
    if name in data:
        return data[name]
    lowered = name.lower()
    return next((v for k, v in data.items() if isinstance(k, str) and k.lower() == lowered), default)


def _resources(answer) -> list:
    """A ListResponse's Resources, or a bare JSON list (some targets answer /Schemas with one)."""
    if isinstance(answer, list):
        return [item for item in answer if isinstance(item, dict)]
    resources = _ci(answer, "Resources")
    if isinstance(resources, list):
        return [item for item in resources if isinstance(item, dict)]
    if isinstance(answer, dict) and _ci(answer, "attributes") is not None:
        return [answer]  # a single schema
    raise SchemaError("the answer is neither a ListResponse of schemas nor a list of them")


def _text(value, limit=200) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _attribute(data, depth=0) -> dict | None:
    name = _text(_ci(data, "name"), 100)
    if not re.fullmatch(r"\$?[A-Za-z][A-Za-z0-9_$-]*", name):
        return None
    kind = _ci(data, "type")
    kind = next((t for t in TYPES if isinstance(kind, str) and t.lower() == kind.lower()), "string")
    mutability = _ci(data, "mutability")
    mutability = next((m for m in MUTABILITIES if isinstance(mutability, str) and m.lower() == mutability.lower()), "readWrite")
    attribute = {
        "name": name,
        "type": kind,
        "mutability": mutability,
        "multiValued": _ci(data, "multiValued") is True,
        "required": _ci(data, "required") is True,
        "caseExact": _ci(data, "caseExact") is True,
        "description": _text(_ci(data, "description"), MAX_DESCRIPTION),
    }
    canonical = _ci(data, "canonicalValues")
    if isinstance(canonical, list):
        attribute["canonicalValues"] = [v[:40] for v in canonical if isinstance(v, str)][:MAX_CANONICAL]
    subs = _ci(data, "subAttributes")
    if kind == "complex" and isinstance(subs, list) and depth == 0:
        attribute["subAttributes"] = [a for a in (_attribute(s, 1) for s in subs[:MAX_ATTRIBUTES] if isinstance(s, dict)) if a]
    return attribute


def discovery_document(schemas_answer, resource_types_answer=None) -> dict:
    """The compact document stored on the Application, from the JSON of /Schemas (and /ResourceTypes).

    {"schemas": {urn: {"name", "attributes": [...]}}, "resourceTypes": {"User": [core urn, extension urns]}}"""
    schemas = {}
    for item in _resources(schemas_answer)[:MAX_SCHEMAS]:
        urn = _text(_ci(item, "id"), 300)
        attributes = _ci(item, "attributes")
        if not urn or not isinstance(attributes, list) or urn == SCHEMA_URN:
            continue
        schemas[urn] = {
            "name": _text(_ci(item, "name"), 100),
            "attributes": [a for a in (_attribute(x) for x in attributes[:MAX_ATTRIBUTES] if isinstance(x, dict)) if a],
        }
    if not schemas:
        raise SchemaError("it lists no schema with attributes")
    resource_types = {}
    try:
        types = _resources(resource_types_answer) if resource_types_answer is not None else []
    except SchemaError:
        types = []
    for item in types:
        core = _text(_ci(item, "schema"), 300)
        kind = next((name for name, urn in CORE_FOR.items() if urn.lower() == core.lower()), None)
        if kind is None:
            continue
        extensions = [_text(_ci(e, "schema"), 300) for e in (_ci(item, "schemaExtensions") or []) if isinstance(e, dict)]
        resource_types[kind] = [core, *(e for e in extensions if e)]
    for kind, core in CORE_FOR.items():
        schema = _find(schemas, core)
        if schema is not None:
            names = {a["name"].lower() for a in schema["attributes"]}
            schema["attributes"] = [*(dict(a) for a in COMMON_ATTRIBUTES if a["name"].lower() not in names), *schema["attributes"]]
        if kind not in resource_types and schema is not None:
            # No /ResourceTypes: the core schema, and for users the enterprise extension when it is offered.
            extra = [ENTERPRISE_USER] if kind == "User" and _find(schemas, ENTERPRISE_USER) else []
            resource_types[kind] = [core, *extra]
    return {"schemas": schemas, "resourceTypes": resource_types}


def _find(mapping, key):
    lowered = (key or "").lower()
    return next((v for k, v in mapping.items() if k.lower() == lowered), None)


# --- one object type's attributes ------------------------------------------------------------------


@dataclass(frozen=True)
class TargetAttribute:
    """One entry of the pick list: a path as mappings write it, with the schema's facts about it."""

    path: str
    type: str
    mutability: str
    multi_valued: bool = False
    required: bool = False
    description: str = ""

    @property
    def writable(self) -> bool:
        return self.mutability != "readOnly"

    @property
    def label(self) -> str:
        facts = [self.type, self.mutability]
        if self.required:
            facts.append("required")
        return f"{self.path} ({', '.join(facts)})"


@dataclass(frozen=True)
class Lookup:
    """What the schema says about a target path: the attribute (or sub-attribute) it writes, or a problem."""

    definition: dict | None
    problem: str = ""


@dataclass(frozen=True)
class TargetSchema:
    resource_type: str
    schema_urns: tuple[str, ...]  # core first, then extensions
    schemas: dict

    @property
    def core(self) -> str:
        return self.schema_urns[0]

    def attributes(self) -> list[TargetAttribute]:
        """The pick list: every writable leaf path (and read-only ones, marked), core first."""
        entries = []
        for urn in self.schema_urns:
            prefix = "" if urn == self.core else f"{urn}:"
            for attribute in self.schemas[urn]["attributes"]:
                entries.extend(_paths(prefix, attribute, self.resource_type))
        return entries

    def lookup(self, path_text: str) -> Lookup:
        try:
            path = parse_path(path_text)
        except PathError as exc:
            return Lookup(None, str(exc))
        urn = self.core if path.schema is None or path.schema.lower() == self.core.lower() else path.schema
        schema_urn = next((u for u in self.schema_urns if u.lower() == urn.lower()), None)
        if schema_urn is None:
            offered = ", ".join(self.schema_urns[1:]) or "none"
            return Lookup(None, f"the target's {self.resource_type} resource has no schema extension {urn} "
                                f"(its extensions: {offered})")
        attributes = self.schemas[schema_urn]["attributes"]
        attribute = _named(attributes, path.attribute)
        where = "core schema" if schema_urn == self.core else f"extension {schema_urn}"
        if attribute is None:
            return Lookup(None, f"the target's {self.resource_type} {where} has no attribute '{path.attribute}'"
                                f"{_suggest(path.attribute, attributes)}")
        if path.filter_attribute or path.sub_attribute:
            if attribute["type"] != "complex":
                return Lookup(None, f"'{attribute['name']}' is a {attribute['type']} in the target's schema, "
                                    "not a complex attribute with sub-attributes")
            subs = attribute.get("subAttributes") or []
            for name in filter(None, (path.filter_attribute, path.sub_attribute or ("value" if path.filter_attribute else None))):
                if subs and _named(subs, name) is None:
                    return Lookup(None, f"'{attribute['name']}' has no sub-attribute '{name}' in the target's schema"
                                        f"{_suggest(name, subs)}")
            sub = _named(subs, path.sub_attribute or "value") if subs else None
            return Lookup(_merged(attribute, sub) if sub else attribute)
        return Lookup(attribute)


def _merged(parent, sub):
    # A sub-attribute of a read-only attribute is read-only too, whatever it says itself.
    if parent["mutability"] == "readOnly":
        return {**sub, "mutability": "readOnly"}
    return sub


def _named(attributes, name):
    lowered = (name or "").lower()
    return next((a for a in attributes if a["name"].lower() == lowered), None)


def _suggest(name, attributes):
    by_lower = {a["name"].lower(): a["name"] for a in attributes}
    close = difflib.get_close_matches((name or "").lower(), list(by_lower), n=1, cutoff=0.6)
    return f" — did you mean '{by_lower[close[0]]}'?" if close else ""


def _paths(prefix, attribute, resource_type):
    name = attribute["name"]
    facts = dict(mutability=attribute["mutability"], required=attribute["required"], description=attribute["description"])
    if attribute["type"] != "complex":
        return [TargetAttribute(prefix + name, attribute["type"], multi_valued=attribute["multiValued"], **facts)]
    subs = attribute.get("subAttributes") or []
    if name.lower() == "manager" or (name.lower() == "members" and resource_type == "Group"):
        # Written whole: the manager's target id, the group's member ids (the payload builder knows their shape).
        return [TargetAttribute(prefix + name, "reference", multi_valued=attribute["multiValued"], **facts)]
    types = (_named(subs, "type") or {}).get("canonicalValues") or []
    entries = []
    for sub in subs:
        if attribute["multiValued"]:
            if sub["name"].lower() in ("type", "primary") or not types:
                continue
            for kind in types:
                entries.append(TargetAttribute(
                    f"{prefix}{name}[type eq {json.dumps(kind)}].{sub['name']}", sub["type"],
                    **{**facts, "mutability": _merged(attribute, sub)["mutability"], "required": False,
                       "description": sub["description"] or attribute["description"]},
                ))
        else:
            entries.append(TargetAttribute(
                f"{prefix}{name}.{sub['name']}", sub["type"],
                **{**facts, "mutability": _merged(attribute, sub)["mutability"], "required": sub["required"],
                   "description": sub["description"]},
            ))
    return entries


def target_schema(document: dict | None, object_type: str) -> TargetSchema | None:
    """The stored document's schema for a mapping's object type ('user' or 'group'), or None when unknown."""
    if not document:
        return None
    resource_type = RESOURCE_TYPES.get(object_type)
    schemas = document.get("schemas") or {}
    urns = (document.get("resourceTypes") or {}).get(resource_type) or []
    present = tuple(next(k for k in schemas if k.lower() == u.lower()) for u in urns if _find(schemas, u) is not None)
    if not present or present[0].lower() != CORE_FOR[resource_type].lower():
        return None
    return TargetSchema(resource_type, present, schemas)


# --- the rules every target follows, with or without /Schemas ---------------------------------------


def server_owned_problem(path: TargetPath, object_type: str) -> str:
    """Why RFC 7643 forbids writing this path on any target ('' when it does not)."""
    if not path.is_core:
        return ""
    name = path.attribute.lower()
    if name in SERVER_OWNED and not (name == "id" and (path.sub_attribute or path.is_filtered)):
        return SERVER_OWNED[name]
    if name == "groups" and object_type == "user":
        return USER_GROUPS
    return ""


def value_problem(definition: dict, value: str) -> str:
    """Why a Constant's text cannot be a value of this attribute type ('' when it can)."""
    kind = definition.get("type")
    text = value.strip()
    name = definition.get("name", "the attribute")
    if kind == "boolean" and text.lower() not in ("true", "false"):
        return f"{name} takes a Boolean: enter True or False, not '{value}'."
    if kind == "integer" and not re.fullmatch(r"[+-]?\d+", text):
        return f"{name} takes a whole number (integer), not '{value}'."
    if kind == "decimal" and not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        return f"{name} takes a number (decimal), not '{value}'."
    if kind == "dateTime" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", text):
        return f"{name} takes a date and time as xsd:dateTime, e.g. 2026-01-31T08:00:00Z, not '{value}'."
    return ""
