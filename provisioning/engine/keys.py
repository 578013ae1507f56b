"""Matching keys: a matching attribute's value, compared as the target compares it.

Two source objects whose first matching value is the same (UPNs that differ only in case, two people whose
userName expression gives the same value) would land on one target account; ExportState.match_key is
unique per app, so the second one fails at Match instead. The same keys index the target's objects when an
initial cycle lists them and matches locally.

Case rules are RFC 7643's: string attributes are compared case-insensitively (caseExact false) except the
few that are caseExact (externalId, id, password).
"""

from provisioning.scim import payload

CASE_EXACT = frozenset({"externalid", "id", "password"})
MAX_KEY_LENGTH = 512


def case_exact(path):
    target = payload.parse_path(path)
    name = (target.sub_attribute if target.is_filtered or target.sub_attribute else target.attribute) or target.attribute
    return target.attribute.lower() in CASE_EXACT or name.lower() in CASE_EXACT


def match_key(path, value):
    """"username:jane@contoso.com" for userName = "Jane@Contoso.com"; None when there is no value."""
    if value is None or value == "" or isinstance(value, (list, dict)):
        return None
    text = str(value)
    if not case_exact(path):
        text = text.casefold()
    return f"{path.lower()}:{text}"[:MAX_KEY_LENGTH]


def keys_of_resource(resource, paths):
    """The match keys of a target resource for these matching attribute paths (one per path with a value)."""
    keys = []
    for path in paths:
        key = match_key(path, payload.read_value(resource, path))
        if key:
            keys.append(key)
    return keys
