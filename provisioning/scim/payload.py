"""SCIM request bodies from target attribute paths: POST resources, attribute diffs and PATCH operations.

Target attributes are written as SCIM and Entra write them: `userName`, `name.givenName`,
`emails[type eq "work"].value`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`,
`…:enterprise:2.0:User:manager` (a reference: the value is the manager's *target* id), custom extension URNs,
and for groups `displayName`, `externalId`, `members`.

Two dialects (RFC 7644 §3.5.2 is the default; see shared/reference/scim-targets.md):

* RFC mode — what Entra sends only behind its `aadOptscim062020` flag, and what strict servers such as
  scim2-server require: lowercase ops, `active` as a JSON boolean, `add` for values the target does not hold
  yet (a whole multi-valued entry when no entry of that type exists: a `replace` of `emails[type eq "work"].value`
  on a user without a work email is refused with noTarget), manager as `{"value": id}`, member removal by
  `members[value eq "id"]`, core + used extension schemas only.
* Entra-compatible mode — what Entra sends by default, for targets built against it: capitalised ops,
  `active` as "True"/"False", `Replace` of filtered paths, member removal with a value list, Entra's ADSCIM
  Group schema on group creation. The manager is `{"value": id}` in both: Entra's list form
  `[{"$ref": null, "value": id}]` is refused by every target that stores one (shared/reference/scim-targets.md).

What a target was seen to take instead (scim/quirks.py) overrides the dialect per shape.

Entra creates groups without members and adds them by PATCH (Entra-compatible mode does the same); in
RFC mode a new group's first members travel in its POST. Later changes use `member_additions` and
`member_removals`, sent in separate PATCHes.
"""

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ENTRA_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
CORE_PREFIX = "urn:ietf:params:scim:schemas:core:"
CORE_SCHEMAS = {"User": CORE_USER, "Group": CORE_GROUP}

# Target types we know without reading the target's /Schemas (RFC 7643 §4 and the enterprise extension).
# Lower-case names; anything else (custom extensions) is left as the mapping produced it.
_BOOLEAN_ATTRIBUTES = frozenset({"active"})
_BOOLEAN_SUB_ATTRIBUTES = frozenset({"primary"})
_CORE_STRINGS = frozenset(
    {
        "username", "displayname", "nickname", "profileurl", "title", "usertype", "preferredlanguage",
        "locale", "timezone", "password", "externalid",
    }
)
_CORE_COMPLEX_STRINGS = frozenset(
    {
        "formatted", "familyname", "givenname", "middlename", "honorificprefix", "honorificsuffix",  # name
        "value", "type", "display",  # emails, phoneNumbers, ims, photos, roles, entitlements
        "streetaddress", "locality", "region", "postalcode", "country",  # addresses
    }
)
_ENTERPRISE_STRINGS = frozenset({"employeenumber", "costcenter", "organization", "division", "department"})

_NAME = re.compile(r"\$?[A-Za-z][A-Za-z0-9_$-]*")
_FILTER = re.compile(r'\s*(\$?[A-Za-z][A-Za-z0-9_$-]*)\s+eq\s+("(?:[^"\\]|\\.)*")\s*', re.IGNORECASE)
_EXAMPLE = 'e.g. emails[type eq "work"].value'


class PathError(ValueError):
    """A target attribute path that is not a SCIM attribute path we can write."""


@dataclass(frozen=True)
class TargetPath:
    schema: str | None
    attribute: str
    filter_attribute: str | None
    filter_value: str | None
    sub_attribute: str | None

    @property
    def text(self) -> str:
        prefix = f"{self.schema}:" if self.schema else ""
        selector = f"[{self.filter_attribute} eq {json.dumps(self.filter_value)}]" if self.filter_attribute else ""
        suffix = f".{self.sub_attribute}" if self.sub_attribute else ""
        return f"{prefix}{self.attribute}{selector}{suffix}"

    @property
    def is_core(self) -> bool:
        return self.schema is None or self.schema.lower().startswith(CORE_PREFIX)

    @property
    def is_filtered(self) -> bool:
        return self.filter_attribute is not None

    @property
    def is_reference(self) -> bool:
        """manager, whose value is a target id held as {"value": id}."""
        return self.attribute.lower() == "manager" and self.sub_attribute is None and not self.is_filtered

    @property
    def is_members(self) -> bool:
        return self.is_core and self.attribute.lower() == "members" and not self.is_filtered

    @property
    def container_path(self) -> str:
        """Where a new multi-valued entry is added: `emails`, or `<schema>:<attribute>` in an extension."""
        return f"{self.schema}:{self.attribute}" if self.schema else self.attribute


