"""The errors of the expression language; their messages are shown to admins as they are."""

from __future__ import annotations

# Long expressions (up to 10,000 characters on one line) would bury the caret; show a window around it.
_EXCERPT_RADIUS = 60


class ExpressionError(ValueError):
    """Something is wrong with an expression. str(e) is the whole message an admin reads.

    line/column (1-based) and excerpt (the source line and a caret under the column) are set when the
    problem has a place in the text.
    """

    def __init__(self, message: str, *, source: str | None = None, offset: int | None = None):
        self.message = message
        self.line = self.column = self.excerpt = None
        if source is not None and offset is not None:
            self.line, self.column, self.excerpt = locate(source, offset)
        super().__init__(self._full_message())

    def _full_message(self) -> str:
        return f"{self.message}\n{self.excerpt}" if self.excerpt else self.message


class ExpressionSyntaxError(ExpressionError):
    """The text is not a well-formed expression: grammar, unknown function, wrong number of arguments."""


class EvaluationError(ExpressionError):
    """An expression failed for one object's values (the engine records the message as the attribute's failure reason).

    str(e) is one line, fit for a log entry; .line, .column and .excerpt still point into the expression.
    """

    reads: dict | None = None  # set by evaluate_traced: the attributes read before the failure

    def _full_message(self) -> str:
        return self.message


def where(source: str, offset: int) -> str:
    """'column 31' for one-line expressions, 'line 2, column 5' for longer ones."""
    line, column, _ = locate(source, offset)
    return f"line {line}, column {column}" if "\n" in source else f"column {column}"


def locate(source: str, offset: int) -> tuple[int, int, str]:
    offset = max(0, min(offset, len(source)))
    line_start = source.rfind("\n", 0, offset) + 1
    line_end = source.find("\n", offset)
    if line_end == -1:
        line_end = len(source)
    line = source.count("\n", 0, offset) + 1
    column = offset - line_start + 1
    text = source[line_start:line_end].rstrip("\r")
    start = max(0, column - 1 - _EXCERPT_RADIUS)
    end = min(len(text), column - 1 + _EXCERPT_RADIUS)
    shown = text[start:end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    # Keep tabs in the caret line so the caret lines up under tab-indented text.
    pad = "".join("\t" if ch == "\t" else " " for ch in text[start : column - 1])
    excerpt = f"  {prefix}{shown}{suffix}\n  {' ' * len(prefix)}{pad}^"
    return line, column, excerpt
