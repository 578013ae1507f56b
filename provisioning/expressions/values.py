"""How values are read by functions: text, numbers, booleans, dates, multi-valued lists.

Source values arrive as str, bool, int or list (multi-valued); dates made by date functions are
datetimes. Functions report bad input by raising ArgumentProblem; the evaluator adds the function's
name and position to the message.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from .dates import format_entra, parse_date

_INTEGER = re.compile(r"\s*-?\d+\s*")
_HEX = re.compile(r"\s*&[Hh]([0-9A-Fa-f]+)\s*")


class ArgumentProblem(ValueError):
    """A function got a value it can't use; the message names the argument and says what to do."""


def is_multi(value) -> bool:
    return isinstance(value, (list, tuple))


def is_empty(value) -> bool:
    return value is None or value == "" or (is_multi(value) and len(value) == 0)


def to_text(value, what: str) -> str | None:
    """A single value as text; booleans are "True"/"False" and dates Entra's M/d/yyyy h:mm:ss tt."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return format_entra(value)
    if is_multi(value):
        raise ArgumentProblem(
            f"{what} is multi-valued ({len(value)} values); pick one with Item(…, 1) or combine them with Join(…)"
        )
    return str(value)


def to_int(value, what: str) -> int:
    if isinstance(value, bool):
        raise ArgumentProblem(f"{what} must be a number, not the boolean {value}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if _INTEGER.fullmatch(value):
            return int(value)
        match = _HEX.fullmatch(value)
        if match:
            return int(match.group(1), 16)
    if value is None:
        raise ArgumentProblem(f"{what} must be a number, but it is null")
    raise ArgumentProblem(f"{what} must be a whole number, not {quoted(value)}")


def to_bool(value, what: str) -> bool:
    """True/False from a boolean, "True"/"False" (any case), or a number (non-zero is True)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if _INTEGER.fullmatch(value):
            return int(value) != 0
    raise ArgumentProblem(f'{what} must be True or False (or a number), not {quoted(value)}')


def to_date(value, what: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return parse_date(value)
    raise ArgumentProblem(f"{what} must be a date, such as CDate(\"2021-06-30T08:00:00Z\") or Now(), not {quoted(value)}")


def as_list(value) -> list:
    if value is None:
        return []
    return list(value) if is_multi(value) else [value]


def display(value) -> str | None:
    """The text logs and the expression tester show for a value."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, datetime):
        return format_entra(value)
    if is_multi(value):
        return json.dumps([display(item) if not isinstance(item, str) else item for item in value], ensure_ascii=False)
    if isinstance(value, str):
        return value
    return str(value)


def quoted(value) -> str:
    text = display(value)
    return "null" if text is None else json.dumps(text, ensure_ascii=False)
