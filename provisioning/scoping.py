"""Scoping filters: which source objects an object mapping provisions, with Entra's operators and rules.

Semantics follow Microsoft Learn, "Scoping users or groups to be provisioned with scoping filters":

* Clauses of one filter are AND-ed; several filters are OR-ed; no filter at all means every object is in scope.
* "Scoping filters will return 'false' if the value is null / empty": every operator except IS NULL and
  IS NOT NULL fails on a null or empty attribute. That includes the negative operators NOT EQUALS, `!&`
  and NOT REGEX MATCH (Microsoft states it explicitly for NOT REGEX MATCH) — a user without a department
  is *not* in scope for `department NOT EQUALS "Sales"`.
* String operators compare case-sensitively. Microsoft documents that for EQUALS, NOT EQUALS, Includes and
  REGEX MATCH; ENDS_WITH, `&` and `!&` are undocumented and follow .NET's defaults (String.EndsWith /
  String.Contains are case-sensitive), so they are case-sensitive too. Use REGEX MATCH with `(?i)` to ignore case.
* `&` is true when the attribute's value occurs within the clause's value ("the evaluated attribute exists in
  the input string value"), e.g. department `&` "Sales,Marketing"; `!&` is its negation.
* REGEX MATCH searches (like .NET Regex.IsMatch): the pattern may match anywhere unless anchored with ^…$.
* Greater_Than and Greater_Than_OR_EQUALS compare integers only, on both sides.
* IS TRUE / IS FALSE take booleans, or the strings "true"/"false" in any case.
* Attribute names are looked up case-insensitively, as Entra does.
* Regular expressions run with a time limit per match (safe_regex): a pattern that runs out of time raises
  ScopingRegexTimeout, which fails that one object; it never counts as "out of scope" (that would disable or
  delete the object in the target) and never holds the worker.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from provisioning import safe_regex

OPERATORS: tuple[str, ...] = (
    "&",
    "!&",
    "ENDS_WITH",
    "EQUALS",
    "Greater_Than",
    "Greater_Than_OR_EQUALS",
    "Includes",
    "IS FALSE",
    "IS NOT NULL",
    "IS NULL",
    "IS TRUE",
    "NOT EQUALS",
    "NOT REGEX MATCH",
    "REGEX MATCH",
)

UNARY_OPERATORS: frozenset[str] = frozenset({"IS TRUE", "IS FALSE", "IS NULL", "IS NOT NULL"})

OPERATOR_HELP: dict[str, str] = {
    "&": "& — the attribute's value occurs within the value you enter (case-sensitive), e.g. Sales,Marketing",
    "!&": "!& — the attribute's value does not occur within the value you enter (case-sensitive)",
    "ENDS_WITH": "ENDS_WITH — the attribute ends with the value (case-sensitive)",
    "EQUALS": "EQUALS — exact, case-sensitive match",
    "Greater_Than": "Greater_Than — the attribute is an integer greater than the value (integers only)",
    "Greater_Than_OR_EQUALS": "Greater_Than_OR_EQUALS — the attribute is an integer greater than or equal to the value",
    "Includes": "Includes — the attribute contains the value (case-sensitive)",
    "IS FALSE": "IS FALSE — the attribute is the Boolean false",
    "IS NOT NULL": "IS NOT NULL — the attribute has a value (not null, not empty)",
    "IS NULL": "IS NULL — the attribute is null or empty",
    "IS TRUE": "IS TRUE — the attribute is the Boolean true",
    "NOT EQUALS": "NOT EQUALS — the attribute differs from the value (case-sensitive); false when the attribute is empty",
    "NOT REGEX MATCH": "NOT REGEX MATCH — the attribute does not match the regular expression; false when it is empty",
    "REGEX MATCH": "REGEX MATCH — the attribute matches the regular expression (case-sensitive), e.g. .*@contoso\\.com$",
}

INTEGER_OPERATORS = frozenset({"Greater_Than", "Greater_Than_OR_EQUALS"})
REGEX_OPERATORS = frozenset({"REGEX MATCH", "NOT REGEX MATCH"})

# Entra refuses these as scoping attributes (Learn: scoping filters, known issues). Keys are lower-case.
UNSUPPORTED_ATTRIBUTES: dict[str, str] = {
    "manager": "manager is a reference attribute",
    "members": "the members attribute of a group is not supported",
    "memberof": "the IsMemberOf filter is not supported; assign the group to the application instead",
    "ismemberof": "the IsMemberOf filter is not supported; assign the group to the application instead",
    "usertype": "userType is not supported as a scoping attribute",
    "accountexpires": "accountExpires is a date attribute",
    "approleassignments": "appRoleAssignments is multi-valued",
    "proxyaddresses": "proxyAddresses is multi-valued",
    "othermails": "otherMails is multi-valued",
    "businessphones": "businessPhones is multi-valued",
    "statushiredate": "StatusHireDate is a date attribute",
    "statusterminationdate": "StatusTerminationDate is a date attribute",
    "startdate": "startDate is a date attribute",
    "enddate": "endDate is a date attribute",
    "employeehiredate": "employeeHireDate is a date attribute",
    "employeeleavedatetime": "employeeLeaveDateTime is a date attribute",
    "createddatetime": "createdDateTime is a date attribute",
}

_INTEGER = re.compile(r"[+-]?\d+")
_TRUE_STRINGS = frozenset({"true"})
_FALSE_STRINGS = frozenset({"false"})


class ScopingRegexTimeout(Exception):
    """A REGEX MATCH / NOT REGEX MATCH clause ran out of time on one object's value."""

    code = "ScopingRegexTimeout"

    def __init__(self, clause, timeout: safe_regex.RegexTimeout):
        self.clause = clause
        self.description = f"The scoping clause {clause.text} could not be evaluated: {timeout}."
        self.fix = (
            "Edit the scoping filter under Mappings and save the pattern again (Save tests patterns for this). "
            + safe_regex.REWRITE_HINT
        )
        super().__init__(self.description)


