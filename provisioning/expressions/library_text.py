"""String functions: Append, ConvertToBase64, ConvertToUTF8Hex, InStr, Left, Mid, NormalizeDiacritics,
PCase, RandomString, Replace, StripSpaces, ToLower, ToUpper, Word.

Each takes already-evaluated arguments (None for null or an empty argument) and returns a value.
"""

from __future__ import annotations

import base64
import re
import secrets
import string
import unicodedata

from provisioning import safe_regex

from .diacritics import normalize_diacritics
from .dotnet_regex import compile_dotnet, substitution
from .values import ArgumentProblem, quoted, to_int, to_text

RANDOM_STRING_MAX = 256
# The special characters Windows password complexity counts (the set Entra's RandomString draws from).
SPECIAL_CHARACTERS = "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/"


def append(source, suffix):
    source = to_text(source, "source")
    if source is None:
        return None
    return source + (to_text(suffix, "suffix") or "")


def convert_to_base64(source):
    source = to_text(source, "source")
    return None if source is None else base64.b64encode(source.encode("utf-16-le")).decode("ascii")


def convert_to_utf8_hex(source):
    source = to_text(source, "source")
    return None if source is None else source.encode("utf-8").hex().upper()


def in_str(value1, value2, start=None, compare_type=None):
    haystack, needle = to_text(value1, "value1"), to_text(value2, "value2")
    if haystack is None or needle is None:
        return None
    begin = 1 if start is None else to_int(start, "start")
    if begin < 1:
        raise ArgumentProblem(f"start must be 1 or more (1 is the first character), not {begin}")
    if _text_compare(compare_type):
        haystack, needle = haystack.casefold(), needle.casefold()
    return haystack.find(needle, begin - 1) + 1


def _text_compare(compare_type) -> bool:
    if compare_type is None:
        return False
    if isinstance(compare_type, int) and not isinstance(compare_type, bool) and compare_type in (0, 1):
        return compare_type == 1
    name = str(compare_type).strip()
    if name in ("vbTextCompare", "1"):
        return True
    if name in ("vbBinaryCompare", "0"):
        return False
    raise ArgumentProblem(f"compareType must be vbBinaryCompare (case-sensitive) or vbTextCompare, not {quoted(compare_type)}")


def left(text, num_chars):
    text = to_text(text, "String")
    count = to_int(num_chars, "NumChars")
    if text is None:
        return ""
    if count < 0:
        return text
    return text[:count]


def mid(source, start, length):
    source = to_text(source, "source")
    begin, size = to_int(start, "start"), to_int(length, "length")
    if begin < 1:
        raise ArgumentProblem(f"start must be 1 or more (1 is the first character), not {begin}")
    if size < 0:
        raise ArgumentProblem(f"length must be 0 or more, not {size}")
    if source is None:
        return None
    return source[begin - 1 : begin - 1 + size]


def normalize(source):
    source = to_text(source, "source")
    return None if source is None else normalize_diacritics(source)


