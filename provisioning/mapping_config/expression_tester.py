"""The expression tester: evaluate an expression against a directory user or group, with typed-in values
overriding the ones it has, and say what each source attribute gave (hiding what Redact hides)."""

from __future__ import annotations

from collections.abc import Mapping

from provisioning.expressions import EvaluationError, ExpressionError, compile_expression
from provisioning.mapping_config.source_schema import SourceSchema
from provisioning.models import ObjectMapping

REDACTED = "[Redact]"
NULL_TEXT = "(null)"
BOOLEAN_SOURCES = {"accountenabled", "issoftdeleted"}
_NOT_READ = object()


def subject_attributes(object_type, subject) -> dict:
    """The source attributes of a directory user or group, as the engine reads them."""
    if subject is None:
        return {}
    attributes = subject.source_attributes()
    if object_type == ObjectMapping.ObjectType.USER:
        # The engine computes IsSoftDeleted per app; for an active, assigned user it is False.
        attributes.setdefault("IsSoftDeleted", False)
    return attributes


def test_expression(text: str, schema: SourceSchema, subject, typed: Mapping[str, str]) -> dict:
    """What the tester shows: rows (attribute, subject's value, value used, typed value), the result or error.

    typed: the values typed into the tester, by source attribute name ('' = use the subject's own)."""
    outcome = {"subject": subject, "expression": text}
    if not text.strip():
        return {**outcome, "error": "Enter an expression to test, e.g. Join(\" \", [givenName], [surname])."}
    try:
        compiled = compile_expression(text, source_attributes=schema.attributes)
    except ExpressionError as exc:
        return {**outcome, "error": exc.message, "excerpt": exc.excerpt or ""}
    own = subject_attributes(schema.object_type, subject)
    attributes, overrides = dict(own), {}
    for name in compiled.attributes:
        value = typed.get(name, "")
        if value != "":
            overrides[name] = typed_test_value(name, value)
            attributes = {k: v for k, v in attributes.items() if k.lower() != name.lower()}
            attributes[name] = overrides[name]
    try:
        evaluation = compiled.evaluate_traced(attributes)
        reads, value, display, error, excerpt = evaluation.reads, evaluation.value, evaluation.display, "", ""
    except EvaluationError as exc:
        reads, value, display, error, excerpt = getattr(exc, "reads", {}) or {}, None, None, exc.message, exc.excerpt or ""
    rows = []
    for name in sorted(compiled.attributes, key=str.lower):
        read = next((v for k, v in reads.items() if k.lower() == name.lower()), _NOT_READ)
        hidden = read == REDACTED  # read inside Redact: the tester keeps it as hidden as the logs do
        rows.append(
            {
                "name": name,
                "own": REDACTED if hidden else (show(_lookup(own, name)) if subject else "—"),
                "used": "(not read)" if read is _NOT_READ else show(read),
                "test_value": typed.get(name, ""),
            }
        )
    shown = display if display is not None else show(value)
    return {**outcome, "rows": rows, "value": shown, "is_null": value is None and not error, "error": error,
            "excerpt": excerpt, "overridden": bool(overrides)}


# pytest would collect a module-level function named test_*: tell it this is not a test.
test_expression.__test__ = False


def _lookup(attributes, name):
    return next((v for k, v in attributes.items() if k.lower() == name.lower()), None)


def typed_test_value(name, text):
    """A typed test value: (null) is null; true/false are Booleans for Boolean attributes; ';' separates values."""
    stripped = text.strip()
    if stripped == NULL_TEXT:
        return None
    if name.lower() in BOOLEAN_SOURCES and stripped.lower() in ("true", "false"):
        return stripped.lower() == "true"
    if ";" in text:
        return [part.strip() for part in text.split(";") if part.strip()]
    return text


def show(value):
    if value is None:
        return NULL_TEXT
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return "; ".join(show(v) for v in value) if value else NULL_TEXT
    return str(value)