@dataclass(frozen=True)
class Clause:
    attribute: str
    operator: str
    value: str = ""

    @property
    def text(self):
        if self.operator in UNARY_OPERATORS:
            return f"{self.attribute} {self.operator}"
        return f"{self.attribute} {self.operator} {_quote(self.value)}"


@dataclass(frozen=True)
class ScopingFilterSpec:
    title: str
    clauses: tuple[Clause, ...]


@dataclass(frozen=True)
class ClauseResult:
    clause: Clause
    passed: bool
    actual: object
    explanation: str


@dataclass(frozen=True)
class FilterResult:
    title: str
    passed: bool
    clauses: tuple[ClauseResult, ...]

    @property
    def first_failure(self):
        return next((c for c in self.clauses if not c.passed), None)


@dataclass(frozen=True)
class ScopeDecision:
    in_scope: bool
    reason: str
    filters: tuple[FilterResult, ...]


def evaluate_scope(filters: Sequence[ScopingFilterSpec], attributes: Mapping[str, object]) -> ScopeDecision:
    """Decide whether an object with these source attributes is in scope, explaining every clause."""
    if not filters:
        return ScopeDecision(True, "No scoping filters: every object is in scope", ())
    lookup = {str(name).lower(): value for name, value in attributes.items()}
    results = tuple(_evaluate_filter(f, lookup) for f in filters)
    passed = next((r for r in results if r.passed), None)
    if passed is not None:
        return ScopeDecision(True, f"Filter '{passed.title}' matched", results)
    failures = [f"Filter '{r.title}': {r.first_failure.explanation}" for r in results if r.first_failure]
    # A filter with no clauses fails nothing, so it passes; failures is never empty here.
    if len(results) == 1:
        reason = failures[0]
    else:
        reason = "No scoping filter matched: " + "; ".join(failures)
    return ScopeDecision(False, reason, results)


def _evaluate_filter(spec, lookup):
    # Every clause is evaluated (no short-circuit) so on-demand provisioning can show each outcome.
    clauses = tuple(evaluate_clause(clause, lookup.get(clause.attribute.strip().lower())) for clause in spec.clauses)
    return FilterResult(spec.title, all(c.passed for c in clauses), clauses)


def evaluate_clause(clause: Clause, actual: object) -> ClauseResult:
    """One clause against the attribute's value (None when the object has no such attribute).

    Raises ScopingRegexTimeout when a regular expression runs out of time on the value."""
    try:
        passed, why = _test(clause.operator, clause.value, actual)
    except safe_regex.RegexTimeout as timeout:
        raise ScopingRegexTimeout(clause, timeout) from None
    if why.startswith("it has no value"):
        why = f"{clause.attribute} has no value, and scoping filters are false for an empty value"
    explanation = f"{clause.text} — value was {_show(actual)}"
    if why:
        explanation += f" ({why})"
    return ClauseResult(clause, passed, actual, explanation)


