"""Entra's expression language for attribute mappings, as a plain Python package (no Django).

Microsoft's reference: "Reference for writing expressions for attribute mappings in Microsoft Entra ID"
(learn.microsoft.com/entra/identity/app-provisioning/functions-for-customizing-application-data).

    compiled = compile_expression('Join(" ", [givenName], [surname])', source_attributes=USER_ATTRIBUTES)
    compiled.evaluate({"givenName": "John", "surname": "Doe"})        # "John Doe"
    compiled.evaluate_traced(attributes, EvaluationContext(...))       # value, display ("[Redact]"), reads

Design choices:
* The parser is hand-written recursive descent (parser.py over lexer.py), not lark: the grammar is tiny,
  and a hand-written parser knows where it is ("after argument 2 of Join") to say exactly what is wrong,
  and is faster to start. Every error carries line, column and a caret excerpt.
* A parsed tree is checked once (function names, argument counts, constant regexes/formats, the
  top-level rule of SelectUniqueValue) and compiled into closures (compiler.py); compile_expression
  caches by text, so evaluating a mapping set per user is only closure calls.
* Values: source attributes are str, bool, int or list (multi-valued); an absent attribute is null
  (None). Dates travel between date functions as datetimes and come out as Entra's
  `M/d/yyyy h:mm:ss tt` in UTC. A None result means the attribute does not flow.
* Where Microsoft's page leaves a case open the choice is written down next to the code; the main ones:
  Join leaves out null and empty sources; Split trims values and drops empty ones (as Microsoft's
  example shows); a backslash before anything but " or \\ in a string stays a backslash; Redact also
  hides the attributes it reads in Evaluation.reads; EvaluationError's str() is one line (for logs)
  and its excerpt is kept in .excerpt.
"""

from .compiler import CompiledExpression, Evaluation, EvaluationContext, compile_expression
from .errors import EvaluationError, ExpressionError, ExpressionSyntaxError
from .nodes import to_source
from .specs import FUNCTIONS, FunctionSpec


def evaluate(text: str, attributes: dict, context: EvaluationContext | None = None):
    """compile_expression(text).evaluate(attributes, context)."""
    return compile_expression(text).evaluate(attributes, context)


__all__ = [
    "FUNCTIONS",
    "CompiledExpression",
    "Evaluation",
    "EvaluationContext",
    "EvaluationError",
    "ExpressionError",
    "ExpressionSyntaxError",
    "FunctionSpec",
    "compile_expression",
    "evaluate",
    "to_source",
]
