"""Conversions, tests and multi-valued functions: BitAnd, CBool, Coalesce, Count, CStr, Guid, IsNull,
IsNullOrEmpty, IsPresent, IsString, Item, Join, Not, RemoveDuplicates, Split, Switch.

Each takes already-evaluated arguments (None for null or an empty argument) and returns a value.
"""

from __future__ import annotations

import uuid

from .values import ArgumentProblem, as_list, is_empty, is_multi, to_bool, to_int, to_text


def bit_and(value1, value2):
    if value1 is None or value2 is None:
        return None
    return to_int(value1, "value1") & to_int(value2, "value2")


def cbool(expression):
    if expression is None:
        return False
    return to_bool(expression, "Expression")


def coalesce(*sources):
    for source in sources:
        if source is not None:
            return source
    return None


def count(attribute):
    return len(as_list(attribute))


def cstr(value):
    if is_multi(value):
        return to_text(value, "value")  # raises: names the problem
    return to_text(value, "value")


def guid():
    return str(uuid.uuid4())


def is_null(expression):
    return expression is None


def is_null_or_empty(expression):
    return is_empty(expression)


def is_present(expression):
    return not is_empty(expression)


def is_string(expression):
    return isinstance(expression, str)


def item(attribute, index):
    position = to_int(index, "index")
    if attribute is None:
        return None
    values = as_list(attribute)
    if position < 1:
        raise ArgumentProblem(f"index {position} is not valid: index 1 is the first value (don't use 0)")
    if position > len(values):
        raise ArgumentProblem(
            f"index {position} is out of range: the attribute has {len(values)} value{'s' if len(values) != 1 else ''}"
        )
    return values[position - 1]


def join(separator, *sources):
    # Null and empty sources are left out (Microsoft's Join(", ", "", [surname], [givenName]) gives
    # "Doe, John"); with nothing left the attribute doesn't flow.
    separator = to_text(separator, "separator") or ""
    parts = []
    for source in sources:
        # Strings first: the common case, kept cheap (a mapping runs once per user per cycle).
        if isinstance(source, str):
            if source:
                parts.append(source)
        elif source is not None:
            for value in as_list(source):
                text = to_text(value, "a source")
                if text:
                    parts.append(text)
    if not parts and all(source is None for source in sources):
        return None
    return separator.join(parts)


def not_(source):
    # Entra: "If source value is True, returns False. Otherwise, returns True." — as strings.
    if isinstance(source, bool):
        truth = source
    elif isinstance(source, str):
        truth = source.strip().lower() == "true"
    else:
        truth = False
    return "False" if truth else "True"


def remove_duplicates(attribute):
    if attribute is None:
        return None
    seen, unique = set(), []
    for value in as_list(attribute):
        key = to_text(value, "attribute")
        if key not in seen:
            seen.add(key)
            unique.append(value)
    return unique


def split(source, delimiter):
    source = to_text(source, "source")
    delimiter = to_text(delimiter, "delimiter")
    if source is None:
        return None
    if not delimiter:
        raise ArgumentProblem('delimiter is empty; give the character to split at, such as ","')
    # Values are trimmed and empty ones dropped: Microsoft's example splits
    # "PermissionSetOne, PermissionSetTwo" at "," into ["PermissionSetOne", "PermissionSetTwo"].
    return [part.strip() for part in source.split(delimiter) if part.strip()]


def switch(source, default_value, *pairs):
    # A null source matches the key "" (Microsoft's workaround for empty attributes).
    key = to_text(source, "source") or ""
    for index in range(0, len(pairs) - 1, 2):
        if (to_text(pairs[index], f"key{index // 2 + 1}") or "") == key:
            return pairs[index + 1]
    return default_value


IMPLEMENTATIONS = {
    "BitAnd": bit_and,
    "CBool": cbool,
    "Coalesce": coalesce,
    "Count": count,
    "CStr": cstr,
    "Guid": guid,
    "IsNull": is_null,
    "IsNullOrEmpty": is_null_or_empty,
    "IsPresent": is_present,
    "IsString": is_string,
    "Item": item,
    "Join": join,
    "Not": not_,
    "RemoveDuplicates": remove_duplicates,
    "Split": split,
    "Switch": switch,
}