@lru_cache(maxsize=1024)
def parse_path(path: str) -> TargetPath:
    """Parse `[schema:]attribute[[attr eq "value"]][.subAttribute]` (RFC 7644 §3.10 / §3.5.2 PATH)."""
    if not isinstance(path, str) or not path.strip():
        raise PathError("The target attribute path is empty: enter a SCIM attribute such as userName.")
    text = path.strip()
    _check_brackets(text)
    schema, rest = _split_schema(text)
    name = _NAME.match(rest)
    if not name:
        raise PathError(
            f"'{rest or text}' is not a SCIM attribute name in {text!r}: names start with a letter "
            "and contain letters, digits, '-' or '_'."
        )
    attribute, rest = name.group(), rest[name.end():]
    filter_attribute = filter_value = sub_attribute = None
    if rest.startswith("["):
        close = _closing_bracket(rest)
        inner, rest = rest[1:close], rest[close + 1:]
        selector = _FILTER.fullmatch(inner)
        if not selector:
            raise PathError(f'filter must be `attr eq "value"` in {text!r} ({_EXAMPLE}); got [{inner}].')
        filter_attribute, filter_value = selector.group(1), json.loads(selector.group(2))
        if rest.startswith("["):
            raise PathError(f"{text!r} has two filters: a path holds one filter, {_EXAMPLE}.")
        if not rest:
            raise PathError(f"{text!r} selects an entry but no sub-attribute: name one after the filter, {_EXAMPLE}.")
    if rest.startswith("."):
        sub = _NAME.fullmatch(rest[1:])
        if not sub:
            raise PathError(
                f"'{rest[1:]}' is not a sub-attribute name in {text!r}: SCIM paths go one level deep, "
                "as in name.givenName."
            )
        sub_attribute, rest = sub.group(), ""
    if rest:
        raise PathError(f"Unexpected {rest!r} after '{attribute}' in {text!r}: expected [filter] or .subAttribute.")
    return TargetPath(schema, attribute, filter_attribute, filter_value, sub_attribute)


def _check_brackets(text):
    depth, in_string, previous = 0, False, ""
    for char in text:
        if char == '"' and depth and previous != "\\":
            in_string = not in_string
        elif not in_string and char == "[":
            depth += 1
            if depth > 1:
                raise PathError(f"nested [ in {text!r}: a path holds one filter, {_EXAMPLE}.")
        elif not in_string and char == "]":
            depth -= 1
            if depth < 0:
                raise PathError(f"unbalanced ] in {text!r}: it closes no [. Write the filter as {_EXAMPLE}.")
        previous = char
    if in_string:
        raise PathError(f'unterminated " in {text!r}: quote the filter value, {_EXAMPLE}.')
    if depth:
        raise PathError(f"unbalanced [ in {text!r}: close the filter with ], {_EXAMPLE}.")


def _closing_bracket(rest):
    in_string, previous = False, ""
    for index, char in enumerate(rest):
        if char == '"' and previous != "\\":
            in_string = not in_string
        elif char == "]" and not in_string:
            return index
        previous = char
    raise AssertionError("brackets were checked")  # pragma: no cover - _check_brackets runs first


def _split_schema(text):
    """`urn:…:User:department` → (`urn:…:User`, `department`); the attribute follows the last ':' before any [."""
    if not text.lower().startswith("urn:"):
        return None, text
    head = text.split("[", 1)[0]
    cut = head.rfind(":")
    schema, rest = text[:cut], text[cut + 1:]
    if not rest or rest.startswith("["):
        raise PathError(
            f"{text!r} ends with its schema URN: add ':' and the attribute name, as in {ENTERPRISE_USER}:department."
        )
    if schema.count(":") < 2:
        raise PathError(f"{schema!r} in {text!r} is not a schema URN: write urn:ietf:params:scim:schemas:…:attribute.")
    return schema, rest


