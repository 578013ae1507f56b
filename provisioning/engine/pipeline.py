"""The per-object pipeline: Test connection → Import → Scope → Match → Action, one ProvisioningLog each.

On-demand provisioning and cycles both call `provision_user` (and `groups.provision_group`, which
shares the wrapper, matching, anchors and create/update here); nothing else decides what happens
to an object.
"""

import json
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from provisioning.engine import payload
from provisioning.engine.errors import ObjectFailure, from_scim_error
from provisioning.engine.mapping import evaluate_mapping, evaluate_mappings, lookup
from provisioning.engine.steps import (
    ACTION,
    FAILURE,
    IMPORT,
    MATCH,
    SCOPE,
    SKIPPED,
    SUCCESS,
    TEST_CONNECTION,
    StepRecorder,
    display,
    section,
)
from provisioning.models import AttributeMapping, ObjectMapping, ProvisioningLog, TargetAnchor
from provisioning.scim import ScimError, ScimNotFound
from provisioning.scoping import evaluate_scope

Action = ProvisioningLog.Action
Status = ProvisioningLog.Status
USER = ObjectMapping.ObjectType.USER
GROUP = ObjectMapping.ObjectType.GROUP


@dataclass(frozen=True)
class Kind:
    """What differs between users and groups on the wire and in the words of the steps."""

    object_type: str
    noun: str  # "user"
    title: str  # "User"
    resource: str  # the SCIM endpoint
    excluded: tuple = ()  # attributes never read back (Entra reads groups with excludedAttributes=members)


USER_KIND = Kind(USER, "user", "User", "Users")
GROUP_KIND = Kind(GROUP, "group", "Group", "Groups", ("members",))


@dataclass(frozen=True)
class Subject:
    kind: Kind
    source_id: object  # the source objectId
    name: str
    upn: str = ""

    @classmethod
    def of_user(cls, user):
        return cls(USER_KIND, user.object_id, user.display_name or user.user_principal_name, user.user_principal_name)

    @classmethod
    def of_group(cls, group):
        return cls(GROUP_KIND, group.object_id, group.display_name)


@dataclass
class Outcome:
    action: str = Action.OTHER
    status: str = Status.SUCCESS
    target_id: str = ""
    modified: list = field(default_factory=list)
    error_code: str = ""
    error_description: str = ""
    recommended_fix: str = ""


class Skip(Exception):
    """The object needs nothing: recorded as Skipped with the reason."""

    def __init__(self, code, reason, action=Action.OTHER):
        super().__init__(reason)
        self.code, self.reason, self.action = code, reason, action


def provision_user(ctx, user, *, on_change=None, connection_failure=None):
    """Push one directory user through the five steps against ctx's target; returns its log entry."""
    subject = Subject.of_user(user)
    return provision(ctx, subject, lambda recorder, outcome: _run_steps(ctx, user, subject, recorder, outcome),
                     on_change=on_change, connection_failure=connection_failure)


def provision(ctx, subject, run_steps, *, on_change=None, connection_failure=None):
    """Run one object's steps and write its log entry, whatever happens (skip, failure, target error)."""
    started = time.monotonic()
    recorder = StepRecorder(subject.kind.noun, on_change)
    outcome = Outcome()
    try:
        try:
            if connection_failure is not None:
                recorder.record(
                    TEST_CONNECTION, FAILURE, connection_failure.message,
                    [section("Connection", ["", ""], [("Fix", connection_failure.fix), *connection_failure.details])],
                )
                raise ObjectFailure(connection_failure.code, connection_failure.message, connection_failure.fix)
            run_steps(recorder, outcome)
        except ScimError as exc:
            # E.g. the client refusing an unusable Tenant URL or token before any request.
            raise from_scim_error(exc, f"provision {subject.kind.title} '{subject.name}'") from exc
        except ValueError as exc:
            # payload.PathError and value-type errors: a mapping the payload builder cannot place is a
            # configuration error of this object, not a crash of the run.
            raise ObjectFailure("AttributeMappingInvalid", f"An attribute mapping cannot be sent: {exc}",
                                "Correct the target attribute under Mappings.") from exc
    except Skip as skip:
        outcome.status, outcome.action = Status.SKIPPED, skip.action
        outcome.error_code, outcome.error_description = skip.code, skip.reason
    except ObjectFailure as failure:
        outcome.status = Status.FAILURE
        outcome.error_code, outcome.error_description, outcome.recommended_fix = failure.code, failure.description, failure.fix
        if not recorder.steps or recorder.steps[-1]["status"] != FAILURE:
            recorder.record(ACTION, FAILURE, failure.description, _modified_section(outcome.modified))
    return ProvisioningLog.objects.create(
        **ctx.log_fields(),
        created_at=timezone.now(),
        object_type=subject.kind.object_type,
        source_id=str(subject.source_id),
        source_display_name=subject.name,
        source_upn=subject.upn,
        target_id=outcome.target_id,
        action=outcome.action,
        status=outcome.status,
        error_code=outcome.error_code,
        error_description=outcome.error_description,
        recommended_fix=outcome.recommended_fix,
        steps=recorder.steps,
        modified_properties=outcome.modified,
        duration_ms=int((time.monotonic() - started) * 1000),
    )


