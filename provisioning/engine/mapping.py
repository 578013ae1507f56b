"""Evaluate an object mapping's attribute mappings for one source object: target path → value.

Null values never flow (Entra: "If an attribute is null on the user object, it is skipped").
Reference attributes (manager, members) hold source objectIds and are resolved to target ids
through the anchor store; a reference whose object is not provisioned yet is left out.
"""

import uuid
from dataclasses import dataclass, field

from provisioning.engine.errors import ObjectFailure
from provisioning.expressions import EvaluationContext, ExpressionError, compile_expression
from provisioning.models import AttributeMapping, ExportState

MappingType = AttributeMapping.MappingType
REFERENCE_SOURCES = {"manager": "user", "members": "user"}


@dataclass
class EvaluatedAttribute:
    target: str
    source: str  # what the mapping reads, for the details table
    value: object
    display: str  # what logs show (Redact → "[Redact]")
    note: str = ""
    direct: bool = False  # a Direct mapping: its value is the source attribute's, as imported


@dataclass
class Evaluation:
    values: dict = field(default_factory=dict)  # target path → value, only the ones that flow
    attributes: list = field(default_factory=list)  # EvaluatedAttribute, every mapping (for the details)
    redacted: set = field(default_factory=set)  # target paths whose values logs must not show


def lookup(attributes, name):
    """Entra attribute names are case-insensitive."""
    if name in attributes:
        return attributes[name]
    lowered = name.lower()
    for key, value in attributes.items():
        if key.lower() == lowered:
            return value
    return None


def evaluate_mapping(mapping, attributes, context=None):
    """(value, display) of one attribute mapping; raises ObjectFailure on an expression error."""
    if mapping.mapping_type == MappingType.DIRECT:
        value = lookup(attributes, mapping.source_attribute)
        return value, None
    if mapping.mapping_type == MappingType.CONSTANT:
        return mapping.constant_value, None
    if mapping.mapping_type == MappingType.EXPRESSION:
        try:
            result = compile_expression(mapping.expression).evaluate_traced(attributes, context)
        except ExpressionError as exc:
            raise ObjectFailure(
                "ExpressionEvaluationFailed",
                f"The expression mapped to {mapping.target_attribute} failed: {exc}",
                "Fix the expression under Mappings (the expression tester shows its value for this user), "
                "or give the source attribute a value.",
            ) from exc
        return result.value, result.display
    return None, None


def evaluate_mappings(application, object_mapping, attributes, *, creating, value_exists=None, resolve=None):
    """Evaluate every mapping that applies (Always, plus Only-during-creation when creating).

    value_exists: target path → (candidate → bool), the target lookup SelectUniqueValue needs.
    resolve: (source attribute, objectId(s)) → (target id(s), note); a run passes its bulk-loaded links,
    the default reads them from the database.
    """
    resolve = resolve or (lambda source_attribute, value: resolve_reference(application, source_attribute, value))
    evaluation = Evaluation()
    for mapping in object_mapping.attribute_mappings.all():
        if mapping.mapping_type == MappingType.NONE:
            continue
        if mapping.apply_on == AttributeMapping.ApplyOn.CREATE_ONLY and not creating:
            continue
        context = EvaluationContext(value_exists=value_exists(mapping.target_attribute) if value_exists else None)
        value, display = evaluate_mapping(mapping, attributes, context)
        note = ""
        if (value is None or value == "") and creating and mapping.default_value:
            value, note = mapping.default_value, "default value (source is null)"
        if value == "" or value == []:
            value = None
        if value is not None and mapping.mapping_type == MappingType.DIRECT and mapping.source_attribute in REFERENCE_SOURCES:
            value, note = resolve(mapping.source_attribute, value)
        if value is None and mapping.required:
            raise ObjectFailure(
                "MandatoryFieldsMissing",
                f"The required target attribute {mapping.target_attribute} has no value: its source "
                f"{mapping.source_display} is empty for {attributes.get('userPrincipalName') or attributes.get('displayName')}.",
                f"Give the source object a value for {mapping.source_display}, or set a default value on the mapping.",
            )
        if display == "[Redact]":
            evaluation.redacted.add(mapping.target_attribute)
        evaluation.attributes.append(
            EvaluatedAttribute(mapping.target_attribute, mapping.source_display, value, display or "", note,
                               direct=mapping.mapping_type == MappingType.DIRECT)
        )
        if value is not None:
            evaluation.values[mapping.target_attribute] = value
    return evaluation


def resolve_reference(application, source_attribute, value):
    """Source objectId(s) → target id(s) through the anchors; unprovisioned references are left out."""
    object_type = REFERENCE_SOURCES[source_attribute]
    ids = value if isinstance(value, list) else [value]
    anchors = dict(
        ExportState.objects.filter(application=application, object_type=object_type, source_id__in=ids)
        .exclude(target_id="").values_list("source_id", "target_id")
    )
    return resolved_references(value, anchors.get)


def resolved_references(value, target_id_of):
    """Source objectId(s) → target id(s) with target_id_of(objectId); the unresolvable are left out."""
    ids = value if isinstance(value, list) else [value]
    resolved = [t for t in (target_id_of(_uuid(i)) for i in ids) if t]
    missing = len(ids) - len(resolved)
    note = f"{missing} referenced object(s) not provisioned yet: left out until they are" if missing else ""
    if isinstance(value, list):
        return resolved or None, note
    return (resolved[0] if resolved else None), note


def _uuid(value):
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return value