# --- values --------------------------------------------------------------------------------------


def _target_type(target: TargetPath):
    """'boolean', 'string', 'reference' or None (unknown: a custom extension attribute)."""
    if target.is_reference:
        return "reference"
    attribute, sub = target.attribute.lower(), (target.sub_attribute or "").lower()
    if target.is_core:
        if not sub:
            if attribute in _BOOLEAN_ATTRIBUTES:
                return "boolean"
            return "string" if attribute in _CORE_STRINGS else None
        if sub in _BOOLEAN_SUB_ATTRIBUTES:
            return "boolean"
        return "string" if sub in _CORE_COMPLEX_STRINGS else None
    if target.schema.lower() == ENTERPRISE_USER.lower() and not sub and attribute in _ENTERPRISE_STRINGS:
        return "string"
    return None


def coerce_value(path: str, value: object) -> object:
    """Convert a mapped value to the target attribute's type (booleans for `active`, strings for strings)."""
    if value is None:
        return None
    kind = _target_type(parse_path(path))
    if kind == "boolean":
        flag = _as_bool(value)
        if flag is None:
            raise ValueError(
                f"{path} takes a Boolean (True or False), but the mapping produced {value!r}. "
                "Change the mapping so it yields True or False, e.g. Not([IsSoftDeleted])."
            )
        return flag
    if kind == "string":
        if isinstance(value, bool):
            return "True" if value else "False"  # Entra's rendering of a Boolean as text
        if isinstance(value, (int, float)):
            return str(value)
    return value


def _as_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _get(mapping, key):
    """SCIM attribute names are case-insensitive (RFC 7643 §2.1)."""
    if not isinstance(mapping, Mapping) or key is None:
        return None
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    return next((v for k, v in mapping.items() if isinstance(k, str) and k.lower() == lowered), None)


def _container(resource, target):
    return resource if target.is_core else _get(resource, target.schema)


def _find_entry(entries, target):
    """The multi-valued entry the filter selects; `type` values compare case-insensitively (caseExact false)."""
    if not isinstance(entries, list):
        return None
    wanted = target.filter_value.lower()
    for entry in entries:
        found = _get(entry, target.filter_attribute)
        if found is not None and str(found).lower() == wanted:
            return entry
    return None


def read_value(resource: Mapping, path: str) -> object:
    """The target resource's current value at a path (None when absent); manager gives the manager's id."""
    target = parse_path(path)
    value = _get(_container(resource, target), target.attribute)
    if target.is_filtered:
        return _get(_find_entry(value, target), target.sub_attribute)
    if target.sub_attribute:
        return _get(value, target.sub_attribute)
    if target.is_reference:
        return _get(value, "value") if isinstance(value, Mapping) else value
    if target.is_members and isinstance(value, list):
        return [_get(member, "value") for member in value]
    return value


# --- create --------------------------------------------------------------------------------------


def build_resource(resource_type: str, values: Mapping[str, object], *, entra_compatible: bool = False,
                   members: Sequence[str] = ()) -> dict:
    """The POST body for a new User or Group from target path → value (null values are left out).

    members: target ids of a new group's first members (RFC 7643 §4.2 allows them in the create)."""
    if resource_type not in CORE_SCHEMAS:
        raise ValueError(f"resource_type must be 'User' or 'Group', not {resource_type!r}.")
    body: dict = {"schemas": [CORE_SCHEMAS[resource_type]]}
    extensions: list[str] = []
    new_entries: dict = {}
    for path, raw in values.items():
        if raw is None:
            continue
        target = parse_path(path)
        if target.is_members:
            continue  # members travel as target ids in `members`, never as mapped values
        value = coerce_value(path, raw)
        if target.is_core:
            container = body
        else:
            container = body.setdefault(target.schema, {})
            if target.schema not in extensions:
                extensions.append(target.schema)
        _place(container, target, value, path, new_entries)
    if members:
        body["members"] = [{"value": member} for member in _unique(members)]
    if entra_compatible:
        # Entra lists core + enterprise for users and its ADSCIM schema for groups; custom extensions are not listed.
        body["schemas"].append(ENTERPRISE_USER if resource_type == "User" else ENTRA_GROUP)
        body["meta"] = {"resourceType": resource_type}
    else:
        body["schemas"].extend(extensions)
    return body