def _run_steps(ctx, user, subject, recorder, outcome):
    object_mapping = ctx.object_mappings.get(USER)
    name = subject.name

    # 2. Import
    attributes = user.source_attributes()
    recorder.record(
        IMPORT, SUCCESS, f"Retrieved User '{name}' from the directory",
        [section("Imported attributes", ["Attribute", "Value"], sorted(attributes.items()))],
    )
    if object_mapping is None or not object_mapping.enabled:
        recorder.record(SCOPE, SKIPPED, "User provisioning is disabled for this application")
        raise Skip("EntrySynchronizationSkipped", f"User provisioning is disabled in the Mappings of {ctx.application.name}.")

    # 3. Determine if the user is in scope
    in_scope, reason, scope_rows = _evaluate_scope(ctx, user, attributes)
    attributes["IsSoftDeleted"] = not in_scope
    anchor = find_anchor(ctx, subject)
    scope_section = [section("Scoping", ["Condition", "Result", "Detail"], scope_rows)]
    if in_scope:
        recorder.record(SCOPE, SUCCESS, f"User '{name}' is in scope: {reason}", scope_section)
    else:
        recorder.record(SCOPE, SKIPPED, f"User '{name}' is out of scope: {reason}", scope_section)
        if anchor is None or anchor.disabled:
            raise Skip("EntrySynchronizationSkipped", f"User '{name}' is not in scope: {reason}")

    # 4. Match
    target = match(ctx, subject, attributes, anchor, object_mapping, recorder, in_scope)
    if target is not None:
        outcome.target_id = target["id"]

    # 5. Perform action
    if not in_scope and target is None:
        recorder.record(ACTION, SKIPPED, "Nothing to disable: the linked target user no longer exists")
        raise Skip("EntrySynchronizationSkipped", f"User '{name}' is out of scope ({reason}) and no longer exists in {ctx.application.name}.")
    if not in_scope:
        _disable(ctx, subject, target, recorder, outcome, reason)
        return
    if target is None:
        created, evaluation = create(ctx, subject, attributes, object_mapping, recorder, outcome)
        recorder.record(ACTION, SUCCESS, f"User '{name}' was created in {ctx.application.name} (id {created['id']})",
                        _modified_section(outcome.modified) + _evaluation_section(evaluation))
        return
    changes, evaluation = update(ctx, subject, attributes, object_mapping, target, recorder, outcome)
    if not changes:
        recorder.record(ACTION, SKIPPED, "The state of the user in both the source and target systems already match",
                        _evaluation_section(evaluation))
        raise Skip("RedundantExport", f"'{name}' is already up to date in {ctx.application.name}: nothing to change.")
    recorder.record(ACTION, SUCCESS, f"User '{name}' was updated in {ctx.application.name}: {len(changes)} attribute(s) changed",
                    _modified_section(outcome.modified) + _evaluation_section(evaluation))


