"""The syntax tree of an expression, and the printer that turns a tree back into canonical text.

Nodes are frozen dataclasses: two trees are equal when they mean the same expression. The offset of a
node in its source text is kept for error messages but left out of equality, so a tree parsed from
`to_source()` output equals the tree it was printed from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

COMPARISON_OPERATORS = ("=", "<>", ">=", "<=", ">", "<")


@dataclass(frozen=True)
class Node:
    offset: int = field(default=0, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Attribute(Node):
    """`[name]`: a source attribute; null when the object doesn't have it."""

    name: str


@dataclass(frozen=True)
class String(Node):
    """`"text"`: a string constant (value is unescaped)."""

    value: str


@dataclass(frozen=True)
class Number(Node):
    """`42`, `-10` or VBA's `&HF7`: a whole number."""

    value: int


@dataclass(frozen=True)
class Constant(Node):
    """A bare name standing for a VBA constant: vbTextCompare, vbBinaryCompare, True, False."""

    name: str


@dataclass(frozen=True)
class Missing(Node):
    """An argument left empty, as in Entra's `Switch([Active], , "1", "True")`: null."""


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Comparison(Node):
    """`left op right`, the condition form IIF (and CBool) take."""

    operator: str
    left: Node
    right: Node


def to_source(node: Node) -> str:
    """Canonical text: `Name(arg, arg)`, `[attribute]`, `"escaped \\" string"`, `a = b`."""
    if isinstance(node, Call):
        return f"{node.name}({', '.join(to_source(arg) for arg in node.args)})"
    if isinstance(node, Attribute):
        return f"[{node.name}]"
    if isinstance(node, String):
        return '"' + node.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(node, Number):
        return str(node.value)
    if isinstance(node, Constant):
        return node.name
    if isinstance(node, Missing):
        return ""
    if isinstance(node, Comparison):
        return f"{to_source(node.left)} {node.operator} {to_source(node.right)}"
    raise TypeError(f"not an expression node: {node!r}")


def walk(node: Node):
    """Every node of the tree, parents before children."""
    yield node
    if isinstance(node, Call):
        for arg in node.args:
            yield from walk(arg)
    elif isinstance(node, Comparison):
        yield from walk(node.left)
        yield from walk(node.right)
