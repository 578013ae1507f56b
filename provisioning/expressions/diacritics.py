"""NormalizeDiacritics: Microsoft's documented character table, and nothing beyond it.

Entra replaces exactly the characters of its table (e.g. "ø" becomes "oe", "ß" becomes "ss") and
leaves every other character alone, so this module does the same instead of stripping all
combining marks. Several entries are a letter followed by combining marks (e.g. "ā́"); input is
NFC-normalised first so both composed and decomposed spellings match.
"""

from __future__ import annotations

import re
import unicodedata

# (characters as the table lists them, replacement) — lower case, then upper case, row by row.
_TABLE = [
    ("ä à â ã å á ą ă ā ā́ ā̀ ā̂ ā̃ ǟ ā̈ ǡ a̱ å̄", "a"),
    ("Ä À Â Ã Å Á Ą Ă Ā Ā́ Ā̀ Ā̂ Ā̃ Ǟ Ā̈ Ǡ A̱ Å̄", "A"),
    ("æ ǣ", "ae"),
    ("Æ Ǣ", "AE"),
    ("ç č ć c̄ c̱", "c"),
    ("Ç Č Ć C̄ C̱", "C"),
    ("ď d̄ ḏ", "d"),
    ("Ď D̄ Ḏ", "D"),
    ("ë è é ê ę ě ė ē ḗ ḕ ē̂ ē̃ ê̄ e̱ ë̄ e̊̄", "e"),
    ("Ë È É Ê Ę Ě Ė Ē Ḗ Ḕ Ē̂ Ē̃ Ê̄ E̱ Ë̄ E̊̄", "E"),
    ("ğ ḡ g̱", "g"),
    ("Ğ Ḡ G̱", "G"),
    ("ï î ì í ı ī ī́ ī̀ ī̂ ī̃ i̱", "i"),
    ("Ï Î Ì Í İ Ī Ī́ Ī̀ Ī̂ Ī̃ I̱", "I"),
    ("ľ ł l̄ ḹ ḻ", "l"),
    ("Ł Ľ L̄ Ḹ Ḻ", "L"),
    ("ñ ń ň n̄ ṉ", "n"),
    ("Ñ Ń Ň N̄ Ṉ", "N"),
    ("ö ò ő õ ô ó ō ṓ ṑ ō̂ ō̃ ȫ ō̈ ǭ ȭ ȱ o̱", "o"),
    ("Ö Ò Ő Õ Ô Ó Ō Ṓ Ṑ Ō̂ Ō̃ Ȫ Ō̈ Ǭ Ȭ Ȱ O̱", "O"),
    ("ø ø̄ œ̄", "oe"),
    ("Ø Ø̄ Œ̄", "OE"),
    ("ř r̄ ṟ ṝ", "r"),
    ("Ř R̄ Ṟ Ṝ", "R"),
    ("ß", "ss"),
    ("š ś ș ş s̄ s̱", "s"),
    ("Š Ś Ș Ş S̄ S̱", "S"),
    ("ť ț t̄ ṯ", "t"),
    ("Ť Ț T̄ Ṯ", "T"),
    ("ü ù û ú ů ű ū ū́ ū̀ ū̂ ū̃ u̇̄ ǖ ṻ ṳ̄ u̱", "u"),
    ("Ü Ù Û Ú Ů Ű Ū Ū́ Ū̀ Ū̂ Ū̃ U̇̄ Ǖ Ṻ Ṳ̄ U̱", "U"),
    ("ÿ ý ȳ ȳ́ ȳ̀ ȳ̃ y̱", "y"),
    ("Ÿ Ý Ȳ Ȳ́ Ȳ̀ Ȳ̃ Y̱", "Y"),
    ("ź ž ż z̄ ẕ", "z"),
    ("Ź Ž Ż Z̄ Ẕ", "Z"),
]

REPLACEMENTS: dict[str, str] = {}
for _characters, _replacement in _TABLE:
    for _character in _characters.split():
        REPLACEMENTS[unicodedata.normalize("NFC", _character)] = _replacement
# Entries of one character go through str.translate; entries of a letter plus combining marks
# (e.g. "ā́") are matched first, longest first, and only when the text has a combining mark at all.
_SINGLE = str.maketrans({key: value for key, value in REPLACEMENTS.items() if len(key) == 1})
_SEQUENCES = re.compile("|".join(re.escape(key) for key in sorted((k for k in REPLACEMENTS if len(k) > 1), key=len, reverse=True)))
_COMBINING = re.compile("[\u0300-\u036f]")


def normalize_diacritics(text: str) -> str:
    if text.isascii():
        return text
    text = unicodedata.normalize("NFC", text)
    if _COMBINING.search(text):
        text = _SEQUENCES.sub(lambda match: REPLACEMENTS[match.group(0)], text)
    return text.translate(_SINGLE)