def _evaluate_scope(ctx, user, attributes):
    assigned = ctx.sync_all or ctx.is_assigned(user)
    active = user.account_enabled
    decision = evaluate_scope(ctx.scoping_filters(USER), attributes)
    rows = [
        ("Active in source system", "Passed" if active else "Failed", f"accountEnabled is {display(active)}"),
        ("Assigned to application", "Passed" if ctx.is_assigned(user) else ("Not needed" if ctx.sync_all else "Failed"), ""),
        ("Scope sync all", display(ctx.sync_all), ctx.application.get_scope_display()),
        *scoping_rows(decision),
    ]
    if not active:
        return False, "the account is disabled in the directory (accountEnabled is False)", rows
    if not assigned:
        return False, "the user is not assigned to the application, directly or through a group", rows
    if not decision.in_scope:
        return False, decision.reason, rows
    return True, decision.reason, rows


def scoping_rows(decision):
    """Each clause of each scoping filter, as the Determine-scope step lists them."""
    return [
        (f"{result.title}: {clause_result.clause.text}", "Passed" if clause_result.passed else "Failed", clause_result.explanation)
        for result in decision.filters
        for clause_result in result.clauses
    ]


def matching_filter(path, value):
    """A SCIM filter for one matching attribute: `userName eq "x"` or `emails[type eq "work" and value eq "x"]`."""
    parsed = payload.parse_path(path)
    attribute = f"{parsed.schema}:{parsed.attribute}" if parsed.schema else parsed.attribute
    if parsed.filter_attribute:
        return (f"{attribute}[{parsed.filter_attribute} eq {_quoted(parsed.filter_value)} "
                f"and {parsed.sub_attribute or 'value'} eq {_quoted(value)}]")
    if parsed.sub_attribute:
        attribute = f"{attribute}.{parsed.sub_attribute}"
    return f"{attribute} eq {_quoted(value)}"


def _quoted(value):
    # RFC 7644 filter values are JSON strings.
    return json.dumps(str(value), ensure_ascii=False)


def find_anchor(ctx, subject):
    return TargetAnchor.objects.filter(
        application=ctx.application, object_type=subject.kind.object_type, source_id=subject.source_id
    ).first()


def match(ctx, subject, attributes, anchor, object_mapping, recorder, in_scope):
    """Step 4: the anchor first, else each matching attribute in precedence order. Returns the target or None."""
    client, kind, name = ctx.client, subject.kind, subject.name
    excluded = list(kind.excluded) or None
    stale = ""
    if anchor is not None:
        try:
            target = client.get(kind.resource, anchor.target_id, excluded_attributes=excluded)
        except ScimNotFound:
            # Entra fails with InvalidAnchor until a restart; we re-match instead and say so.
            anchor.delete()
            stale = f"The target {kind.noun} {anchor.target_id} linked to '{name}' no longer exists; matching again."
        except ScimError as exc:
            recorder.record(MATCH, FAILURE, f"Could not read the linked target {kind.noun} {anchor.target_id}: {exc}")
            raise from_scim_error(exc, f"read {kind.title} {anchor.target_id} in {ctx.application.name}") from exc
        else:
            recorder.record(
                MATCH, SUCCESS,
                f"Matched {kind.title} '{name}' with target {kind.noun} {target['id']} (linked when it was first provisioned)",
                [section(f"Matched target {kind.noun}", ["Property", "Value"], _flatten(target))],
            )
            return target
    if not in_scope:
        return None

    matching = sorted(
        (m for m in object_mapping.attribute_mappings.all() if m.is_matching),
        key=lambda m: (m.matching_precedence or 0, m.position),
    )
    columns = ["Target attribute", "Source value", "Result"]
    rows, any_value = [], False
    for mapping in matching:
        value = _matching_value(mapping, attributes)
        if value is None:
            rows.append((mapping.target_attribute, "(null)", "skipped: the source value is empty"))
            continue
        any_value = True
        query = matching_filter(mapping.target_attribute, value)
        try:
            found = client.query(kind.resource, query, excluded_attributes=excluded)
        except ScimError as exc:
            recorder.record(MATCH, FAILURE, f"The target refused the matching query {query}: {exc}",
                            [section("Matching attributes evaluated", columns, rows)])
            raise from_scim_error(exc, f"query {ctx.application.name} for {query}") from exc
        if len(found) > 1:
            ids = ", ".join(r.get("id", "?") for r in found)
            rows.append((mapping.target_attribute, value, f"{len(found)} matches: {ids}"))
            recorder.record(MATCH, FAILURE, f"{len(found)} {kind.noun}s in the target match {query}",
                            [section("Matching attributes evaluated", columns, rows),
                             *[section(f"Target {kind.noun} {r.get('id')}", ["Property", "Value"], _flatten(r)) for r in found]])
            raise ObjectFailure(
                "DuplicateTargetEntries",
                f"{len(found)} {kind.noun}s in {ctx.application.name} match {query} (ids {ids}), so '{name}' cannot be matched to one.",
                f"Remove or merge the duplicate {kind.noun}s in the target, or make a unique attribute the matching attribute under Mappings.",
            )
        if found:
            target = found[0]
            rows.append((mapping.target_attribute, value, f"matched {target.get('id')}"))
            recorder.record(
                MATCH, SUCCESS, f"Matched {kind.title} '{name}' with target {kind.noun} {target.get('id')} by {mapping.target_attribute}",
                [section("Matching attributes evaluated", columns, rows),
                 section(f"Matched target {kind.noun}", ["Property", "Value"], _flatten(target))],
            )
            return target
        rows.append((mapping.target_attribute, value, "no match"))
    if not any_value:
        recorder.record(MATCH, FAILURE, f"No matching attribute has a value for this {kind.noun}",
                        [section("Matching attributes evaluated", columns, rows)])
        raise ObjectFailure(
            "ImportSkipped",
            f"'{name}' has no value for any matching attribute ({', '.join(m.source_display for m in matching) or 'none configured'}), so it cannot be matched or created.",
            f"Give the {kind.noun} a value for the matching attribute, or change Match objects using this attribute under Mappings.",
        )
    recorder.record(
        MATCH, SUCCESS, f"No matching {kind.noun} was found in {ctx.application.name}: '{name}' will be created. {stale}".strip(),
        [section("Matching attributes evaluated", columns, rows)],
    )
    return None