# Unicode categories .NET's ToTitleCase treats as word separators (the list Microsoft documents for PCase).
_SEPARATOR_CATEGORIES = frozenset(
    ("Zs", "Zl", "Zp", "Cc", "Cf", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So")
)


_ASCII_SEPARATORS = frozenset(chr(c) for c in range(128) if unicodedata.category(chr(c)) in _SEPARATOR_CATEGORIES)


def _is_title_case_separator(char: str) -> bool:
    if char < "\x80":
        return char in _ASCII_SEPARATORS
    return unicodedata.category(char) in _SEPARATOR_CATEGORIES


def pcase(source, word_separators=None):
    source = to_text(source, "source")
    if source is None:
        return None
    separators = to_text(word_separators, "wordSeparators")
    is_separator = separators.__contains__ if separators else _is_title_case_separator
    out, start_of_word = [], True
    for char in source:
        if is_separator(char):
            out.append(char)
            start_of_word = True
        else:
            out.append(char.upper() if start_of_word and len(char.upper()) == 1 else char.lower())
            start_of_word = False
    return "".join(out)


def random_string(length, minimum_numbers, minimum_special, minimum_capital, minimum_lower, characters_to_avoid=None):
    size = to_int(length, "Length")
    minimums = {
        "MinimumNumbers": to_int(minimum_numbers, "MinimumNumbers"),
        "MinimumSpecialCharacters": to_int(minimum_special, "MinimumSpecialCharacters"),
        "MinimumCapital": to_int(minimum_capital, "MinimumCapital"),
        "MinimumLowerCase": to_int(minimum_lower, "MinimumLowerCase"),
    }
    if not 1 <= size <= RANDOM_STRING_MAX:
        raise ArgumentProblem(f"Length must be between 1 and {RANDOM_STRING_MAX}, not {size}")
    for name, value in minimums.items():
        if value < 0:
            raise ArgumentProblem(f"{name} must be 0 or more, not {value}")
    if sum(minimums.values()) > size:
        raise ArgumentProblem(
            f"the minimums add up to {sum(minimums.values())}, more than Length {size}; raise Length or lower the minimums"
        )
    avoid = set(to_text(characters_to_avoid, "CharactersToAvoid") or "")
    pools = {
        "MinimumNumbers": string.digits, "MinimumSpecialCharacters": SPECIAL_CHARACTERS,
        "MinimumCapital": string.ascii_uppercase, "MinimumLowerCase": string.ascii_lowercase,
    }
    pools = {name: "".join(c for c in chars if c not in avoid) for name, chars in pools.items()}
    chosen = []
    for name, count in minimums.items():
        if count and not pools[name]:
            raise ArgumentProblem(f"CharactersToAvoid excludes every character {name} could use")
        chosen.extend(secrets.choice(pools[name]) for _ in range(count))
    everything = "".join(pools.values())
    if len(chosen) < size and not everything:
        raise ArgumentProblem("CharactersToAvoid excludes every character")
    chosen.extend(secrets.choice(everything) for _ in range(size - len(chosen)))
    secrets.SystemRandom().shuffle(chosen)
    return "".join(chosen)


def replace(source, old_value, regex_pattern, regex_group_name, replacement_value, replacement_attribute=None, template=None):
    """Entra's five modes, chosen by which arguments are given (see replace_mode)."""
    mode = replace_mode(
        old_value is not None, regex_pattern is not None, regex_group_name is not None,
        replacement_value is not None, template is not None,
    )
    source = to_text(source, "source")
    if mode == "regex-attribute":
        if source:
            return source
        other = to_text(replacement_attribute, "replacementAttributeName")
        if other is None:
            return source
        text = to_text(regex_pattern, "regexPattern")
        pattern = compile_dotnet(text)
        group = to_text(regex_group_name, "regexGroupName")
        _check_group(pattern, group)
        match = safe_regex.search(pattern, other, text)
        return match.group(group) if match and match.group(group) is not None else None
    if source is None:
        return None
    if mode == "value":
        old = to_text(old_value, "oldValue")
        if old == "":
            raise ArgumentProblem("oldValue is empty; give the text to replace")
        return source.replace(old, to_text(replacement_value, "replacementValue"))
    if mode == "template":
        return to_text(template, "template").replace(to_text(old_value, "oldValue"), source)
    text = to_text(regex_pattern, "regexPattern")
    pattern = compile_dotnet(text)
    replacement = to_text(replacement_value, "replacementValue")
    if mode == "regex":
        return safe_regex.sub(pattern, substitution(replacement, pattern), source, text)
    group = to_text(regex_group_name, "regexGroupName")
    _check_group(pattern, group)
    out, last = [], 0
    for match in safe_regex.finditer(pattern, source, text):
        begin, end = match.span(group)
        if begin == -1:  # the group took no part in this match
            continue
        out.append(source[last:begin])
        out.append(replacement)
        last = end
    out.append(source[last:])
    return "".join(out)


def replace_mode(old_value: bool, regex_pattern: bool, regex_group_name: bool, replacement_value: bool, template: bool) -> str:
    """Which of Replace's modes the given arguments select; raises with the accepted combinations."""
    if regex_pattern:
        if regex_group_name:
            return "regex-group" if replacement_value else "regex-attribute"
        if replacement_value:
            return "regex"
        raise ArgumentProblem("with regexPattern, give replacementValue (or regexGroupName and replacementAttributeName)")
    if old_value:
        if replacement_value:
            return "value"
        if template:
            return "template"
        raise ArgumentProblem("with oldValue, give replacementValue (to replace it in source) or template (to put source into it)")
    raise ArgumentProblem(
        "give oldValue or regexPattern: Replace(source, oldValue, regexPattern, regexGroupName, replacementValue, "
        "replacementAttributeName, template), leaving unused arguments empty"
    )


def _check_group(pattern: safe_regex.Pattern, group: str):
    if group not in pattern.groupindex:
        names = ", ".join(pattern.groupindex) or "none"
        raise ArgumentProblem(f'regexGroupName "{group}" is not a named group of regexPattern (its groups: {names})')


def strip_spaces(source):
    source = to_text(source, "source")
    return None if source is None else source.replace(" ", "")


_CULTURE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")


def _culture(culture) -> str:
    name = to_text(culture, "culture")
    if not name:
        return ""
    if not _CULTURE.fullmatch(name):
        raise ArgumentProblem(f'culture "{name}" is not a culture name; use one like "en-US" or "tr-TR", or leave it empty')
    return name.split("-")[0].split("_")[0].lower()


def to_lower(source, culture=None):
    source = to_text(source, "source")
    language = _culture(culture)
    if source is None:
        return None
    if language in ("tr", "az"):
        source = source.replace("I", "ı").replace("İ", "i")
    return _per_character(source, str.lower)


def to_upper(source, culture=None):
    source = to_text(source, "source")
    language = _culture(culture)
    if source is None:
        return None
    if language in ("tr", "az"):
        source = source.replace("i", "İ")
    return _per_character(source, str.upper)


def _per_character(source: str, convert) -> str:
    # .NET changes case character by character (ß stays ß, İ becomes i); Python lengthens a few characters.
    converted = convert(source)
    if len(converted) == len(source):
        return converted
    return "".join(convert(c) if len(convert(c)) == 1 else c for c in source)


def word(text, word_number, delimiters):
    text = to_text(text, "String")
    number = to_int(word_number, "WordNumber")
    delimiters = to_text(delimiters, "Delimiters") or ""
    if text is None or number < 1:
        return ""
    if delimiters:
        words = [w for w in re.split("[" + re.escape(delimiters) + "]", text) if w]
    else:
        words = [text] if text else []
    return words[number - 1] if number <= len(words) else ""


IMPLEMENTATIONS = {
    "Append": append,
    "ConvertToBase64": convert_to_base64,
    "ConvertToUTF8Hex": convert_to_utf8_hex,
    "InStr": in_str,
    "Left": left,
    "Mid": mid,
    "NormalizeDiacritics": normalize,
    "PCase": pcase,
    "RandomString": random_string,
    "Replace": replace,
    "StripSpaces": strip_spaces,
    "ToLower": to_lower,
    "ToUpper": to_upper,
    "Word": word,
}
