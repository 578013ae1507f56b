"""The part of OData's $filter the API supports: comparisons joined by `and`, with parentheses.

    activityDateTime ge 2025-11-23T09:00:00Z and provisioningStatusInfo/status eq 'failure'

Anything else (or, not, functions, arithmetic) is refused with a message that names it and says what the API
does support, instead of being ignored: a filter that silently matched more than asked would mislead.
"""

import re
from dataclasses import dataclass

OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le")
_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^']|'')*')
    | (?P<open>\() | (?P<close>\)) | (?P<comma>,)
    | (?P<word>[^\s(),']+)
    )""", re.VERBOSE)


class FilterError(ValueError):
    """The $filter cannot be used; str() says where and what to write instead."""


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    value: str


def _tokens(text):
    position, tokens = 0, []
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            rest = text[position:].strip()
            if rest.startswith("'"):
                raise FilterError(f"The text {rest[:40]!r} has no closing quote: write strings as 'Jane Doe', a quote "
                                  "inside them as two ('O''Brien').")
            raise FilterError(f"Cannot read the $filter at {rest[:40]!r}.")
        kind = match.lastgroup
        value = match.group(kind)
        tokens.append((kind, value))
        position = match.end()
    return tokens


def parse(text, supported):
    """[Condition] for `text`; `supported` maps each field to the operators it accepts."""
    tokens = _tokens(text or "")
    if not tokens:
        raise FilterError("The $filter is empty: leave it out, or write a condition such as provisioningStatusInfo/status eq 'failure'.")
    conditions = []
    position = _expression(tokens, 0, conditions, supported, depth=0)
    if position != len(tokens):
        raise FilterError(f"Unexpected {tokens[position][1]!r} in the $filter: join conditions with 'and'.")
    return conditions


def _expression(tokens, position, conditions, supported, depth):
    position = _term(tokens, position, conditions, supported, depth)
    while position < len(tokens) and tokens[position] == ("word", "and"):
        position = _term(tokens, position + 1, conditions, supported, depth)
    if position < len(tokens) and tokens[position][0] == "word" and tokens[position][1].lower() == "or":
        raise FilterError("The API's $filter supports 'and' between conditions, not 'or': send one request per "
                          "alternative.")
    return position


def _term(tokens, position, conditions, supported, depth):
    if position >= len(tokens):
        raise FilterError("The $filter ends where a condition should follow: write field operator value, e.g. "
                          "provisioningAction eq 'create'.")
    kind, value = tokens[position]
    if kind == "open":
        if depth > 20:
            raise FilterError("The $filter nests parentheses too deeply.")
        position = _expression(tokens, position + 1, conditions, supported, depth + 1)
        if position >= len(tokens) or tokens[position][0] != "close":
            raise FilterError("A '(' in the $filter has no matching ')'.")
        return position + 1
    if kind != "word":
        raise FilterError(f"Unexpected {value!r} in the $filter: a condition starts with a field name.")
    if value.lower() == "not":
        raise FilterError("The API's $filter does not support 'not': use the opposite comparison or filter in your script.")
    if position + 1 < len(tokens) and tokens[position + 1][0] == "open":
        raise FilterError(f"The API's $filter does not support functions such as {value}(): use eq, ge or le on "
                          f"{_fields(supported)}.")
    field = value
    if field not in supported:
        raise FilterError(f"The $filter cannot filter on {field!r}: use {_fields(supported)}.")
    if position + 2 >= len(tokens):
        raise FilterError(f"The condition on {field} is incomplete: write {field} {supported[field][0]} <value>.")
    operator, (value_kind, raw) = tokens[position + 1][1], tokens[position + 2]
    if operator not in OPERATORS:
        raise FilterError(f"{operator!r} is not a comparison: write {field} {' or '.join(supported[field])} <value>.")
    if operator not in supported[field]:
        raise FilterError(f"{field} supports {' and '.join(supported[field])}, not {operator}.")
    if value_kind == "string":
        value = raw[1:-1].replace("''", "'")
    elif value_kind == "word":
        value = raw  # a date, a GUID or a number, unquoted as OData writes them
    else:
        raise FilterError(f"The condition on {field} has no value after {operator}.")
    conditions.append(Condition(field, operator, value))
    return position + 3


def _fields(supported):
    return ", ".join(supported)
