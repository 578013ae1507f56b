"""Checks a syntax tree and turns it into nested Python closures that evaluate it against one object.

Compiling once per expression text (cached) and evaluating closures keeps a mapping set fast enough
for tens of thousands of users per second; see bench/bench_expressions.py.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from . import library_dates, library_text, library_values
from .dates import DateProblem, check_interval, format_entra, format_tokens, parse_styles, _parse_regex
from provisioning.safe_regex import RegexTimeout, probe

from .dotnet_regex import RegexProblem, compile_dotnet
from .errors import EvaluationError, ExpressionError, ExpressionSyntaxError, where
from .nodes import Attribute, Call, Comparison, Constant, Missing, Node, Number, String, to_source, walk
from .parser import parse
from .specs import FUNCTIONS
from .values import ArgumentProblem, display, is_empty, is_multi, quoted, to_bool, to_date, to_text

REDACTED = "[Redact]"
IMPLEMENTATIONS = {**library_text.IMPLEMENTATIONS, **library_values.IMPLEMENTATIONS, **library_dates.IMPLEMENTATIONS}
# RegexTimeout: a pattern out of time on one object's value fails that object (at Save: on a test value).
_PROBLEMS = (ArgumentProblem, DateProblem, RegexProblem, RegexTimeout)
_INTEGER = re.compile(r"\s*-?\d+\s*")


@dataclass(frozen=True)
class EvaluationContext:
    """What an evaluation may need from outside the object's attributes.

    value_exists(candidate) -> bool: whether the target already has the value (SelectUniqueValue).
    now: the time Now() returns (tests pin it); the current UTC time when None.
    """

    value_exists: Callable[[str], bool] | None = None
    now: datetime | None = None


@dataclass(frozen=True)
class Evaluation:
    value: object
    display: str | None  # what logs and the tester show: "[Redact]" when Redact is used
    reads: dict = field(default_factory=dict)  # attribute name -> value read (None when null; "[Redact]" inside Redact)


_DEFAULT_CONTEXT = EvaluationContext()


class _IgnoreFlow(Exception):
    """IgnoreFlowIfNullOrEmpty met a null or empty value: the attribute leaves the flow."""


class _Env:
    __slots__ = ("attributes", "context", "reads")

    def __init__(self, attributes, context, reads):
        self.attributes = attributes
        self.context = context
        self.reads = reads


class CompiledExpression:
    """A checked expression, ready to evaluate many times."""

    def __init__(self, source: str, tree: Node):
        self.source = source
        self.tree = tree
        self.attributes = frozenset(node.name for node in walk(tree) if isinstance(node, Attribute))
        self.redacted = any(isinstance(node, Call) and node.name == "Redact" for node in walk(tree))
        self._run = _Compiler(source).compile(tree, top=True)

    def __repr__(self):
        return f"<CompiledExpression {self.source!r}>"

    def to_source(self) -> str:
        return to_source(self.tree)

    def evaluate(self, attributes: dict, context: EvaluationContext | None = None):
        """The value for one object: str, bool, int, list (multi-valued) or None (the attribute doesn't flow)."""
        try:
            return _result(self._run(_Env(attributes, context or _DEFAULT_CONTEXT, None)))
        except _IgnoreFlow:
            return None

    def evaluate_traced(self, attributes: dict, context: EvaluationContext | None = None) -> Evaluation:
        """Like evaluate, plus what logs show and which attributes were read (also set as .reads on an EvaluationError)."""
        reads: dict = {}
        try:
            value = _result(self._run(_Env(attributes, context or _DEFAULT_CONTEXT, reads)))
        except _IgnoreFlow:
            value = None
        except EvaluationError as error:
            error.reads = reads
            raise
        shown = REDACTED if self.redacted and value is not None else display(value)
        return Evaluation(value, shown, reads)


def _result(value):
    if isinstance(value, datetime):
        return format_entra(value)
    if isinstance(value, tuple):
        return list(value)
    return value


@lru_cache(maxsize=2048)
def _compile_cached(text: str) -> CompiledExpression:
    return CompiledExpression(text, parse(text))


def compile_expression(text: str, source_attributes: Iterable[str] | None = None) -> CompiledExpression:
    """Parse, check and compile an expression (cached by text).

    source_attributes: the source schema's attribute names; attributes the expression reads that are not
    among them (compared case-insensitively, as Entra does) raise ExpressionError naming them.
    """
    if not isinstance(text, str):
        raise ExpressionSyntaxError(f"an expression must be text, not {type(text).__name__}")
    compiled = _compile_cached(text)
    if source_attributes is not None:
        _check_attributes(compiled, source_attributes)
    return compiled


def _check_attributes(compiled: CompiledExpression, source_attributes: Iterable[str]):
    known = {name.lower(): name for name in source_attributes}
    unknown = [node for node in walk(compiled.tree) if isinstance(node, Attribute) and node.name.lower() not in known]
    if not unknown:
        return
    described = []
    for node in unknown:
        guess = difflib.get_close_matches(node.name.lower(), known, n=1, cutoff=0.6)
        hint = f"; did you mean [{known[guess[0]]}]?" if guess else ""
        described.append(f"[{node.name}] (at {where(compiled.source, node.offset)}{hint})")
    noun = "attribute" if len(unknown) == 1 else "attributes"
    raise ExpressionError(
        f"The source has no {noun} {' or '.join(described)}. Check the spelling against the source attribute list.",
        source=compiled.source,
        offset=unknown[0].offset,
    )


class _Compiler:
    def __init__(self, source: str):
        self.source = source

    def fail(self, error_class, message: str, node: Node):
        at = "at " + where(self.source, node.offset)
        raise error_class(message.replace("{at}", at), source=self.source, offset=node.offset)

    def compile(self, node: Node, top: bool = False, redacted: bool = False):
        if isinstance(node, Call):
            return self.call(node, top, redacted)
        if isinstance(node, Attribute):
            return _reader(node.name, redacted)
        if isinstance(node, String | Number):
            value = node.value
            return lambda env: value
        if isinstance(node, Constant):
            # vbTextCompare/vbBinaryCompare reach InStr as their names; True/False as booleans.
            value = {"True": True, "False": False}.get(node.name, node.name)
            return lambda env: value
        if isinstance(node, Missing):
            return lambda env: None
        if isinstance(node, Comparison):
            return self.comparison(node, redacted)
        raise TypeError(f"not an expression node: {node!r}")

    def comparison(self, node: Comparison, redacted: bool):
        left, right = self.compile(node.left, redacted=redacted), self.compile(node.right, redacted=redacted)
        operator, source, offset = node.operator, self.source, node.offset

        def compare(env):
            try:
                return _compare(operator, left(env), right(env))
            except _PROBLEMS as problem:
                raise EvaluationError(f"the comparison at {where(source, offset)}: {problem}", source=source, offset=offset) from None

        return compare

    def call(self, node: Call, top: bool, redacted: bool):
        spec = self.check_call(node, top)
        name = node.name
        inner_redacted = redacted or name == "Redact"
        args = [self.compile(arg, redacted=inner_redacted) for arg in node.args]
        label = f"{name} at {where(self.source, node.offset)}"
        source, offset = self.source, node.offset

        def failure(message: str) -> EvaluationError:
            return EvaluationError(f"{label}: {message}", source=source, offset=offset)

        if name == "IIF":
            return self.iif(node, args, failure, redacted)
        if name == "SelectUniqueValue":
            return _select_unique_value(args, failure)
        if name == "IgnoreFlowIfNullOrEmpty":
            return _ignore_flow(args[0])
        if name == "Redact":
            return args[0]
        if name == "Now":
            return _now
        implementation = IMPLEMENTATIONS[spec.name]

        def run(env):
            values = [arg(env) for arg in args]
            try:
                return implementation(*values)
            except ExpressionError:
                raise
            except _PROBLEMS as problem:
                raise failure(str(problem)) from None
            except (ValueError, TypeError, OverflowError, IndexError) as exc:
                # A gap in a function's own checks; still a clear failure for this object, never a crash.
                raise failure(f"could not be evaluated ({exc})") from None

        return run

    def iif(self, node: Call, args, failure, redacted: bool):
        condition, if_true, if_false = args
        # Entra fails an IIF whose condition compares a null or empty attribute (IIF([country]="USA", …) with no
        # country). An attribute inside a function call is that function's business: the documented null
        # fallback IIF(IsNullOrEmpty([department]), "Unassigned", [department]) must work.
        names = list(dict.fromkeys(_compared_attributes(node.args[0])))
        readers = [(name, _reader(name, redacted)) for name in names]

        def iif(env):
            for name, read in readers:
                value = read(env)
                if is_empty(value):
                    raise failure(
                        f"the condition reads [{name}], which is {'null' if value is None else 'empty'} for this object, "
                        f"and Entra fails an IIF whose condition compares a null or empty attribute. Test for it first, "
                        f'e.g. IIF(IsNullOrEmpty([{name}]), "Other", …), or use Switch([{name}], [{name}], "", "Other")'
                    )
            try:
                truth = to_bool(condition(env), "the condition")
            except ArgumentProblem as problem:
                raise failure(str(problem)) from None
            return if_true(env) if truth else if_false(env)

        return iif

    # ------------------------------------------------------------ checks made once, at compile time

    def check_call(self, node: Call, top: bool):
        name, count = node.name, len(node.args)
        spec = FUNCTIONS.get(name)
        if spec is None:
            self.fail(ExpressionSyntaxError, f"unknown function '{name}' {{at}}{_suggest_function(name)}", node)
        if not spec.supported:
            self.fail(ExpressionError, f"{name} {{at}} is not supported by this portal: the source directory has no app "
                      "roles, so there are no [appRoleAssignments] to provision. Remove this mapping.", node)
        if count < spec.min_args or (spec.max_args is not None and count > spec.max_args):
            self.fail(ExpressionSyntaxError, f"{name} {spec.arity_text()}: {spec.signature}; got {count} ({{at}})", node)
        if name == "SelectUniqueValue" and not top:
            self.fail(ExpressionSyntaxError, "SelectUniqueValue {at} must be the whole expression (Entra allows it only "
                      "at the top level, not inside another function)", node)
        if name == "Switch" and count % 2:
            self.fail(ExpressionSyntaxError, f"Switch {{at}} takes source, defaultValue, then key/value pairs, so an even "
                      f"number of arguments; got {count}: the last key has no value", node)
        for index, arg in enumerate(node.args):
            if isinstance(arg, Constant) and arg.name.startswith("vb") and not (name == "InStr" and index == 3):
                self.fail(ExpressionSyntaxError, f"{arg.name} {{at}} is only used as InStr's compareType "
                          "(InStr(value1, value2, start, compareType))", arg)
        check = _STATIC_CHECKS.get(name)
        if check:
            try:
                check(node.args)
            except _PROBLEMS as problem:
                # Point at the offending argument when the check named one.
                self.fail(ExpressionError, f"in {name}: {problem} ({{at}})", getattr(problem, "node", node))
        return spec


def _suggest_function(name: str) -> str:
    by_lower = {known.lower(): known for known in FUNCTIONS}
    if name.lower() in by_lower:
        return f"; function names are case-sensitive: write {by_lower[name.lower()]}"
    guess = difflib.get_close_matches(name, FUNCTIONS, n=1, cutoff=0.6) or [
        by_lower[match] for match in difflib.get_close_matches(name.lower(), by_lower, n=1, cutoff=0.6)
    ]
    if guess:
        return f"; did you mean {guess[0]}? ({FUNCTIONS[guess[0]].signature})"
    return "; see the function list for the functions Entra offers"


def _reader(name: str, redacted: bool):
    lowered = name.lower()

    def read(env):
        attributes = env.attributes
        if name in attributes:
            value = attributes[name]
        else:
            # Entra's attribute names are case-insensitive: [DisplayName] reads displayName.
            value = None
            for key, candidate in attributes.items():
                if key.lower() == lowered:
                    value = candidate
                    break
        reads = env.reads
        if reads is not None:
            if redacted:
                reads[name] = REDACTED
            elif reads.get(name) != REDACTED:
                reads[name] = value
        return value

    return read


def _ignore_flow(argument):
    def ignore(env):
        value = argument(env)
        if is_empty(value):
            raise _IgnoreFlow
        return value

    return ignore


def _now(env):
    now = env.context.now
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _select_unique_value(rules, failure):
    def select(env):
        exists = env.context.value_exists
        if exists is None:
            raise failure("there is no target to check uniqueness against; SelectUniqueValue is evaluated only "
                          "when provisioning to a target (pass EvaluationContext(value_exists=...))")
        taken = []
        for rule in rules:
            try:
                candidate = to_text(rule(env), "a rule's value")
            except ArgumentProblem as problem:
                raise failure(str(problem)) from None
            if not candidate:
                continue
            if not exists(candidate):
                return candidate
            taken.append(candidate)
        if not taken:
            raise failure("every rule evaluated to null or empty; there is no value to choose")
        listed = ", ".join(quoted(value) for value in taken)
        raise failure(f"all {len(taken)} candidate values already exist in the target ({listed}); add a rule that "
                      "generates another value")

    return select


def _compare(operator: str, left, right) -> bool:
    if is_multi(left) or is_multi(right):
        raise ArgumentProblem("a multi-valued attribute can't be compared; pick one value with Item(…, 1)")
    if operator in ("=", "<>"):
        equal = _equal(left, right)
        return equal if operator == "=" else not equal
    a, b = _ordered(left, right)
    if operator == ">":
        return a > b
    if operator == ">=":
        return a >= b
    if operator == "<":
        return a < b
    return a <= b


def _equal(left, right) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        # accountEnabled = "True" (or "true") holds for the boolean True.
        try:
            return to_bool(left, "") == to_bool(right, "")
        except ArgumentProblem:
            return False
    if _is_number(left) and _is_number(right) and (isinstance(left, int) or isinstance(right, int)):
        return int(left) == int(right)
    if isinstance(left, datetime) or isinstance(right, datetime):
        a, b = _ordered(left, right)
        return a == b
    return (to_text(left, "") or "") == (to_text(right, "") or "")


def _ordered(left, right):
    """Both sides as numbers when both are numbers, dates when either is a date, else as text."""
    if _is_number(left) and _is_number(right):
        return int(left), int(right)
    if isinstance(left, datetime) or isinstance(right, datetime):
        return to_date(left, "the left side"), to_date(right, "the right side")
    return to_text(left, "") or "", to_text(right, "") or ""


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and bool(_INTEGER.fullmatch(value)))


