"""Dates as Entra's functions see them: parsing, .NET custom format strings, intervals, AD numbers.

Inside an evaluation a date is a timezone-aware datetime; it becomes text (Entra's
`M/d/yyyy h:mm:ss tt`, in UTC) only when it leaves a date function as a result or is used as a string.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

ENTRA_FORMAT = "M/d/yyyy h:mm:ss tt"
INTERVALS = ("yyyy", "m", "d", "ww", "h", "n", "s")
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


class DateProblem(ValueError):
    """A date could not be read or computed; the message says why (the caller adds the function name)."""


def format_entra(moment: datetime) -> str:
    """Entra's date text: UTC, `M/d/yyyy h:mm:ss tt` (e.g. "3/16/2020 7:00:00 AM")."""
    moment = as_utc(moment)
    hour = moment.hour % 12 or 12
    half = "AM" if moment.hour < 12 else "PM"
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02}:{moment.second:02} {half}"


def as_utc(moment: datetime) -> datetime:
    # Dates without an offset are taken as UTC: Entra's service runs in UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_ISO = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[T ](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,7}))?)?)?"
    r"\s*(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)
_US = re.compile(
    r"(?P<mo>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{4})"
    r"(?:\s+(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,7}))?)?\s*(?P<tt>AM|PM)?)?"
    r"\s*(?P<z>Z|[+-]\d{2}(?::?\d{2})?)?",
    re.IGNORECASE,
)


def parse_date(text: str) -> datetime:
    """Read a date the way CDate does: ISO 8601 (with or without time and offset) or M/d/yyyy h:mm:ss tt."""
    text = text.strip()
    match = _ISO.fullmatch(text) or _US.fullmatch(text)
    if not match:
        raise DateProblem(
            f'"{text}" is not a date it can read; use ISO 8601 such as "2021-06-30T08:00:00Z" or '
            '"2021-06-30+08:00", or Entra\'s "6/30/2021 8:00:00 AM"'
        )
    parts = match.groupdict()
    hour = int(parts["h"] or 0)
    half = (parts.get("tt") or "").upper()
    if half:
        if not 1 <= hour <= 12:
            raise DateProblem(f'"{text}" has hour {hour} with {half}; use 1 to 12 with AM/PM')
        hour = hour % 12 + (12 if half == "PM" else 0)
    fraction = (parts["f"] or "").ljust(6, "0")[:6]
    try:
        moment = datetime(
            int(parts["y"]), int(parts["mo"]), int(parts["d"]), hour, int(parts["mi"] or 0),
            int(parts["s"] or 0), int(fraction or 0), tzinfo=_offset(parts["z"]) or UTC,
        )
    except ValueError as exc:
        raise DateProblem(f'"{text}" is not a valid date ({exc})') from None
    return moment.astimezone(UTC)


def _offset(text: str | None) -> timezone | None:
    if not text:
        return None
    if text.upper() == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 14 or minutes > 59:
        raise DateProblem(f'"{text}" is not a valid UTC offset')
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


# ---------------------------------------------------------------- intervals (DateAdd, DateDiff)

def check_interval(interval: str) -> str:
    if interval not in INTERVALS:
        hint = " (intervals are case-sensitive: m is month, n is minute)" if interval.lower() in INTERVALS or interval == "M" else ""
        raise DateProblem(
            f'"{interval}" is not an interval{hint}; use one of "yyyy" (year), "m" (month), "d" (day), '
            '"ww" (week), "h" (hour), "n" (minute), "s" (second)'
        )
    return interval


def add_interval(interval: str, amount: int, moment: datetime) -> datetime:
    check_interval(interval)
    try:
        if interval in ("yyyy", "m"):
            months = amount * 12 if interval == "yyyy" else amount
            index = moment.year * 12 + moment.month - 1 + months
            year, month = divmod(index, 12)
            day = min(moment.day, calendar.monthrange(year, month + 1)[1])
            return moment.replace(year=year, month=month + 1, day=day)
        unit = {"d": "days", "ww": "weeks", "h": "hours", "n": "minutes", "s": "seconds"}[interval]
        return moment + timedelta(**{unit: amount})
    except (ValueError, OverflowError):
        raise DateProblem(f"adding {amount} {interval} to {format_entra(moment)} leaves the calendar (years 1 to 9999)") from None