def _place(container, target, value, path, new_entries):
    attribute = target.attribute
    if target.is_reference:
        container[attribute] = {"value": value}
    elif target.is_filtered:
        entries = container.setdefault(attribute, [])
        if not isinstance(entries, list):
            raise PathError(f"{path!r} and a whole-value mapping of {attribute!r} target the same attribute; keep one.")
        key = (id(container), attribute.lower(), target.filter_attribute.lower(), target.filter_value.lower())
        entry = new_entries.get(key)
        if entry is None:
            entry = new_entries[key] = {target.filter_attribute: target.filter_value}
            entries.append(entry)
            if attribute.lower() == "emails" and len(entries) == 1:
                entry["primary"] = True  # as Entra sends the work email: exactly one primary
        entry[target.sub_attribute] = value
    elif target.sub_attribute:
        parent = container.setdefault(attribute, {})
        if not isinstance(parent, dict):
            raise PathError(f"{path!r} and a whole-value mapping of {attribute!r} target the same attribute; keep one.")
        parent[target.sub_attribute] = value
    else:
        if isinstance(container.get(attribute), (dict, list)):
            raise PathError(f"{path!r} and a sub-attribute mapping of {attribute!r} target the same attribute; keep one.")
        container[attribute] = value


# --- update --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    path: str
    old: object
    new: object


def diff(desired: Mapping[str, object], resource: Mapping) -> list[Change]:
    """The attributes whose desired value differs from the target's, in mapping order.

    None never flows, so it is not compared; members are reconciled by member_additions/member_removals, not here.
    Types are normalised (the target's `true` equals our "True"); case is not (a userName case change is a change).
    """
    changes = []
    for path, raw in desired.items():
        if raw is None or parse_path(path).is_members:
            continue
        new = coerce_value(path, raw)
        old = read_value(resource, path)
        if not _same(old, new):
            changes.append(Change(path, old, new))
    return changes


def _same(old, new):
    if old is None:
        return False
    if isinstance(old, bool) or isinstance(new, bool):
        return _as_bool(old) is not None and _as_bool(old) == _as_bool(new)
    if isinstance(old, (str, int, float)) and isinstance(new, (str, int, float)):
        return str(old) == str(new)
    return old == new


ACTIVE, ABSENT, MEMBER_REMOVAL = "active", "absent", "member_removal"  # the shapes scim/quirks.py learns


def patch_operations(changes: Sequence[Change], resource: Mapping, *, entra_compatible: bool = False,
                     shapes: Mapping[str, str] | None = None) -> list[dict]:
    """The PATCH Operations for these changes against the resource as the target holds it now.

    shapes: what scim/quirks.py learned this target takes, overriding the dialect: `active` "boolean" or
    "string"; `absent` "add" (RFC: add, a whole entry for a filtered path) or "replace" (the path as is)."""
    shapes = shapes or {}
    operations: list[dict] = []
    new_entries: dict = {}  # entries being added, so two sub-attributes of one entry share one add
    for change in changes:
        target = parse_path(change.path)
        if target.is_members:
            raise ValueError("Group members are not attribute changes: send them with member_additions() and member_removals().")
        value = coerce_value(change.path, change.new)
        if value is None:
            raise ValueError(f"{change.path} has no new value: null values are never provisioned, so leave it out.")
        if isinstance(value, bool) and boolean_shape(entra_compatible, shapes) == "string":
            value = "True" if value else "False"  # Entra's default: active as the string "False"
        exists = read_value(resource, change.path) is not None
        absent = None if exists else absent_shape(change.path, entra_compatible, shapes)
        operation = _operation(change.path, target, value, exists, absent, resource, new_entries)
        if operation is not None:
            operations.append(_capitalised(operation) if entra_compatible else operation)
    return operations


def boolean_shape(entra_compatible, shapes=None):
    """"string" ("False", Entra's default) or "boolean" (false, the RFC's)."""
    return (shapes or {}).get(ACTIVE) or ("string" if entra_compatible else "boolean")


def absent_shape(path, entra_compatible, shapes=None):
    """How a value the target does not hold yet is written: "add" (RFC) or "replace" (Entra, filtered paths)."""
    learned = (shapes or {}).get(ABSENT)
    if learned:
        return learned
    return "replace" if entra_compatible and parse_path(path).is_filtered else "add"