def _test(operator, expected, actual):
    """(passed, extra explanation or '') for one operator."""
    if operator not in OPERATORS:
        return False, f"'{operator}' is not a scoping operator"
    empty = _is_empty(actual)
    if operator == "IS NULL":
        return empty, ""
    if operator == "IS NOT NULL":
        return not empty, ""
    if empty:
        return False, "it has no value, and scoping filters are false for an empty value"
    if isinstance(actual, (list, tuple, set, frozenset, dict)):
        return False, "multi-valued and complex attributes cannot be used in scoping filters"
    if operator in ("IS TRUE", "IS FALSE"):
        flag = _as_bool(actual)
        if flag is None:
            return False, "not a Boolean"
        return flag is (operator == "IS TRUE"), ""
    if operator in INTEGER_OPERATORS:
        return _compare_integers(operator, expected, actual)
    text = _as_text(actual)
    if operator in REGEX_OPERATORS:
        try:
            compiled = safe_regex.compile_pattern(expected)
        except safe_regex.error as exc:
            return False, f"the pattern is not a valid regular expression: {exc}"
        found = safe_regex.search(compiled, text) is not None
        return found is (operator == "REGEX MATCH"), ""
    match operator:
        case "EQUALS":
            return text == expected, _case_only(text == expected, text.lower() == expected.lower(), operator)
        case "NOT EQUALS":
            return text != expected, ""
        case "Includes":
            return expected in text, _case_only(expected in text, expected.lower() in text.lower(), operator)
        case "ENDS_WITH":
            passed = text.endswith(expected)
            return passed, _case_only(passed, text.lower().endswith(expected.lower()), operator)
        case "&":
            return text in expected, _case_only(text in expected, text.lower() in expected.lower(), operator)
        case "!&":
            return text not in expected, ""
    raise AssertionError(f"operator {operator} has no test")  # pragma: no cover - OPERATORS and the match agree


def _case_only(passed, passed_ignoring_case, operator):
    """What would have let the value through when it failed only because of its case."""
    if passed or not passed_ignoring_case:
        return ""
    return (f"the values differ only in case, and {operator} is case-sensitive: enter the value exactly as the directory "
            "holds it, or use REGEX MATCH with (?i) to ignore case")


def _compare_integers(operator, expected, actual):
    if not _INTEGER.fullmatch(str(expected).strip()):
        return False, f"{operator} needs an integer value, not {_quote(expected)}"
    if isinstance(actual, bool) or not (isinstance(actual, int) or _INTEGER.fullmatch(str(actual).strip())):
        return False, f"{operator} compares integers only and the attribute is not an integer"
    left, right = int(str(actual).strip()), int(str(expected).strip())
    return (left > right) if operator == "Greater_Than" else (left >= right), ""


def _is_empty(value):
    if value is None:
        return True
    if isinstance(value, str):
        return value == ""
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return len(value) == 0
    return False


def _as_bool(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE_STRINGS:
            return True
        if lowered in _FALSE_STRINGS:
            return False
    return None


def _as_text(value):
    # .NET renders Booleans as True/False; matching that keeps `accountEnabled EQUALS True` meaningful.
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def _quote(value):
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _show(value):
    if value is None:
        return "(null)"
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return _quote(_as_text(value))


def validate_clause(attribute: str, operator: str, value: str, *, multi_valued: Iterable[str] = ()) -> list[str]:
    """Every problem with a clause as the editor would save it, each a sentence saying how to fix it."""
    problems = []
    name = (attribute or "").strip()
    value = value if value is not None else ""
    if not name:
        problems.append("Choose an Attribute Name: a clause tests one source attribute.")
    else:
        refusal = _unsupported_reason(name, multi_valued)
        if refusal:
            problems.append(
                f"'{name}' cannot be used in a scoping filter: {refusal}. "
                "Choose a single-valued, non-date, non-reference attribute, or use assignments to scope instead."
            )
    if operator not in OPERATORS:
        problems.append(f"'{operator}' is not a scoping operator. Choose one of: {', '.join(OPERATORS)}.")
        return problems
    if operator in UNARY_OPERATORS:
        if value.strip():
            problems.append(f"{operator} takes no Attribute Value; clear the value field (it holds {_quote(value)}).")
        return problems
    if value == "":
        hint = " To select objects whose attribute is empty, use IS NULL." if operator in ("EQUALS", "NOT EQUALS") else ""
        problems.append(f"{operator} needs an Attribute Value to compare with; enter one.{hint}")
        return problems
    if operator in INTEGER_OPERATORS and not _INTEGER.fullmatch(value.strip()):
        problems.append(
            f"{operator} compares integers only, and {_quote(value)} is not an integer. "
            "Enter a whole number such as 1000000, or use REGEX MATCH to compare text."
        )
    if operator in REGEX_OPERATORS:
        problems.extend(regex_problems(value))
    return problems


def regex_problems(pattern: str) -> list[str]:
    """Why Save refuses this pattern: it does not compile, or it runs out of time on a test value."""
    try:
        compiled = safe_regex.compile_pattern(pattern)
    except safe_regex.error as exc:
        return [
            f"{_quote(pattern)} is not a valid regular expression ({exc}). "
            "Fix the pattern; escape special characters such as . ( [ with a backslash."
        ]
    try:
        safe_regex.probe(compiled)
    except safe_regex.RegexTimeout as timeout:
        return [f"{_quote(pattern)} cannot be used: {timeout}. {safe_regex.REWRITE_HINT}"]
    return []


def _unsupported_reason(name, multi_valued):
    lowered = name.lower()
    if lowered in {m.lower() for m in multi_valued}:
        return f"{name} is multi-valued, and filtering on multi-valued attributes is not supported"
    return UNSUPPORTED_ATTRIBUTES.get(lowered)