# ------------------------------------------------------------ checks of constant arguments

def _constant(args, index):
    """The value of a constant argument, None when it isn't a constant (or is absent/empty)."""
    if index < len(args) and isinstance(args[index], String | Number):
        return args[index].value
    return None


def _at(args, index, check, *values):
    try:
        return check(*values)
    except _PROBLEMS as problem:
        problem.node = args[index]
        raise


def _given(args, index) -> bool:
    return index < len(args) and not isinstance(args[index], Missing)


def _check_replace(args):
    library_text.replace_mode(*(_given(args, i) for i in (1, 2, 3, 4, 6)))
    pattern = _constant(args, 2)
    if isinstance(pattern, str):
        compiled = _at(args, 2, compile_dotnet, pattern)
        _at(args, 2, probe, compiled, pattern)
        group = _constant(args, 3)
        if isinstance(group, str):
            _at(args, 3, library_text._check_group, compiled, group)


def _check_interval(args):
    interval = _constant(args, 0)
    if interval is not None:
        _at(args, 0, check_interval, str(interval))


def _check_format_date_time(args):
    first_format = 1 if len(args) == 3 else 2
    for index in (first_format, first_format + 1):
        if isinstance(args[index], String):
            _at(args, index, format_tokens, args[index].value)
            if index == first_format:
                _at(args, index, _parse_regex, args[index].value)
    if len(args) == 4 and isinstance(args[1], String):
        _at(args, 1, parse_styles, args[1].value)


def _check_item(args):
    index = _constant(args, 1)
    if isinstance(index, int) and index < 1:
        problem = ArgumentProblem(f"index {index} is not valid: index 1 is the first value (don't use 0)")
        problem.node = args[1]
        raise problem


def _check_culture(args):
    if isinstance(_constant(args, 1), str):
        _at(args, 1, library_text._culture, args[1].value)


def _check_random_string(args):
    if all(isinstance(arg, String | Number | Missing) for arg in args):
        library_text.random_string(*(None if isinstance(arg, Missing) else arg.value for arg in args))


_STATIC_CHECKS = {
    "Replace": _check_replace,
    "DateAdd": _check_interval,
    "DateDiff": _check_interval,
    "FormatDateTime": _check_format_date_time,
    "Item": _check_item,
    "ToLower": _check_culture,
    "ToUpper": _check_culture,
    "RandomString": _check_random_string,
}


def _compared_attributes(node):
    """Attribute names a condition uses directly: the condition itself, or the operands of its comparisons."""
    if isinstance(node, Attribute):
        yield node.name
    elif isinstance(node, Comparison):
        yield from _compared_attributes(node.left)
        yield from _compared_attributes(node.right)