def shape_keys(change: Change, resource: Mapping) -> list[str]:
    """The shapes that decide how this change is written (the ones worth trying the other way)."""
    keys = []
    if isinstance(coerce_value(change.path, change.new), bool):
        keys.append(ACTIVE)
    if read_value(resource, change.path) is None:
        keys.append(ABSENT)
    return keys


def _operation(path, target, value, exists, absent, resource, new_entries):
    if target.is_reference:
        # {"value": id} in both dialects: Entra's [{"$ref": null, "value": id}] is refused by every target that
        # stores a manager (it is single-valued, RFC 7643 §4.3).
        return {"op": "replace" if exists else absent, "path": path, "value": {"value": value}}
    if exists or not target.is_filtered:
        return {"op": "replace" if exists else absent, "path": path, "value": value}
    entries = _get(_container(resource, target), target.attribute)
    if _find_entry(entries, target) is not None:
        return {"op": "replace", "path": path, "value": value}
    if absent == "replace":
        return {"op": "replace", "path": path, "value": value}  # Entra's form; targets built for it create the entry
    # No entry of that type yet: a filtered replace would have no target (noTarget), so add the whole entry.
    key = (target.container_path.lower(), target.filter_attribute.lower(), target.filter_value.lower())
    if key in new_entries:
        new_entries[key][target.sub_attribute] = value
        return None
    first_entry = not entries and not any(k[0] == key[0] for k in new_entries)
    entry = new_entries[key] = {target.filter_attribute: target.filter_value, target.sub_attribute: value}
    if target.attribute.lower() == "emails" and first_entry:
        entry["primary"] = True  # the user's only email, as Entra sends it
    return {"op": "add", "path": target.container_path, "value": [entry]}


def _capitalised(operation):
    return {**operation, "op": operation["op"].capitalize()}


def member_additions(add_ids: Iterable[str], *, entra_compatible: bool = False) -> list[dict]:
    """The PATCH Operations that add these members (by target id); sent apart from removals, so a target
    that refuses one kind still gets the other."""
    adds = _unique(add_ids)
    if not adds:
        return []
    if entra_compatible:
        return [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": i} for i in adds]}]
    return [{"op": "add", "path": "members", "value": [{"value": i} for i in adds]}]


def removal_shape(entra_compatible, shapes=None):
    """"filter" (`members[value eq "id"]`, the RFC's) or "value_list" (Entra's default)."""
    return (shapes or {}).get(MEMBER_REMOVAL) or ("value_list" if entra_compatible else "filter")


def member_removals(remove_ids: Iterable[str], *, entra_compatible: bool = False, shape: str | None = None) -> list[dict]:
    """The PATCH Operations that remove these members: one `members[value eq "id"]` per member, or one value list."""
    removes = _unique(remove_ids)
    if not removes:
        return []
    shape = shape or removal_shape(entra_compatible)
    op = "Remove" if entra_compatible else "remove"
    if shape == "value_list":
        entry = (lambda i: {"$ref": None, "value": i}) if entra_compatible else (lambda i: {"value": i})
        return [{"op": op, "path": "members", "value": [entry(i) for i in removes]}]
    return [{"op": op, "path": f"members[value eq {json.dumps(i)}]"} for i in removes]


def membership_operations(
    add_ids: Iterable[str], remove_ids: Iterable[str], *, entra_compatible: bool = False, removal: str | None = None
) -> list[dict]:
    """Additions then removals in one list (one PATCH; the pipeline sends the two apart)."""
    adds, removes = _unique(add_ids), _unique(remove_ids)
    both = set(adds) & set(removes)
    if both:
        raise ValueError(f"Member id(s) {', '.join(sorted(both))} are both added and removed; pass each to one side.")
    return (member_additions(adds, entra_compatible=entra_compatible)
            + member_removals(removes, entra_compatible=entra_compatible, shape=removal))


def _unique(ids):
    seen = {}
    for member_id in ids:
        if not isinstance(member_id, str) or not member_id:
            raise ValueError(f"Member ids are the target's non-empty string ids, not {member_id!r}.")
        seen.setdefault(member_id, None)
    return list(seen)