def _matching_value(mapping, attributes):
    if mapping.mapping_type == AttributeMapping.MappingType.DIRECT:
        return lookup(attributes, mapping.source_attribute)
    value, _ = evaluate_mapping(mapping, attributes)
    return value if value not in ("", []) else None


def _value_exists(ctx, kind):
    def exists_for(path):
        return lambda candidate: bool(ctx.client.query(kind.resource, matching_filter(path, candidate)))

    return exists_for


def create(ctx, subject, attributes, object_mapping, recorder, outcome):
    """POST the object with every mapping that flows; returns (created resource, evaluation)."""
    kind, name = subject.kind, subject.name
    outcome.action = Action.CREATE
    if not object_mapping.action_create:
        recorder.record(ACTION, SKIPPED, f"Create is not ticked in Target Object Actions: the {kind.noun} was not created")
        raise Skip("EntrySynchronizationSkipped", f"'{name}' would be created, but Create is not enabled in Target Object Actions.", Action.CREATE)
    evaluation = evaluate_mappings(ctx.application, object_mapping, attributes, creating=True, value_exists=_value_exists(ctx, kind))
    sent = {path: value for path, value in evaluation.values.items() if path not in kind.excluded}
    outcome.modified = _modified(((path, None, value) for path, value in sent.items()), evaluation.redacted)
    resource = payload.build_resource(kind.title, sent, entra_compatible=ctx.application.entra_compatible)
    try:
        created = ctx.client.create(kind.resource, resource)
    except ScimError as exc:
        recorder.record(ACTION, FAILURE, f"Failed to create {kind.title} '{name}' in {ctx.application.name}: {exc}", _modified_section(outcome.modified))
        raise from_scim_error(exc, f"create {kind.title} '{name}' in {ctx.application.name}") from exc
    outcome.target_id = created["id"]
    save_anchor(ctx, subject, created["id"], disabled=False)
    return created, evaluation