def date_difference(interval: str, first: datetime, second: datetime) -> int:
    """VBA's DateDiff: calendar counts for years and months, whole elapsed units otherwise."""
    check_interval(interval)
    first, second = as_utc(first), as_utc(second)
    if interval == "yyyy":
        return second.year - first.year
    if interval == "m":
        return (second.year - first.year) * 12 + second.month - first.month
    if interval == "ww":
        # Calendar weeks starting on Sunday, as VBA's "ww" counts them.
        first -= timedelta(days=(first.weekday() + 1) % 7)
        second -= timedelta(days=(second.weekday() + 1) % 7)
        return int((second - first) / timedelta(weeks=1))
    unit = {"d": timedelta(days=1), "h": timedelta(hours=1), "n": timedelta(minutes=1), "s": timedelta(seconds=1)}[interval]
    return int((second - first) / unit)


# ---------------------------------------------------------------- Active Directory numbers

def from_filetime(number: int) -> datetime:
    try:
        return _FILETIME_EPOCH + timedelta(microseconds=number // 10)
    except OverflowError:
        raise DateProblem(f"{number} is outside the dates Active Directory numbers can hold") from None


def to_filetime(moment: datetime) -> int:
    delta = as_utc(moment) - _FILETIME_EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


# ---------------------------------------------------------------- .NET custom date and time formats

_DAY_NAMES = list(calendar.day_name)  # Monday first, as datetime.weekday()
_DAY_ABBR = list(calendar.day_abbr)
_MONTH_NAMES = list(calendar.month_name)[1:]
_MONTH_ABBR = list(calendar.month_abbr)[1:]
# Invariant-culture patterns of the single-letter standard formats.
_STANDARD = {
    "d": "MM/dd/yyyy", "D": "dddd, dd MMMM yyyy", "f": "dddd, dd MMMM yyyy HH:mm", "F": "dddd, dd MMMM yyyy HH:mm:ss",
    "g": "MM/dd/yyyy HH:mm", "G": "MM/dd/yyyy HH:mm:ss", "m": "MMMM dd", "M": "MMMM dd", "o": "yyyy-MM-ddTHH:mm:ss.fffffffK",
    "O": "yyyy-MM-ddTHH:mm:ss.fffffffK", "r": "ddd, dd MMM yyyy HH:mm:ss 'GMT'", "R": "ddd, dd MMM yyyy HH:mm:ss 'GMT'",
    "s": "yyyy-MM-ddTHH:mm:ss", "t": "HH:mm", "T": "HH:mm:ss", "u": "yyyy-MM-dd HH:mm:ss'Z'", "y": "yyyy MMMM", "Y": "yyyy MMMM",
}
_SPECIFIERS = "dfFghHKmMstyz"
DATE_TIME_STYLES = {
    "none", "allowleadingwhite", "allowtrailingwhite", "allowinnerwhite", "allowwhitespaces", "nocurrentdatedefault",
    "adjusttouniversal", "assumelocal", "assumeuniversal", "roundtripkind",
}


@lru_cache(maxsize=256)
def format_tokens(pattern: str) -> tuple[tuple[str, str], ...]:
    """Split a .NET format into ("spec", "yyyy") and ("text", "-") tokens."""
    if len(pattern) == 1:
        if pattern not in _STANDARD:
            raise DateProblem(f'"{pattern}" is not a .NET standard date format; write a custom one such as "yyyy-MM-dd"')
        pattern = _STANDARD[pattern]
    tokens, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char in _SPECIFIERS:
            j = i
            while j < len(pattern) and pattern[j] == char:
                j += 1
            tokens.append(("spec", pattern[i:j]))
            i = j
        elif char in "'\"":
            end = pattern.find(char, i + 1)
            if end == -1:
                raise DateProblem(f"the format {pattern!r} has an unclosed {char} quote")
            tokens.append(("text", pattern[i + 1 : end]))
            i = end + 1
        elif char == "\\" and i + 1 < len(pattern):
            tokens.append(("text", pattern[i + 1]))
            i += 2
        elif char == "%":
            i += 1
        else:
            tokens.append(("text", char))
            i += 1
    for kind, text in tokens:
        if kind == "spec" and len(text) > _MAX_REPEAT.get(text[0], 99):
            raise DateProblem(f'"{text}" in the format {pattern!r} is not a .NET format specifier')
    return tuple(tokens)


_MAX_REPEAT = {"d": 4, "f": 7, "F": 7, "g": 2, "h": 2, "H": 2, "K": 1, "m": 2, "M": 4, "s": 2, "t": 2, "y": 5, "z": 3}


def format_date(moment: datetime, pattern: str) -> str:
    out = []
    for kind, text in format_tokens(pattern):
        if kind == "text":
            out.append(text)
            continue
        char, width = text[0], len(text)
        if char == "d":
            out.append(str(moment.day).zfill(width) if width <= 2 else (_DAY_ABBR if width == 3 else _DAY_NAMES)[moment.weekday()])
        elif char == "M":
            out.append(str(moment.month).zfill(width) if width <= 2 else (_MONTH_ABBR if width == 3 else _MONTH_NAMES)[moment.month - 1])
        elif char == "y":
            out.append(str(moment.year % 100) if width == 1 else str(moment.year % 100).zfill(2) if width == 2 else str(moment.year).zfill(width))
        elif char in "hH":
            hour = moment.hour if char == "H" else (moment.hour % 12 or 12)
            out.append(str(hour).zfill(width))
        elif char == "m":
            out.append(str(moment.minute).zfill(width))
        elif char == "s":
            out.append(str(moment.second).zfill(width))
        elif char in "fF":
            digits = f"{moment.microsecond:06}0"[:width]
            if char == "F":
                digits = digits.rstrip("0")
                if not digits and out and out[-1].endswith("."):
                    out[-1] = out[-1][:-1]  # .NET drops the point before an all-zero F fraction
            out.append(digits)
        elif char == "t":
            half = "AM" if moment.hour < 12 else "PM"
            out.append(half[:width])
        elif char == "g":
            out.append("A.D.")
        elif char == "K":
            out.append("" if moment.tzinfo is None else _offset_text(moment, 3, zulu=True))
        elif char == "z":
            out.append(_offset_text(moment, width))
    return "".join(out)


def _offset_text(moment: datetime, width: int, zulu: bool = False) -> str:
    offset = moment.utcoffset() or timedelta(0)
    if zulu and offset == timedelta(0) and moment.tzinfo is UTC:
        return "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    hours, minutes = divmod(minutes, 60)
    if width == 1:
        return f"{sign}{hours}"
    if width == 2:
        return f"{sign}{hours:02}"
    return f"{sign}{hours:02}:{minutes:02}"


@lru_cache(maxsize=256)
def _parse_regex(pattern: str) -> re.Pattern:
    parts = []
    for kind, text in format_tokens(pattern):
        if kind == "text":
            parts.append(r"\s+" if text.isspace() else re.escape(text))
            continue
        char, width = text[0], len(text)
        if char in "dMhHms" and width <= 2 or char == "y" and width <= 2:
            digits = r"\d{1,2}" if width == 1 else r"\d{2}"
            group = {"d": "day", "M": "month", "h": "hour12", "H": "hour", "m": "minute", "s": "second", "y": "year2"}[char]
            parts.append(f"(?P<{group}>{digits})")
        elif char == "y":
            parts.append(r"(?P<year>\d{%d,5})" % min(width, 4))
        elif char == "d":
            names = "|".join(_DAY_ABBR if width == 3 else _DAY_NAMES)
            parts.append(f"(?:{names})")
        elif char == "M":
            group = "monthabbr" if width == 3 else "monthname"
            parts.append(f"(?P<{group}>{'|'.join(_MONTH_ABBR if width == 3 else _MONTH_NAMES)})")
        elif char == "f":
            parts.append(r"(?P<fraction>\d{%d})" % width)
        elif char == "F":
            parts.append(r"(?P<fraction>\d{0,%d})" % width)
        elif char == "t":
            parts.append(r"(?P<half>[AP])M?" if width == 1 else r"(?P<half>[AP])M")
        elif char == "g":
            parts.append(r"(?:A\.?D\.?)")
        elif char == "z":
            parts.append({1: r"(?P<offset>[+-]\d{1,2})", 2: r"(?P<offset>[+-]\d{2})", 3: r"(?P<offset>[+-]\d{2}:\d{2})"}[width])
        elif char == "K":
            parts.append(r"(?P<offset>Z|[+-]\d{2}:\d{2})?")
    try:
        return re.compile("".join(parts), re.IGNORECASE)
    except re.error:
        # A format repeating a field (e.g. "yyyy yyyy") can't become one regex; .NET refuses it too.
        raise DateProblem(f"the format {pattern!r} repeats a date or time field") from None


def parse_with_format(text: str, pattern: str, styles: frozenset[str] = frozenset()) -> datetime:
    """.NET's DateTime.ParseExact with the given DateTimeStyles (names lower-cased)."""
    match = _parse_regex(pattern).fullmatch(text.strip())
    if not match:
        raise DateProblem(f'"{text}" does not match the input format "{pattern}"')
    parts = {k: v for k, v in match.groupdict().items() if v is not None}
    year = int(parts["year"]) if "year" in parts else None
    if year is None and "year2" in parts:
        two = int(parts["year2"])
        year = 2000 + two if two <= 49 else 1900 + two  # .NET's TwoDigitYearMax 2049
    month = int(parts["month"]) if "month" in parts else None
    if month is None and ("monthabbr" in parts or "monthname" in parts):
        name = (parts.get("monthabbr") or parts.get("monthname")).title()
        month = (_MONTH_ABBR.index(name) if "monthabbr" in parts else _MONTH_NAMES.index(name)) + 1
    hour = int(parts.get("hour", 0))
    if "hour12" in parts:
        hour = int(parts["hour12"]) % 12
        if parts.get("half", "A").upper() == "P":
            hour += 12
    fraction = parts.get("fraction", "").ljust(6, "0")[:6]
    tzinfo = _offset(parts.get("offset"))
    try:
        moment = datetime(
            year or 1, month or 1, int(parts.get("day", 1)), hour, int(parts.get("minute", 0)),
            int(parts.get("second", 0)), int(fraction), tzinfo=tzinfo,
        )
    except ValueError as exc:
        raise DateProblem(f'"{text}" matches "{pattern}" but is not a valid date ({exc})') from None
    if moment.tzinfo is None and "assumeuniversal" in styles:
        moment = moment.replace(tzinfo=UTC)
    if moment.tzinfo is not None and "adjusttouniversal" in styles:
        moment = moment.astimezone(UTC)
    return moment


def parse_styles(text: str | None) -> frozenset[str]:
    """DateTimeStyles names, separated by commas, spaces or '|' (e.g. "AdjustToUniversal, AssumeUniversal")."""
    if not text:
        return frozenset()
    names = [name for name in re.split(r"[\s,|]+", text) if name]
    unknown = [name for name in names if name.removeprefix("DateTimeStyles.").lower() not in DATE_TIME_STYLES]
    if unknown:
        raise DateProblem(
            f'"{unknown[0]}" is not a DateTimeStyles value; use AdjustToUniversal, AssumeUniversal, AssumeLocal, '
            "RoundtripKind, AllowWhiteSpaces or None, or leave the argument empty"
        )
    return frozenset(name.removeprefix("DateTimeStyles.").lower() for name in names)
