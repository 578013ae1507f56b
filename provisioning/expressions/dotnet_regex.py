"""Entra's Replace uses .NET regular expressions; Python's `re` spells a few things differently.

Translated here: named groups `(?<name>…)` / `(?'name'…)`, back-references `\\k<name>`, and .NET
substitutions in the replacement (`$1`, `${name}`, `$$`, `$&`, `` $` ``, `$'`, `$_`).
Patterns compile and run through provisioning.safe_regex, with its time limit per match (as .NET's
Regex.MatchTimeout): a runaway pattern raises RegexTimeout, which fails the one object's evaluation.
"""

from __future__ import annotations

import re
from functools import lru_cache

from provisioning import safe_regex

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class RegexProblem(ValueError):
    pass


@lru_cache(maxsize=512)
def compile_dotnet(pattern: str) -> safe_regex.Pattern:
    try:
        return safe_regex.compile_pattern(_translate(pattern))
    except safe_regex.error as exc:
        raise RegexProblem(f'"{pattern}" is not a valid regular expression: {exc}') from None


def _translate(pattern: str) -> str:
    out, i, n = [], 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            reference = re.match(r"\\k(?:<([^>]*)>|'([^']*)')", pattern[i:])
            if reference:
                out.append(f"(?P={reference.group(1) or reference.group(2)})")
                i += reference.end()
            else:
                out.append(pattern[i : i + 2])
                i += 2
        elif char == "[":
            # Copy a character class whole: "(?<" inside it is literal text.
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append(pattern[i : j + 1])
            i = j + 1
        elif pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
        elif pattern.startswith("(?'", i):
            end = pattern.find("'", i + 3)
            if end == -1:
                raise RegexProblem(f'"{pattern}" has an unclosed group name')
            out.append(f"(?P<{pattern[i + 3 : end]}>")
            i = end + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


@lru_cache(maxsize=512)
def substitution(replacement: str, pattern: safe_regex.Pattern):
    """A function turning a match into the .NET replacement text."""
    parts: list[tuple[str, object]] = []
    i, n = 0, len(replacement)
    literal = []
    while i < n:
        char = replacement[i]
        if char != "$" or i + 1 >= n:
            literal.append(char)
            i += 1
            continue
        following = replacement[i + 1]
        reference = None
        if following == "$":
            literal.append("$")
            i += 2
            continue
        if following.isdigit():
            digits = re.match(r"\d+", replacement[i + 1 :]).group(0)
            # .NET takes the longest group number that exists.
            while digits and int(digits) > pattern.groups:
                digits = digits[:-1]
            if digits:
                reference, i = ("group", int(digits)), i + 1 + len(digits)
        elif following == "{":
            end = replacement.find("}", i + 2)
            name = replacement[i + 2 : end] if end != -1 else ""
            if name.isdigit() and int(name) <= pattern.groups:
                reference, i = ("group", int(name)), end + 1
            elif name in pattern.groupindex:
                reference, i = ("group", name), end + 1
        elif following in "&`'_+":
            reference, i = ("special", following), i + 2
        if reference is None:
            literal.append(char)
            i += 1
            continue
        if literal:
            parts.append(("text", "".join(literal)))
            literal = []
        parts.append(reference)
    if literal:
        parts.append(("text", "".join(literal)))

    def substitute(match) -> str:
        pieces = []
        for kind, value in parts:
            if kind == "text":
                pieces.append(value)
            elif kind == "group":
                pieces.append(match.group(value) or "")
            elif value == "&":
                pieces.append(match.group(0))
            elif value == "`":
                pieces.append(match.string[: match.start()])
            elif value == "'":
                pieces.append(match.string[match.end() :])
            elif value == "_":
                pieces.append(match.string)
            elif value == "+":
                pieces.append(match.group(pattern.groups) or "" if pattern.groups else "")
        return "".join(pieces)

    return substitute