def update(ctx, subject, attributes, object_mapping, target, recorder, outcome):
    """PATCH the attributes that differ from the target; returns (changes, evaluation); [] when none differ."""
    kind, name = subject.kind, subject.name
    save_anchor(ctx, subject, target["id"], disabled=False)
    evaluation = evaluate_mappings(ctx.application, object_mapping, attributes, creating=False)
    changes = payload.diff({p: v for p, v in evaluation.values.items() if p not in kind.excluded}, target)
    if not changes:
        return [], evaluation
    outcome.action = Action.UPDATE
    outcome.modified = _modified(((c.path, c.old, c.new) for c in changes), evaluation.redacted)
    if not object_mapping.action_update:
        recorder.record(ACTION, SKIPPED, "Update is not ticked in Target Object Actions: the changes were not sent", _modified_section(outcome.modified))
        raise Skip("EntrySynchronizationSkipped", f"'{name}' differs from the target, but Update is not enabled in Target Object Actions.", Action.UPDATE)
    operations = payload.patch_operations(changes, target, entra_compatible=ctx.application.entra_compatible)
    try:
        ctx.client.patch(kind.resource, target["id"], operations)
    except ScimError as exc:
        recorder.record(ACTION, FAILURE, f"Failed to update {kind.title} '{name}' in {ctx.application.name}: {exc}", _modified_section(outcome.modified))
        raise from_scim_error(exc, f"update {kind.title} '{name}' in {ctx.application.name}") from exc
    return changes, evaluation


def _disable(ctx, subject, target, recorder, outcome, reason):
    name = subject.name
    outcome.action = Action.DISABLE
    if not ctx.object_mappings[USER].action_update:
        # Entra disables through an update (IsSoftDeleted → active): without Update, nothing is sent.
        recorder.record(ACTION, SKIPPED, "Update is not ticked in Target Object Actions: the user was not disabled")
        raise Skip("EntrySynchronizationSkipped", f"'{name}' is out of scope ({reason}), but Update is not enabled in Target Object Actions, so it was not disabled.", Action.DISABLE)
    current = payload.read_value(target, "active")
    if current is False or str(current).lower() == "false":
        save_anchor(ctx, subject, target["id"], disabled=True)
        recorder.record(ACTION, SKIPPED, "The user is already disabled in the target")
        raise Skip("RedundantExport", f"'{name}' is out of scope ({reason}) and already disabled in {ctx.application.name}.", Action.DISABLE)
    change = payload.Change("active", current, False)
    outcome.modified = _modified([("active", current, False)], set())
    operations = payload.patch_operations([change], target, entra_compatible=ctx.application.entra_compatible)
    try:
        ctx.client.patch(USER_KIND.resource, target["id"], operations)
    except ScimError as exc:
        recorder.record(ACTION, FAILURE, f"Failed to disable User '{name}' in {ctx.application.name}: {exc}", _modified_section(outcome.modified))
        raise from_scim_error(exc, f"disable User '{name}' in {ctx.application.name}") from exc
    save_anchor(ctx, subject, target["id"], disabled=True)
    recorder.record(ACTION, SUCCESS, f"User '{name}' was disabled in {ctx.application.name} because it is out of scope: {reason}", _modified_section(outcome.modified))


def save_anchor(ctx, subject, target_id, *, disabled):
    with transaction.atomic():
        TargetAnchor.objects.update_or_create(
            application=ctx.application, object_type=subject.kind.object_type, source_id=subject.source_id,
            defaults={"target_id": target_id, "disabled": disabled},
        )


def _modified(triples, redacted):
    return [
        {
            "name": path,
            "old": "[Redact]" if path in redacted and old is not None else (None if old is None else display(old)),
            "new": "[Redact]" if path in redacted else (None if new is None else display(new)),
        }
        for path, old, new in triples
    ]


def _modified_section(modified):
    if not modified:
        return []
    return [section("Modified attributes", ["Attribute", "Old value", "New value"], [(m["name"], m["old"], m["new"]) for m in modified])]


def _evaluation_section(evaluation):
    """Every mapping's evaluated value, as the expression tester shows it (Redact → [Redact])."""
    rows = [
        (a.target, a.source, a.display if a.display else a.value, a.note or ("" if a.value is not None else "null: does not flow"))
        for a in evaluation.attributes
    ]
    return [section("Attribute mappings evaluated", ["Target attribute", "Source or expression", "Value", "Note"], rows)]


def _flatten(resource, prefix=""):
    """A target resource as (path, value) rows for the details table."""
    rows = []
    for key, value in resource.items():
        if key in ("schemas", "meta"):
            continue
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(_flatten(value, f"{path}."))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                label = item.get("type") or item.get("display") or ""
                rows.append((f"{path}[{label}]" if label else path, display({k: v for k, v in item.items() if k != "type"})))
        else:
            rows.append((path, value))
    return rows
