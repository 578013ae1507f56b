"""Regular expressions an admin writes (scoping REGEX MATCH, Replace's regexPattern), run with a time limit.

Python's `re` cannot be interrupted: a pattern such as `(a+)+$` against a long "aaaa…b" backtracks for
hours and holds the worker (and, through the GIL, every thread of the web server). The `regex` package
takes a `timeout=` per call and releases the GIL while it matches (`concurrent=True`), so a runaway
pattern ends in RegexTimeout after MATCH_TIMEOUT seconds and other threads keep running meanwhile.

Patterns compile with VERSION0, the `re`-compatible dialect, so every pattern that worked before still means
the same. Save runs `probe()`: a pattern that already times out on a test value of ordinary length is refused
there, before any object meets it; evaluation still carries the limit for values Save could not foresee.
"""

from __future__ import annotations

from functools import lru_cache

import regex

# Per match (search, one substitution pass, one finditer): generous for any sane pattern on a directory
# attribute (microseconds), short enough that a cycle of thousands of objects is not held up for long.
MATCH_TIMEOUT = 0.25

# The test values Save tries: as long as a long directory attribute (Entra's string attributes hold up to
# 1,024 characters), one character repeated and then a character that breaks a match at the end — the
# input that makes nested repetitions backtrack.
PROBE_LENGTH = 1024
_PROBE_BASICS = "a0 .-_@"
_PROBE_CHARACTERS_MAX = 12

error = regex.error
Pattern = regex.Pattern


class RegexTimeout(Exception):
    """A match ran out of time; str(e) says which pattern, on what, and that it was stopped."""

    def __init__(self, pattern: str, length: int):
        self.pattern, self.length = pattern, length
        super().__init__(
            f'the regular expression "{_short(pattern)}" took longer than {_seconds(MATCH_TIMEOUT)} on a value of '
            f"{length:,} characters and was stopped (it backtracks catastrophically, as nested repetitions such as "
            "(a+)+ do)"
        )


REWRITE_HINT = (
    "Rewrite the pattern so no repeated group is itself repeated: e.g. a+$ instead of (a+)+$, "
    "[^@]+@contoso\\.com$ instead of (.+)+@contoso\\.com$."
)


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> regex.Pattern:
    """Compile with `re`'s dialect; raises regex.error (alias `error`) for a pattern that does not compile."""
    return regex.compile(pattern, regex.VERSION0)


def search(compiled: regex.Pattern, text: str, shown: str | None = None):
    """compiled.search with the limit; shown, in messages, is the pattern as the admin wrote it."""
    try:
        return compiled.search(text, timeout=MATCH_TIMEOUT, concurrent=True)
    except TimeoutError:
        raise RegexTimeout(shown or compiled.pattern, len(text)) from None


def sub(compiled: regex.Pattern, replacement, text: str, shown: str | None = None) -> str:
    try:
        return compiled.sub(replacement, text, timeout=MATCH_TIMEOUT, concurrent=True)
    except TimeoutError:
        raise RegexTimeout(shown or compiled.pattern, len(text)) from None


def finditer(compiled: regex.Pattern, text: str, shown: str | None = None) -> list:
    """Every match, as a list: the limit covers the whole scan, not each step of a lazy iterator."""
    try:
        return list(compiled.finditer(text, timeout=MATCH_TIMEOUT, concurrent=True))
    except TimeoutError:
        raise RegexTimeout(shown or compiled.pattern, len(text)) from None


def probe(compiled: regex.Pattern, shown: str | None = None) -> None:
    """Raise RegexTimeout when the pattern runs out of time on one of Save's test values.

    shown: the pattern as the admin wrote it, when it was translated before compiling (.NET syntax)."""
    for value in probe_values(shown or compiled.pattern):
        search(compiled, value, shown)


def probe_values(pattern: str) -> list[str]:
    """A run of each character the pattern names (and a few common ones), ended by one it does not expect."""
    characters = []
    for char in pattern + _PROBE_BASICS:
        if (char.isalnum() or char in _PROBE_BASICS) and char not in characters:
            characters.append(char)
        if len(characters) >= _PROBE_CHARACTERS_MAX:
            break
    ending = next((char for char in "!~#" if char not in pattern), "\x00")
    return [char * PROBE_LENGTH + ending for char in characters]


def _short(pattern: str) -> str:
    return pattern if len(pattern) <= 80 else pattern[:77] + "…"


def _seconds(value: float) -> str:
    return f"{value:g} s"
