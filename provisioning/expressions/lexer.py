"""Splits expression text into tokens, each with its offset for error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ExpressionSyntaxError, where

NAME, ATTRIBUTE, STRING, NUMBER, OPERATOR, LPAREN, RPAREN, COMMA, END = (
    "name", "attribute", "string", "number", "operator", "(", ")", ",", "end",
)

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"-?[0-9]+")
_HEX = re.compile(r"&[Hh]([0-9A-Fa-f]+)")
_SPACE = re.compile(r"\s+")
_OPERATORS = ("<>", ">=", "<=", "=", ">", "<")
_DIGITS = "0123456789"
_DIGITS_NONEMPTY = tuple(_DIGITS)  # "in" on a tuple: the empty string (end of text) is not a digit
_CURLY_QUOTES = "\u201c\u201d\u201e\u00ab\u00bb"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str
    value: object
    offset: int
    text: str


def describe(token: Token) -> str:
    """How a message names a token: "')'", "the name 'Foo'", 'the end of the expression'."""
    if token.kind == END:
        return "the end of the expression"
    if token.kind == NAME:
        return f"the name '{token.text}'"
    if token.kind == ATTRIBUTE:
        return f"the attribute {token.text}"
    if token.kind == STRING:
        return f"the string {_shorten(token.text)}"
    if token.kind == NUMBER:
        return f"the number {token.text}"
    return f"'{token.text}'"


def tokenize(source: str) -> list[Token]:
    tokens = []
    position, length = 0, len(source)
    while True:
        space = _SPACE.match(source, position)
        if space:
            position = space.end()
        if position >= length:
            tokens.append(Token(END, None, length, ""))
            return tokens
        char = source[position]
        if char == "(":
            tokens.append(Token(LPAREN, None, position, "("))
            position += 1
        elif char == ")":
            tokens.append(Token(RPAREN, None, position, ")"))
            position += 1
        elif char == ",":
            tokens.append(Token(COMMA, None, position, ","))
            position += 1
        elif char == '"':
            token = _string(source, position)
            tokens.append(token)
            position += len(token.text)
        elif char == "[":
            token = _attribute(source, position)
            tokens.append(token)
            position += len(token.text)
        elif char in _DIGITS_NONEMPTY or (char == "-" and source[position + 1 : position + 2] in _DIGITS_NONEMPTY):
            token = _number(source, position)
            tokens.append(token)
            position += len(token.text)
        elif char == "&":
            match = _HEX.match(source, position)
            if not match:
                _fail(source, position, "'&' {at} must start a hexadecimal number such as &HF7")
            tokens.append(Token(NUMBER, int(match.group(1), 16), position, match.group(0)))
            position = match.end()
        elif char in "<>=!":
            position = _operator(source, position, tokens)
        elif match := _NAME.match(source, position):
            tokens.append(Token(NAME, match.group(0), position, match.group(0)))
            position = match.end()
        else:
            _fail(source, position, _unexpected_character(char))


def _string(source: str, start: int) -> Token:
    # Entra escapes only \" and \\; any other backslash is kept as written, so regex
    # patterns such as "\d+" mean what their author meant.
    chars = []
    position = start + 1
    while True:
        end = source.find('"', position)
        backslash = source.find("\\", position)
        if end == -1:
            _fail(source, start, 'the string that starts {at} has no closing double quote ("); add one, and write \\" for a quote inside the text')
        if backslash != -1 and backslash < end:
            chars.append(source[position:backslash])
            following = source[backslash + 1 : backslash + 2]
            if following in ('"', "\\"):
                chars.append(following)
                position = backslash + 2
            else:
                chars.append("\\")
                position = backslash + 1
            continue
        chars.append(source[position:end])
        text = source[start : end + 1]
        return Token(STRING, "".join(chars), start, text)


def _attribute(source: str, start: int) -> Token:
    end = start + 1
    while end < len(source) and source[end] not in "][\n":
        end += 1
    if end >= len(source) or source[end] != "]":
        _fail(source, start, "the attribute name that starts {at} has no closing ']'; write attributes as [attributeName]")
    name = source[start + 1 : end].strip()
    if not name:
        _fail(source, start, "'[]' {at} names no attribute; write the attribute's name between the brackets, like [mail]")
    return Token(ATTRIBUTE, name, start, source[start : end + 1])


def _number(source: str, start: int) -> Token:
    match = _NUMBER.match(source, start)
    end = match.end()
    if source[end : end + 1] == "." and source[end + 1 : end + 2] in _DIGITS_NONEMPTY:
        _fail(source, start, "decimal number {at}: only whole numbers are supported; use a whole number, or a string such as \"1.5\"")
    return Token(NUMBER, int(match.group(0)), start, match.group(0))


def _operator(source: str, start: int, tokens: list[Token]) -> int:
    two = source[start : start + 2]
    if two == "==":
        _fail(source, start, "'==' {at}: compare with a single '=' (Entra has no '==')")
    if two == "!=":
        _fail(source, start, "'!=' {at}: write 'not equal' as '<>' (Entra has no '!=')")
    if two == "=>" or two == "=<":
        _fail(source, start, f"'{two}' {{at}}: write '{two[::-1]}' instead")
    for operator in _OPERATORS:
        if source.startswith(operator, start):
            tokens.append(Token(OPERATOR, operator, start, operator))
            return start + len(operator)
    _fail(source, start, "'!' {at} is not an operator; use Not(...) to negate, or '<>' for not equal")


def _unexpected_character(char: str) -> str:
    if char == "'":
        return "single quote ' {at}: strings are written in double quotes (\"text\"), not single quotes"
    if char in _CURLY_QUOTES:
        return f"'{char}' {{at}} is a typographic quote, often pasted from a document; type a straight double quote (\") instead"
    if char == "]":
        return "']' {at} closes no attribute; write attributes as [attributeName]"
    if char in "+*/&|":
        return f"'{char}' {{at}} is not an operator in Entra expressions; join text with Join(\"\", a, b) or Append(a, b)"
    if char == ";":
        return "';' {at}: arguments are separated by commas, not semicolons"
    return f"unexpected character '{char}' {{at}}"


def _fail(source: str, offset: int, message: str):
    at = "at " + where(source, offset)
    raise ExpressionSyntaxError(message.replace("{at}", at), source=source, offset=offset)


def _shorten(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
