"""A hand-written recursive-descent parser: text -> syntax tree (see nodes.py), with errors that point.

Grammar (whitespace, including new lines, may separate any two tokens):

    expression := operand [ operator operand ]        operator: = <> > >= < <=
    operand    := NAME "(" [ argument { "," argument } ] ")"   a function call
                | "[" attribute name "]" | STRING | NUMBER | NAME (vbTextCompare, vbBinaryCompare, True, False)
    argument   := expression | (nothing)              an empty argument is null, as in Switch([a], , "1", "x")
"""

from __future__ import annotations

from .errors import ExpressionSyntaxError, where
from .lexer import ATTRIBUTE, COMMA, END, LPAREN, NAME, NUMBER, OPERATOR, RPAREN, STRING, Token, describe, tokenize
from .nodes import Attribute, Call, Comparison, Constant, Missing, Node, Number, String
from .specs import FUNCTIONS

MAX_LENGTH = 10_000  # Entra's limit on an expression's length
MAX_DEPTH = 100  # far beyond real mappings; keeps recursion (here and in the evaluator) bounded
CONSTANTS = ("vbBinaryCompare", "vbTextCompare", "True", "False")
_OPERAND = 'an [attribute], a "string", a number or a function call'


def parse(source: str) -> Node:
    if not isinstance(source, str):
        raise ExpressionSyntaxError(f"an expression must be text, not {type(source).__name__}")
    if len(source) > MAX_LENGTH:
        raise ExpressionSyntaxError(
            f"The expression is {len(source):,} characters long; Entra accepts at most {MAX_LENGTH:,} characters. "
            "Shorten it, for example by moving repeated parts into separate mappings."
        )
    if not source.strip():
        raise ExpressionSyntaxError(
            'The expression is empty; write a function call such as Join(" ", [givenName], [surname]), '
            'an [attribute] or a "string".'
        )
    return _Parser(source).parse()


class _Parser:
    def __init__(self, source: str):
        self.source = source
        self.tokens = tokenize(source)
        self.position = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.position]

    def advance(self) -> Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def fail(self, message: str, offset: int):
        at = "at " + where(self.source, offset)
        raise ExpressionSyntaxError(message.replace("{at}", at), source=self.source, offset=offset)

    def parse(self) -> Node:
        tree = self.expression()
        token = self.token
        if token.kind == RPAREN:
            self.fail("unexpected ')' {at}: there is no open '(' for it to close", token.offset)
        if token.kind != END:
            self.fail(
                f"unexpected {describe(token)} {{at}}, after the end of the expression; "
                "an expression is one value: pass further values as arguments of a function such as Join",
                token.offset,
            )
        return tree

    def expression(self) -> Node:
        left = self.operand("an argument")
        if self.token.kind == OPERATOR:
            operator = self.advance()
            right = self.operand(f"a value to compare with after '{operator.value}'")
            if self.token.kind == OPERATOR:
                self.fail(
                    f"'{self.token.value}' {{at}}: comparisons can't be chained; compare two values at a time and nest IIF calls",
                    self.token.offset,
                )
            left = Comparison(operator.value, left, right, offset=left.offset)
        token = self.token
        if token.kind == NAME and token.text.upper() in ("AND", "OR"):
            self.fail(
                f"'{token.text}' {{at}}: Entra expressions have no AND/OR; nest IIF calls instead, e.g. "
                'IIF([country]="USA", IIF([state]="CA", "True", "False"), "False") for AND',
                token.offset,
            )
        return left

    def operand(self, wanted: str) -> Node:
        token = self.token
        if token.kind == STRING:
            self.advance()
            return String(token.value, offset=token.offset)
        if token.kind == NUMBER:
            self.advance()
            return Number(token.value, offset=token.offset)
        if token.kind == ATTRIBUTE:
            self.advance()
            return Attribute(token.value, offset=token.offset)
        if token.kind == NAME:
            if self.tokens[self.position + 1].kind == LPAREN:
                return self.call()
            if token.value in CONSTANTS:
                self.advance()
                return Constant(token.value, offset=token.offset)
            self.bare_name(token)
        if token.kind == END:
            self.fail(f"expected {wanted} ({_OPERAND}) {{at}}, but the expression ends there", token.offset)
        self.fail(f"expected {wanted} ({_OPERAND}) {{at}}, found {describe(token)}", token.offset)

    def bare_name(self, token: Token):
        name = token.value
        if name in FUNCTIONS:
            self.fail(f"{name} {{at}} is a function: call it with parentheses, as in {FUNCTIONS[name].signature}", token.offset)
        if name.upper() in ("AND", "OR", "NOT"):
            self.fail(f"'{name}' {{at}}: Entra expressions have no {name.upper()} operator; use nested IIF calls or Not(...)", token.offset)
        self.fail(
            f"unknown name '{name}' {{at}}: write attributes in square brackets, like [{name}], "
            f'and text in double quotes, like "{name}"',
            token.offset,
        )

    def call(self) -> Call:
        name_token = self.advance()
        self.advance()  # "("
        name = name_token.value
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail(f"{name} {{at}} is nested more than {MAX_DEPTH} function calls deep; simplify the expression", name_token.offset)
        args: list[Node] = []
        if self.token.kind == RPAREN:
            self.advance()
            self.depth -= 1
            return Call(name, (), offset=name_token.offset)
        while True:
            if self.token.kind in (COMMA, RPAREN):
                args.append(Missing(offset=self.token.offset))
            else:
                args.append(self.expression())
            token = self.token
            if token.kind == COMMA:
                self.advance()
                continue
            if token.kind == RPAREN:
                self.advance()
                break
            opened = f"{name}( opened at {where(self.source, name_token.offset)} is never closed"
            if token.kind == END:
                self.fail(
                    f"expected ',' or ')' after argument {len(args)} of {name} {{at}}, but the expression ends there: {opened}",
                    token.offset,
                )
            self.fail(
                f"expected ',' or ')' after argument {len(args)} of {name} {{at}}, found {describe(token)}; "
                "separate arguments with commas",
                token.offset,
            )
        self.depth -= 1
        return Call(name, tuple(args), offset=name_token.offset)
