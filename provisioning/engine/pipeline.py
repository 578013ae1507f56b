"""The per-object pipeline: Test connection → Import → Scope → Match → Action, one ProvisioningLog each.

On-demand provisioning and every cycle run each object through `provision()`; nothing else decides what
happens to an object. It is a generator that yields the SCIM requests it needs (engine/calls.py) and
returns an Outcome: the log entry, and what the export state should now say. It reads only what the
RunContext loaded in bulk, so a cycle's objects cost no query each.

What the export state changes here:
* an object whose desired state equals what was last exported is skipped without a request (cycles);
* a linked object is updated with a PATCH of the attributes that differ from what was exported; a 404
  means the target deleted it: it is matched again (or created), and the log entry says so;
* a new object is matched (the target's listing in an initial cycle, else a filter query per matching
  attribute), then created; a 409 or a lost answer is matched again and adopted, never duplicated;
* a target object linked to one source object is never linked to a second.
"""

import logging
import time
from dataclasses import dataclass, field

from django.utils import timezone

from provisioning.engine import calls, keys
from provisioning.scim import payload
from provisioning.engine.errors import ObjectFailure, from_scim_error
from provisioning.engine.mapping import evaluate_mappings, resolved_references
from provisioning.engine.source import GROUP, USER
from provisioning.engine.steps import (
    ACTION,
    FAILURE,
    IMPORT,
    MATCH,
    SCOPE,
    SKIPPED,
    SUCCESS,
    TEST_CONNECTION,
    WARNING,
    CELL_LIMIT,
    StepRecorder,
    clip,
    display,
    section,
)
from provisioning.models import ObjectMapping, PendingRemoval, ProvisioningLog
from provisioning.scim import ScimConflict, ScimError, ScimNotFound, quirks
from provisioning.scim.answers import visible, visible_json
from provisioning.scim.client import UNCONFIRMED, ci_get
from provisioning.scim.errors import answer_lost, fix_for_mode
from provisioning.scim.filters import matching_filter
from provisioning.scim.traffic import Traffic

logger = logging.getLogger(__name__)

Action = ProvisioningLog.Action
Status = ProvisioningLog.Status
# Target objects named in one message, and shown with their properties in one entry; the rest are counted.
NAMED = 20
NAMED_SECTIONS = 5
DEFERRED = "deferred"  # a removal decided in the users/groups phase, sent (and logged) in the removals phase
Removal = PendingRemoval.Removal


@dataclass(frozen=True)
class Kind:
    """What differs between users and groups on the wire and in the words of the steps."""

    object_type: str
    noun: str  # "user"
    title: str  # "User"
    resource: str  # the SCIM endpoint
    excluded: tuple = ()  # attributes never read back (Entra reads groups with excludedAttributes=members)


USER_KIND = Kind(ObjectMapping.ObjectType.USER, "user", "User", "Users")
GROUP_KIND = Kind(ObjectMapping.ObjectType.GROUP, "group", "Group", "Groups", ("members",))
KINDS = {USER: USER_KIND, GROUP: GROUP_KIND}


@dataclass
class Result:
    """Filled in by the steps as they go."""

    action: str = Action.OTHER
    status: str = Status.SUCCESS
    target_id: str = ""
    modified: list = field(default_factory=list)
    error_code: str = ""
    error_description: str = ""
    recommended_fix: str = ""
    export: dict | None = None
    removal: tuple | None = None
    logged: bool = True
    reference_failure: bool = False
    adopted: bool = False  # a create found the object already in the target (409, or its own lost answer)
    traffic: Traffic = field(default_factory=Traffic)  # the SCIM requests this object made
    warnings: list = field(default_factory=list)  # what was left out because of the target (scim/quirks.py)


@dataclass
class Target:
    id: str
    resource: dict | None  # None: not read, the export state says what it holds


class Skip(Exception):
    """The object needs nothing: recorded as Skipped with the reason (not logged when logged=False)."""

    def __init__(self, code, reason, action=Action.OTHER, logged=True, fix=""):
        super().__init__(reason)
        self.code, self.reason, self.action, self.logged, self.fix = code, reason, action, logged, fix


def provision(ctx, source, *, on_change=None, connection_failure=None, members=None, log=None):
    """One object through the steps; a generator of SCIM Calls that returns its context.Outcome.

    members: on demand, a group's selected members (objectIds): only they are added.
    log: an unsaved or live ProvisioningLog to fill (on demand writes it as the steps complete)."""
    from provisioning.engine.context import Outcome
    from provisioning.engine.groups import group_steps

    kind = KINDS[source.object_type]
    started = time.monotonic()
    recorder = StepRecorder(kind.noun, on_change)
    result = Result()
    try:
        try:
            if connection_failure is not None:
                recorder.record(
                    TEST_CONNECTION, FAILURE, connection_failure.message,
                    [section("Connection", ["", ""], [("Fix", connection_failure.fix), *connection_failure.details])],
                )
                raise ObjectFailure(connection_failure.code, connection_failure.message, connection_failure.fix)
            if kind is GROUP_KIND:
                yield from calls.traced(group_steps(ctx, source, recorder, result, members), result.traffic)
            else:
                yield from calls.traced(user_steps(ctx, source, recorder, result), result.traffic)
        except ScimError as exc:
            # E.g. the client refusing an unusable Tenant URL or token before any request.
            raise from_scim_error(exc, f"provision {kind.title} '{source.name}'") from exc
        except ValueError as exc:
            # payload.PathError and value-type errors: a mapping the payload builder cannot place is a
            # configuration error of this object, not a crash of the run.
            raise ObjectFailure("AttributeMappingInvalid", f"An attribute mapping cannot be sent: {exc}",
                                "Correct the target attribute under Mappings.") from exc
    except Skip as skip:
        result.status, result.action, result.logged = Status.SKIPPED, skip.action, skip.logged
        result.error_code, result.error_description, result.recommended_fix = skip.code, skip.reason, skip.fix
    except ObjectFailure as failure:
        _fail(result, recorder, failure)
    except Exception as exc:  # noqa: BLE001 - a bug with one object must not stop the others
        logger.exception("provisioning %s %s failed unexpectedly", kind.noun, source.object_id)
        _fail(result, recorder, ObjectFailure(
            "InternalError", f"Provisioning stopped unexpectedly for this {kind.noun}: {type(exc).__name__}: {exc}",
            "This is a defect of the portal, not of the target or the configuration: report it with this log entry; "
            "the object is retried in the next cycle.",
        ))
    _warn(result)
    if result.removal is not None:
        return Outcome(source, None, DEFERRED, result.action, export=result.export, removal=result.removal)
    result.reference_failure = result.status == Status.FAILURE and ctx.phase == "references"
    entry = None
    if result.logged:
        entry = log or ProvisioningLog(**ctx.log_fields())
        result.recommended_fix = fix_for_mode(result.recommended_fix, ctx.application.entra_compatible)
        _fill(entry, source, kind, result, recorder.steps, started)
    return Outcome(source, entry, result.status, result.action, export=result.export, reference_failure=result.reference_failure)


def _warn(result):
    """What the target refused or dropped makes a success a Warning, and is named in a skip's reason."""
    if not result.warnings:
        return
    said = "; ".join(dict.fromkeys(result.warnings))
    if result.status == Status.SUCCESS:
        result.status, result.error_code = Status.WARNING, "TargetAttributesNotKept"
        result.error_description = f"{said}."
        result.recommended_fix = (
            "The rest of the change was provisioned. If the target should hold these attributes, check its documentation "
            "for the attribute names it supports and correct their mappings under Mappings (or remove the mappings); "
            "what was learned about the target is listed on the Provisioning page, where Forget makes the next cycle try again."
        )
    elif result.status == Status.SKIPPED:
        result.error_description = f"{result.error_description} ({said})" if result.error_description else said


def determine_scope(ctx, source, recorder):
    """ctx.in_scope, with a clause that cannot be evaluated recorded as the failed Determine-scope step."""
    try:
        return ctx.in_scope(source)
    except ObjectFailure as failure:
        recorder.record(SCOPE, FAILURE, failure.description, [section("Fix", ["", ""], [("Fix", failure.fix)])])
        raise


def _fail(result, recorder, failure):
    result.status = Status.FAILURE
    result.error_code, result.error_description, result.recommended_fix = failure.code, failure.description, failure.fix
    if not recorder.steps or recorder.steps[-1]["status"] != FAILURE:
        recorder.record(ACTION, FAILURE, failure.description, modified_section(result.modified))


def _fill(entry, source, kind, result, steps, started):
    entry.created_at = timezone.now()
    entry.object_type = kind.object_type
    entry.source_id = str(source.object_id)
    entry.source_display_name = source.name
    entry.source_upn = source.upn
    entry.target_id = result.target_id
    entry.action = result.action
    entry.status = result.status
    entry.error_code = result.error_code
    entry.error_description = visible(clip(result.error_description))
    entry.recommended_fix = visible(clip(result.recommended_fix))
    entry.steps = steps
    entry.modified_properties = visible_json(result.modified)
    entry.traffic = visible_json(result.traffic.as_json())
    entry.duration_ms = int((time.monotonic() - started) * 1000)


# ---------------------------------------------------------------------------------------------- users


def user_steps(ctx, source, recorder, result):
    mapping = ctx.object_mappings.get(USER)
    name, app_name = source.name, ctx.application.name

    # 2. Import
    import_step(recorder, source, USER_KIND, source.attributes)
    if mapping is None or not mapping.enabled:
        recorder.record(SCOPE, SKIPPED, "User provisioning is disabled for this application")
        raise Skip("EntrySynchronizationSkipped", f"User provisioning is disabled in the Mappings of {app_name}.")

    # 3. Determine if the user is in scope
    in_scope, reason, rows = determine_scope(ctx, source, recorder)
    attributes = {**source.attributes, "IsSoftDeleted": not in_scope}
    state = ctx.state(source)
    scope_section = [section("Scoping", ["Condition", "Result", "Detail"], rows)]
    if not in_scope:
        recorder.record(SCOPE, SKIPPED, f"User '{name}' is out of scope: {reason}", scope_section)
        yield from leave_scope(ctx, source, USER_KIND, mapping, state, reason, recorder, result)
        return
    recorder.record(SCOPE, SUCCESS, f"User '{name}' is in scope: {reason}", scope_section)

    # 4. Match
    target = yield from match(ctx, source, USER_KIND, state, recorder, result)

    # 5. Perform action
    if target is None:
        yield from create(ctx, source, USER_KIND, attributes, mapping, recorder, result)
        return
    yield from update(ctx, source, USER_KIND, attributes, mapping, state, target, recorder, result)


def import_step(recorder, source, kind, attributes):
    if source.deleted == "hard":
        recorder.record(IMPORT, SUCCESS, f"{kind.title} '{source.name}' was deleted from the directory",
                        [section("Imported attributes", ["Attribute", "Value"], sorted(attributes.items()))])
        return
    shown = {k: (f"{len(v)} members" if k == "members" else v) for k, v in attributes.items()}
    recorder.record(IMPORT, SUCCESS, f"Retrieved {kind.title} '{source.name}' from the directory",
                    [section("Imported attributes", ["Attribute", "Value"], sorted(shown.items()))])


def leave_scope(ctx, source, kind, mapping, state, reason, recorder, result):
    """An out-of-scope object: nothing if it was never provisioned; else disable (users) or delete."""
    name = source.name
    if state is None or not state.linked or (state.disabled and source.deleted != "hard"):
        raise Skip("EntrySynchronizationSkipped", f"{kind.title} '{name}' is not in scope: {reason}", fix=ctx.scope_fix(source))
    delete = kind is GROUP_KIND or (source.deleted == "hard" and mapping.action_delete)
    removal = Removal.DELETE if delete else Removal.DISABLE
    if ctx.defer_removals:
        result.removal = (removal, reason)
        return
    result.target_id = state.target_id
    if delete:
        yield from delete_object(ctx, source, kind, mapping, state, reason, recorder, result)
    else:
        yield from disable_user(ctx, source, mapping, state, reason, recorder, result)


def resolver(ctx):
    """Manager (and member) objectIds → target ids from the run's bulk-loaded export state."""
    def resolve(source_attribute, value):
        return resolved_references(value, lambda object_id: ctx.target_id(USER, object_id))

    return resolve


def reference_pending(ctx, source):
    """The manager's objectId when the user has a manager without a target object yet, else ""."""
    manager = source.manager_id
    if manager is None or ctx.target_id(USER, manager):
        return ""
    return str(manager)


def linked_export(ctx, source, kind, target_id, exported):
    """The export state of an object that is now linked to target_id and holds `exported`."""
    values = ctx.matching_values(source)
    return {
        "target_id": target_id, "exported": exported, "disabled": False, "reserved_by": None,
        "match_key": values[0][2] if values else None,
        "reference_pending": reference_pending(ctx, source) if kind is USER_KIND else "",
    }


# ---------------------------------------------------------------------------------------------- match


def match(ctx, source, kind, state, recorder, result):
    """Step 4: the export state first, else each matching attribute in precedence order. Returns a Target or None."""
    name, app_name = source.name, ctx.application.name
    excluded = list(kind.excluded) or None
    stale = ""
    if state is not None and state.linked:
        if not ctx.verify and state.exported:
            recorder.record(MATCH, SUCCESS, f"Matched {kind.title} '{name}' with target {kind.noun} {state.target_id} "
                            "(linked when it was first provisioned; the export state says what it holds)")
            result.target_id = state.target_id
            return Target(state.target_id, None)
        try:
            resource = yield calls.get(kind.resource, state.target_id, excluded)
        except ScimNotFound:
            # Entra fails with InvalidAnchor until a restart; we match again instead and say so.
            stale = f"The target {kind.noun} {state.target_id} linked to '{name}' no longer exists in {app_name}; matching again."
            result.export = {"target_id": "", "exported": {}, "members": [], "disabled": False}
        except ScimError as exc:
            recorder.record(MATCH, FAILURE, f"Could not read the linked target {kind.noun} {state.target_id}: {exc}")
            raise from_scim_error(exc, f"read {kind.title} {state.target_id} in {app_name}") from exc
        else:
            recorder.record(
                MATCH, SUCCESS,
                f"Matched {kind.title} '{name}' with target {kind.noun} {resource['id']} (linked when it was first provisioned)",
                [section(f"Matched target {kind.noun}", ["Property", "Value"], flatten(resource))],
            )
            result.target_id = resource["id"]
            return Target(resource["id"], resource)
    other = ctx.key_conflicts.get(source.key)
    if other is not None:
        raise _merge_refused(ctx, source, kind, other, recorder)
    target = yield from find_in_target(ctx, source, kind, recorder, note=stale)
    if target is not None:
        result.target_id = target.id
    return target


def find_in_target(ctx, source, kind, recorder, *, note="", listing=True):
    """Look the object up by its matching attributes: in the cycle's listing of the target, or by filter."""
    name, app_name = source.name, ctx.application.name
    excluded = list(kind.excluded) or None
    matching = ctx.matching_mappings(kind.object_type)
    values = ctx.matching_values(source)
    if not values:
        rows = [(m.target_attribute, "(null)", "skipped: the source value is empty") for m in matching]
        columns = ["Target attribute", "Source value", "Result"]
        recorder.record(MATCH, FAILURE, f"No matching attribute has a value for this {kind.noun}",
                        [section("Matching attributes evaluated", columns, rows)])
        raise ObjectFailure(
            "ImportSkipped",
            f"'{name}' has no value for any matching attribute ({', '.join(m.source_display for m in matching) or 'none configured'}), "
            "so it cannot be matched or created.",
            f"Give the {kind.noun} a value for the matching attribute, or change Match objects using this attribute under Mappings.",
        )
    rows = []
    columns = ["Target attribute", "Source value", "Filter", "Result"]
    use_listing = listing and ctx.listed is not None and source.key not in ctx.possibly_sent
    for mapping, value, key in values:
        query = matching_filter(mapping.target_attribute, value)
        if use_listing:
            found = [resource for _, resource in ctx.listed.get((kind.object_type, key), [])]
            how = f"{query} in the listing of {app_name} taken at the start of the cycle"
        else:
            try:
                found = yield calls.query(kind.resource, query, excluded)
            except ScimError as exc:
                rows.append((mapping.target_attribute, value, query, f"refused: {exc.status or 'no answer'}"))
                recorder.record(MATCH, FAILURE, f"The target refused the matching query {query}: {exc}",
                                [section("Matching attributes evaluated", columns, rows)])
                raise from_scim_error(exc, f"query {app_name} for {query}") from exc
            how = query
            strangers = [r for r in found if not _holds(r, mapping.target_attribute, key)]
            if strangers:
                raise _wrong_answer(ctx, source, kind, mapping, value, query, found, strangers, rows, columns, recorder)
        counted = _results(len(found))
        if len(found) > 1:
            # Named up to NAMED and counted after: a target answering 200,000 duplicates makes a small entry.
            ids = ", ".join(str(r.get("id", "?")) for r in found[:NAMED])
            if len(found) > NAMED:
                ids += f" and {len(found) - NAMED:,} more"
            rows.append((mapping.target_attribute, value, query, f"{counted}: {ids}"))
            recorder.record(MATCH, FAILURE, f"{len(found)} {kind.noun}s in the target match {how} → {counted}",
                            [section("Matching attributes evaluated", columns, rows),
                             *[section(f"Target {kind.noun} {r.get('id')}", ["Property", "Value"], flatten(r)) for r in found[:NAMED_SECTIONS]]])
            raise ObjectFailure(
                "DuplicateTargetEntries",
                f"{len(found)} {kind.noun}s in {app_name} match {query} (ids {ids}), so '{name}' cannot be matched to one.",
                f"Remove or merge the duplicate {kind.noun}s in the target, or make a unique attribute the matching attribute under Mappings.",
            )
        if found:
            resource = found[0]
            rows.append((mapping.target_attribute, value, query, f"{counted}: matched {resource.get('id')}"))
            owner = ctx.linked_elsewhere(kind.object_type, resource.get("id"), source.object_id)
            if owner is not None:
                raise _merge_refused(ctx, source, kind, owner, recorder, target_id=resource.get("id"), value=value, mapping=mapping,
                                     rows=[section("Matching attributes evaluated", columns, rows)])
            recorder.record(
                MATCH, SUCCESS, f"Matched {kind.title} '{name}' with target {kind.noun} {resource.get('id')} by {how} → {counted}",
                [section("Matching attributes evaluated", columns, rows),
                 section(f"Matched target {kind.noun}", ["Property", "Value"], flatten(resource))],
            )
            return Target(resource["id"], resource)
        rows.append((mapping.target_attribute, value, query, counted))
    searched = "; ".join(f"{q} → {r}" for _, _, q, r in rows)
    where = f" (in the listing of {app_name} taken at the start of the cycle)" if use_listing else ""
    recorder.record(
        MATCH, SUCCESS, f"No matching {kind.noun} was found in {app_name}: {searched}{where}; '{name}' will be created. {note}".strip(),
        [section("Matching attributes evaluated", columns, rows)],
    )
    return None


def _holds(resource, path, key):
    """Whether an object answered for a matching query holds the value asked for, compared as the listing compares
    (engine/keys.py: userName case-insensitively, externalId exactly). For a filtered multi-valued path
    (emails[type eq "work"].value) any entry's value counts: a target that keeps no type still answers the filter."""
    if key in keys.keys_of_resource(resource, [path]):
        return True
    target = payload.parse_path(path)
    if not target.is_filtered:
        return False
    entries = payload.read_value(resource, f"{target.schema}:{target.attribute}" if target.schema else target.attribute)
    if not isinstance(entries, list):
        return False
    sub = target.sub_attribute or "value"
    return any(isinstance(entry, dict) and keys.match_key(path, ci_get(entry, sub)) == key for entry in entries)


def _wrong_answer(ctx, source, kind, mapping, value, query, found, strangers, rows, columns, recorder):
    """The target answered a matching query with objects that do not hold the value asked for: not a match."""
    app_name = ctx.application.name
    shown = [f"{r.get('id')} ({mapping.target_attribute} = {display(payload.read_value(r, mapping.target_attribute))})"
             for r in strangers[:NAMED]]
    more = f" and {len(strangers) - NAMED:,} more" if len(strangers) > NAMED else ""
    listed = ", ".join(shown) + more
    rows.append((mapping.target_attribute, value, query, f"{_results(len(found))}, {len(strangers)} without this value"))
    description = (f"{app_name} answered {query} with {len(strangers)} {kind.noun}(s) that do not hold {mapping.target_attribute} "
                   f"= \"{value}\": {listed}. That is not a match, so '{source.name}' was neither linked nor created.")
    recorder.record(MATCH, FAILURE, description,
                    [section("Matching attributes evaluated", columns, rows),
                     *[section(f"Returned {kind.noun} {r.get('id')}", ["Property", "Value"], flatten(r)) for r in strangers[:3]]])
    return ObjectFailure(
        "TargetAnswerMismatch", description,
        f"The target's filter on {mapping.target_attribute} does not work as SCIM requires (RFC 7644 §3.4.2.2; userName "
        f"compares case-insensitively). Ask the target's vendor to fix the filter, or match on another attribute under Mappings.",
    )


def _results(count):
    return f"{count} result" if count == 1 else f"{count} results"


def case_sensitive_hint(ctx, source, kind, exc):
    """When a 409 names a matching value the filter did not find, the target's filter likely compares case."""
    answer = f"{exc.detail} {exc.problem}".lower()
    for mapping, value, _ in ctx.matching_values(source):
        text = str(value)
        if text and text.lower() in answer:
            query = matching_filter(mapping.target_attribute, value)
            return (
                f" The 409 names {text} (or the same value in another case), yet {query} found no {kind.noun}: the target's "
                f"filter on {mapping.target_attribute} may be case-sensitive (RFC 7643 makes userName case-insensitive), "
                "holding the value in another case.",
                f"Ask the target's vendor to compare {mapping.target_attribute} filters case-insensitively; meanwhile make the "
                f"mapped value's case match the existing {kind.noun} in the target (for example ToLower() in the mapping of "
                f"{mapping.target_attribute} under Mappings), or delete or rename the existing {kind.noun} in {ctx.application.name}.",
            )
    return "", ""


def _merge_refused(ctx, source, kind, other_id, recorder, *, target_id=None, value=None, mapping=None, rows=()):
    """Two directory objects would share one target object: the second fails, naming both."""
    from provisioning.models import DirectoryGroup, DirectoryUser

    model = DirectoryUser if kind is USER_KIND else DirectoryGroup
    other = model.objects.filter(object_id=other_id).first()
    other_name = (f"'{other.display_name or getattr(other, 'user_principal_name', '')}' ({other_id})" if other
                  else f"a deleted directory {kind.noun} ({other_id})")
    if mapping is None:
        values = ctx.matching_values(source)
        mapping, value = (values[0][0], values[0][1]) if values else (None, None)
    shared = f"{mapping.target_attribute} = \"{value}\"" if mapping else "the same matching value"
    produced = f" (from {mapping.source_display})" if mapping else ""
    where = f"target {kind.noun} {target_id}" if target_id else f"the {kind.noun} in {ctx.application.name}"
    description = (
        f"'{source.name}' ({source.object_id}) and {other_name} both have {shared}{produced}: {where} is already "
        f"linked to {other_name}, so '{source.name}' was not linked to it. Linking it would merge two people into one "
        "account, the second overwriting the first's data and memberships."
    )
    recorder.record(MATCH, FAILURE, description, list(rows))
    return ObjectFailure(
        "DuplicateSourceEntries", description,
        f"Make the value unique for every {kind.noun}: change the mapping of {mapping.target_attribute if mapping else 'the matching attribute'} "
        "under Mappings, e.g. Join(\".\", [givenName], [surname], Left([objectId], 4)), or correct one of the two directory objects.",
    )


# ---------------------------------------------------------------------------------------------- create


def value_exists(ctx, kind):
    """SelectUniqueValue's target lookup; it blocks the driver's thread, so only such mappings pay for it."""
    def exists_for(path):
        return lambda candidate: bool(ctx.client.query(kind.resource, matching_filter(path, candidate)))

    return exists_for


def create(ctx, source, kind, attributes, mapping, recorder, result, *, members=()):
    """POST the object with every mapping that flows (and, for groups, its first members)."""
    name, app_name = source.name, ctx.application.name
    result.action = Action.CREATE
    if not mapping.action_create:
        recorder.record(ACTION, SKIPPED, f"Create is not ticked in Target Object Actions: the {kind.noun} was not created")
        raise Skip("EntrySynchronizationSkipped", f"'{name}' would be created, but Create is not enabled in Target Object Actions.", Action.CREATE)
    evaluation = evaluate_mappings(ctx.application, mapping, attributes, creating=True, value_exists=value_exists(ctx, kind),
                                   resolve=resolver(ctx))
    sent = {path: value for path, value in evaluation.values.items() if path not in kind.excluded}
    result.traffic.mask(evaluation.values.get(path) for path in evaluation.redacted)
    result.modified = _modified(((path, None, value) for path, value in sent.items()), evaluation.redacted)
    body = payload.build_resource(kind.title, sent, entra_compatible=ctx.application.entra_compatible, members=members)
    try:
        created = yield calls.create(kind.resource, body)
    except ScimError as exc:
        if not (isinstance(exc, ScimConflict) or answer_lost(exc)):
            recorder.record(ACTION, FAILURE, f"Failed to create {kind.title} '{name}' in {app_name}: {exc}", modified_section(result.modified))
            raise from_scim_error(exc, f"create {kind.title} '{name}' in {app_name}") from exc
        # It may exist now (a 409, or our own create whose answer was lost): look it up before anything else.
        why = ("the target answered 409 Conflict" if isinstance(exc, ScimConflict)
               else "the answer to the create was lost, so it may have been created")
        target = yield from find_in_target(ctx, source, kind, recorder, listing=False,
                                           note=f"({why}; the create is sent again.)")
        if target is None and isinstance(exc, ScimConflict):
            hint, fix = case_sensitive_hint(ctx, source, kind, exc)
            recorder.record(ACTION, FAILURE, f"Failed to create {kind.title} '{name}' in {app_name}: {exc}; no {kind.noun} in the target "
                            f"matches it by the matching attributes, so the conflicting object could not be adopted.{hint}",
                            modified_section(result.modified))
            failure = from_scim_error(exc, f"create {kind.title} '{name}' in {app_name}")
            if hint:
                failure = ObjectFailure(failure.code, failure.description + hint, fix)
            raise failure from exc
        if target is not None:
            result.target_id = target.id
            recorder.steps[-1]["description"] += f" ({why}: the existing {kind.noun} is adopted, not duplicated.)"
            return (yield from adopt(ctx, source, kind, attributes, mapping, target, recorder, result, members,
                                     created_by_us=not isinstance(exc, ScimConflict)))
        try:
            created = yield calls.create(kind.resource, body)
        except ScimError as again:
            recorder.record(ACTION, FAILURE, f"Failed to create {kind.title} '{name}' in {app_name}: {again}", modified_section(result.modified))
            raise from_scim_error(again, f"create {kind.title} '{name}' in {app_name}") from again
    result.target_id = created["id"]
    dropped = dropped_paths(sent, created)
    if dropped:
        listed = ", ".join(dropped)
        why = f"the answer to the create of {kind.title} '{name}' did not hold it"
        at = timezone.now().isoformat()
        for path in dropped:
            ctx.learn(lambda data, path=path: quirks.with_path(data, quirks.DROPPED, kind.resource, path, why, at))
        result.warnings.append(f"the target dropped {listed}: {app_name} answered the create without them, so they are "
                               "not sent again in later updates")
    # The export state records what the target kept, so nothing is PATCHed every cycle to make up for it.
    result.export = linked_export(ctx, source, kind, created["id"], {p: v for p, v in sent.items() if p not in dropped})
    if kind is USER_KIND:
        left_out = f"; {'; '.join(result.warnings)}" if result.warnings else ""
        recorder.record(ACTION, WARNING if left_out else SUCCESS, f"User '{name}' was created in {app_name} (id {created['id']}){left_out}",
                        modified_section(result.modified) + evaluation_section(evaluation, sent=True))
    return created, evaluation


WRITE_ONLY = frozenset({"password"})  # never returned (RFC 7643 §7 returned "never"): not a drop


def dropped_paths(sent, created):
    """The sent attributes a create's answer does not hold (an answer with none of them says nothing)."""
    if not isinstance(created, dict):
        return []
    candidates = [p for p, v in sent.items()
                  if v is not None and not payload.parse_path(p).is_members and p.lower() not in WRITE_ONLY]
    missing = [p for p in candidates if payload.read_value(created, p) is None]
    return missing if len(missing) < len(candidates) else []


def adopt(ctx, source, kind, attributes, mapping, target, recorder, result, members, *, created_by_us):
    """A create found the object already there: link it and bring it up to date like any matched object."""
    name, app_name = source.name, ctx.application.name
    changes, evaluation = yield from update_attributes(ctx, source, kind, attributes, mapping, None, target, recorder, result)
    result.action = Action.CREATE if created_by_us else Action.UPDATE
    result.adopted = True
    if kind is USER_KIND:
        done = f"; {len(changes)} attribute(s) updated" if changes else ""
        if created_by_us:
            text = (f"User '{name}' was created in {app_name} (id {target.id}): the answer to the create was lost, and the "
                    f"user was found by its matching attribute instead of being created twice{done}")
        else:
            text = f"User '{name}' already existed in {app_name} (the create answered 409 Conflict): linked to it (id {target.id}){done}"
        recorder.record(ACTION, SUCCESS, text, modified_section(result.modified) + evaluation_section(evaluation))
    return target.resource, evaluation


# ---------------------------------------------------------------------------------------------- update


def update(ctx, source, kind, attributes, mapping, state, target, recorder, result, raise_unchanged=True):
    """Users: PATCH what differs, then say so; unchanged → Skipped (not logged in incremental cycles)."""
    name, app_name = source.name, ctx.application.name
    changes, evaluation = yield from update_attributes(ctx, source, kind, attributes, mapping, state, target, recorder, result)
    if changes:
        left_out = f"; {'; '.join(result.warnings)}" if result.warnings else ""
        recorder.record(ACTION, WARNING if left_out else SUCCESS,
                        f"User '{name}' was updated in {app_name}: {len(changes)} attribute(s) changed{left_out}",
                        modified_section(result.modified) + evaluation_section(evaluation, sent=True))
    elif result.warnings and result.action == Action.UPDATE:
        # Every change was refused by the target: not "up to date", and not a failure of the user either.
        recorder.record(ACTION, WARNING, f"Nothing was updated in {app_name}: {'; '.join(result.warnings)}",
                        modified_section(result.modified) + evaluation_section(evaluation))
    elif raise_unchanged:
        left_out = f" ({'; '.join(result.warnings)})" if result.warnings else ""
        recorder.record(ACTION, SKIPPED, f"The state of the user in both the source and target systems already match{left_out}",
                        evaluation_section(evaluation))
        raise Skip("RedundantExport", f"'{name}' is already up to date in {app_name}: nothing to change.",
                   logged=ctx.log_unchanged or bool(result.warnings))
    else:
        recorder.record(ACTION, SUCCESS, f"User '{name}' was linked to the existing user {target.id} in {app_name}: it already matched",
                        evaluation_section(evaluation))
    return changes, evaluation


def update_attributes(ctx, source, kind, attributes, mapping, state, target, recorder, result):
    """PATCH the attributes whose desired value differs from the target's; returns (changes, evaluation).

    What the target was seen to refuse or drop (scim/quirks.py) is left out, so the rest lands; the manager
    travels in a PATCH of its own, so a target refusing it still takes the other changes."""
    name, app_name = source.name, ctx.application.name
    evaluation = evaluate_mappings(ctx.application, mapping, attributes, creating=False, resolve=resolver(ctx))
    result.traffic.mask(evaluation.values.get(path) for path in evaluation.redacted)
    desired = {p: v for p, v in evaluation.values.items() if p not in kind.excluded}
    previous = dict(state.exported) if state is not None and state.linked and state.target_id == target.id else {}
    # Without a read of the target, what was last exported is what it holds.
    current = target.resource if target.resource is not None else payload.build_resource(kind.title, previous, entra_compatible=False)
    changes = payload.diff(desired, current)
    kept = {**previous, **desired}
    result.export = linked_export(ctx, source, kind, target.id, kept)
    if not changes:
        return [], evaluation
    changes = _leave_out_known(ctx, kind, changes, kept, previous, result)
    result.export = linked_export(ctx, source, kind, target.id, kept)
    if not changes:
        return [], evaluation
    result.action = Action.UPDATE
    result.modified = _modified(((c.path, c.old, c.new) for c in changes), evaluation.redacted)
    if not mapping.action_update:
        result.export = linked_export(ctx, source, kind, target.id, previous) if previous else None
        recorder.record(ACTION, SKIPPED, "Update is not ticked in Target Object Actions: the changes were not sent", modified_section(result.modified))
        raise Skip("EntrySynchronizationSkipped", f"'{name}' differs from the target, but Update is not enabled in Target Object Actions.", Action.UPDATE)
    references = [c for c in changes if payload.parse_path(c.path).is_reference]
    batches = [b for b in ([c for c in changes if c not in references], references) if b]
    matching = {m.target_attribute.lower() for m in ctx.matching_mappings(kind.object_type)}
    landed = []
    try:
        for batch in batches:
            sent, answer = yield from send_changes(ctx, kind, target.id, batch, current, result.warnings, learnable=lambda p: p.lower() not in matching,
                                                   learn_paths=target.resource is not None)
            landed += sent
            _check_applied(ctx, source, kind, sent, answer, target, previous, recorder, result)
    except ScimNotFound as exc:
        if target.resource is not None:
            recorder.record(ACTION, FAILURE, f"Failed to update {kind.title} '{name}' in {app_name}: {exc}", modified_section(result.modified))
            raise from_scim_error(exc, f"update {kind.title} '{name}' in {app_name}") from exc
        # The export state said it exists; the target deleted it since. Match again, else create it anew.
        recorder.record(MATCH, WARNING, f"The target {kind.noun} {target.id} linked to '{name}' was deleted in {app_name}; matching again.")
        found = yield from find_in_target(ctx, source, kind, recorder, listing=False)
        if found is None:
            result.modified = []
            created, evaluation = yield from create(ctx, source, kind, attributes, mapping, recorder, result)
            return ["(re-created)"], evaluation
        return (yield from update_attributes(ctx, source, kind, attributes, mapping, None, found, recorder, result))
    except ScimError as exc:
        if not refusal(exc) or target.resource is not None:
            recorder.record(ACTION, FAILURE, f"Failed to update {kind.title} '{name}' in {app_name}: {exc}", modified_section(result.modified))
            raise from_scim_error(exc, f"update {kind.title} '{name}' in {app_name}") from exc
        # The PATCH was built from the export state; the target may hold something else (changed by hand).
        # Read it and build the PATCH from what it really holds, once (then a refusal is learned).
        try:
            resource = yield calls.get(kind.resource, target.id, list(kind.excluded) or None)
        except ScimError:
            raise from_scim_error(exc, f"update {kind.title} '{name}' in {app_name}") from exc
        return (yield from update_attributes(ctx, source, kind, attributes, mapping, None, Target(target.id, resource), recorder, result))
    refused = [c for c in changes if c not in landed]
    if refused:
        for change in refused:
            if change.path in previous:
                kept[change.path] = previous[change.path]
            else:
                kept.pop(change.path, None)  # the export state records what the target kept
        result.export = linked_export(ctx, source, kind, target.id, kept)
        result.modified = [m for m in result.modified if m["name"] not in {c.path for c in refused}]
    return landed, evaluation


def refusal(exc):
    """A 400 or 501: the target will not take this request as it is (not a passing failure)."""
    return isinstance(exc, ScimError) and exc.status in (400, 501)


def _leave_out_known(ctx, kind, changes, kept, previous, result):
    """Drop the changes to paths the target was seen to refuse or drop; the export keeps their old value."""
    sendable = []
    for change in changes:
        known = ctx.quirks.left_out(kind.resource, change.path)
        if known is None:
            sendable.append(change)
            continue
        what, why = known
        if change.path in previous:
            kept[change.path] = previous[change.path]
        else:
            kept.pop(change.path, None)
        verb = "refuses" if what == quirks.REFUSED else "dropped"
        result.warnings.append(f"{change.path} was not sent: {ctx.application.name} {verb} it ({why})")
    return sendable


def _check_applied(ctx, source, kind, changes, answer, target, previous, recorder, result):
    """A PATCH answered with the object: the changes must be in it, else the target ignored them."""
    name, app_name = source.name, ctx.application.name
    if not changes or not isinstance(answer, dict):
        return
    ignored = payload.diff({c.path: c.new for c in changes}, answer)
    if ignored:
        listed = ", ".join(f"{c.path} (still {display(c.old)})" for c in ignored)
        result.export = linked_export(ctx, source, kind, target.id, previous) if previous else None
        recorder.record(ACTION, FAILURE, f"{app_name} answered the update of {kind.title} '{name}' with success, but its answer "
                        f"does not hold the change: {listed}", modified_section(result.modified))
        raise ObjectFailure(
            "UpdateNotApplied",
            f"{app_name} said the update of {kind.title} '{name}' succeeded, but the {kind.noun} it returned does not hold "
            f"the new values: {listed}.",
            f"The target ignored part of the update. Check in {app_name} whether these attributes can be changed (read-only, "
            "or another name); if they cannot, remove their mappings or apply them Only during object creation.",
        )


def _units(changes, resource):
    """Changes that must travel together: sub-attributes of one new multi-valued entry share one add."""
    units = {}
    for change in changes:
        target = payload.parse_path(change.path)
        key = change.path.lower()
        if target.is_filtered and payload.read_value(resource, change.path) is None:
            key = (target.container_path.lower(), target.filter_attribute.lower(), target.filter_value.lower())
        units.setdefault(key, []).append(change)
    return list(units.values())


MAX_SPLIT = 20  # a refused PATCH of more changes than this fails as it is, rather than costing 2 requests a change


def send_changes(ctx, kind, target_id, changes, current, warnings, *, learnable=lambda path: True, learn_paths=True):
    """PATCH these changes in the shapes the target takes; returns (the changes that landed, the answer).

    A refused (400/501) change is sent once more in its other shape where one exists (active "False" ↔
    false, add ↔ replace for an absent value), and the shape that works is remembered. A refusal of several
    changes is sent again change by change to find the refused ones. A path is remembered as refused, and left
    out from then on, only when the refusal is about it: the other changes landed, or it was the only change
    and the target said so (501 Not Implemented, scimType mutability/invalidPath/noTarget). A target that
    refuses every change fails the object as before, and a matching attribute's refusal always does.
    learn_paths=False: the PATCH was built from the export state, so the caller reads the target first."""
    shapes = {key: ctx.quirks.shape(key) for key in (payload.ACTIVE, payload.ABSENT) if ctx.quirks.learned_shape(key)}
    try:
        answer = yield from _patch(kind, target_id, payload.patch_operations(
            changes, current, entra_compatible=ctx.application.entra_compatible, shapes=shapes))
        return changes, answer
    except ScimError as exc:
        if not refusal(exc) or not learn_paths:
            raise
        first = exc
    units = _units(changes, current)
    if len(units) > MAX_SPLIT:
        raise first
    landed, answer, refused = [], None, []
    for unit in units:
        sent, reply, why = yield from _send_unit(ctx, kind, target_id, unit, current, shapes, first if len(units) == 1 else None)
        if sent:
            landed, answer = landed + sent, reply
        else:
            refused.append((unit, why))
    about_path = bool(landed) or (len(units) == 1 and _names_the_path(refused[0][1]))
    # A matching attribute is left out only on a 501 (the target says it never implements it: a group rename).
    if not about_path or not all(learnable(c.path) or exc.status == 501 for unit, exc in refused for c in unit):
        raise refused[0][1] if len(units) == 1 else first
    at = timezone.now().isoformat()
    for unit, exc in refused:
        why = f"{_status(exc)} to a PATCH of it{': ' + exc.detail if exc.detail else ''}"
        for change in unit:
            ctx.learn(lambda data, path=change.path: quirks.with_path(data, quirks.REFUSED, kind.resource, path, why, at, exc.status))
        warnings.append(f"{', '.join(c.path for c in unit)} left out: {ctx.application.name} answered {why}; later changes "
                        "leave it out so the rest lands (Forget on the Provisioning page tries it again)")
    return landed, answer


def _names_the_path(exc):
    return exc.status == 501 or exc.scim_type in ("mutability", "invalidPath", "noTarget")


def _send_unit(ctx, kind, target_id, unit, current, shapes, refused_already):
    """One change (or one new entry's changes): (landed changes, answer, the refusal when none landed)."""
    entra = ctx.application.entra_compatible
    operations = payload.patch_operations(unit, current, entra_compatible=entra, shapes=shapes)
    first = refused_already
    if first is None:
        try:
            return unit, (yield from _patch(kind, target_id, operations)), None
        except ScimError as exc:
            if not refusal(exc):
                raise
            first = exc
    for key in payload.shape_keys(unit[0], current):
        used = shapes.get(key) or (payload.boolean_shape(entra) if key == payload.ACTIVE else payload.absent_shape(unit[0].path, entra))
        other = quirks.other_shape(key, used)
        retry = payload.patch_operations(unit, current, entra_compatible=entra, shapes={**shapes, key: other})
        if retry == operations:
            continue
        try:
            answer = yield from _patch(kind, target_id, retry)
        except ScimError as exc:
            if not refusal(exc):
                raise
            continue
        why = f"{ctx.application.name} refused {quirks.SHAPE_WORDS[(key, used)]} ({_status(first)}) and took the other shape"
        ctx.learn(lambda data: quirks.with_shape(data, key, other, why, timezone.now().isoformat()))
        shapes[key] = other
        return unit, answer, None
    return [], None, first


def _status(exc):
    return {400: "400 Bad Request", 501: "501 Not Implemented"}.get(exc.status, str(exc.status))


def _patch(kind, target_id, operations):
    return (yield from confirmed_patch(kind.resource, target_id, operations, list(kind.excluded) or None))


def confirmed_patch(resource, target_id, operations, excluded=None):
    """PATCH, and what the target says it holds afterwards: the resource it answered with, or, for a 200 with
    nothing in it, the resource read back (rather than log a change that may not have happened); None for a
    204 (RFC 7644 §3.5.2: applied). The caller compares it with what it sent and logs what did not take.
    The client has already refused an answer about another resource (another id)."""
    answer = yield calls.patch(resource, target_id, operations)
    if answer is UNCONFIRMED:
        answer = yield calls.get(resource, target_id, excluded)
    return answer


# ---------------------------------------------------------------------------------------------- removals


def disable_user(ctx, source, mapping, state, reason, recorder, result):
    name, app_name = source.name, ctx.application.name
    result.action = Action.DISABLE
    if not mapping.action_update:
        # Entra disables through an update (IsSoftDeleted → active): without Update, nothing is sent.
        recorder.record(ACTION, SKIPPED, "Update is not ticked in Target Object Actions: the user was not disabled")
        raise Skip("EntrySynchronizationSkipped", f"'{name}' is out of scope ({reason}), but Update is not enabled in Target Object Actions, so it was not disabled.", Action.DISABLE)
    current = state.exported.get("active", True) if state.exported else True
    resource = None
    if ctx.verify or not state.exported:
        try:
            resource = yield calls.get(USER_KIND.resource, state.target_id)
        except ScimNotFound:
            result.export = {"forget": True}
            recorder.record(ACTION, SKIPPED, "Nothing to disable: the linked target user no longer exists")
            raise Skip("EntrySynchronizationSkipped", f"User '{name}' is out of scope ({reason}) and no longer exists in {app_name}.")
        current = payload.read_value(resource, "active")
    disabled_export = {"disabled": True, "exported": {**state.exported, "active": False}}
    if current is False or str(current).lower() == "false":
        result.export = disabled_export
        recorder.record(ACTION, SKIPPED, "The user is already disabled in the target")
        raise Skip("RedundantExport", f"'{name}' is out of scope ({reason}) and already disabled in {app_name}.", Action.DISABLE)
    result.modified = _modified([("active", current, False)], set())
    model = resource if resource is not None else {"active": current}
    try:
        # active is never left out: a disable the target refuses in both shapes fails the user.
        _, answer = yield from send_changes(ctx, USER_KIND, state.target_id, [payload.Change("active", current, False)], model,
                                            result.warnings, learnable=lambda path: False)
    except ScimNotFound:
        result.export = {"forget": True}
        recorder.record(ACTION, SKIPPED, "Nothing to disable: the linked target user no longer exists")
        raise Skip("EntrySynchronizationSkipped", f"User '{name}' is out of scope ({reason}) and no longer exists in {app_name}.", Action.DISABLE)
    except ScimError as exc:
        recorder.record(ACTION, FAILURE, f"Failed to disable User '{name}' in {app_name}: {exc}", modified_section(result.modified))
        raise from_scim_error(exc, f"disable User '{name}' in {app_name}") from exc
    if isinstance(answer, dict) and payload.diff({"active": False}, answer):
        still = display(payload.read_value(answer, "active"))
        recorder.record(ACTION, FAILURE, f"{app_name} answered the disable of User '{name}' with success, but the user it "
                        f"returned is not disabled (active is still {still})", modified_section(result.modified))
        raise ObjectFailure(
            "UpdateNotApplied",
            f"{app_name} said User '{name}' was disabled, but the user it returned still has active = {still}.",
            f"The target ignored the change of active. Check in {app_name} whether users can be deactivated with a PATCH of "
            "active; some targets need Entra-compatible requests (under Provisioning > Settings) for it.",
        )
    result.export = disabled_export
    recorder.record(ACTION, SUCCESS, f"User '{name}' was disabled in {app_name} because {reason}", modified_section(result.modified))


def delete_object(ctx, source, kind, mapping, state, reason, recorder, result):
    name, app_name = source.name, ctx.application.name
    result.action = Action.DELETE
    if not mapping.action_delete:
        recorder.record(ACTION, SKIPPED, f"Delete is not ticked in Target Object Actions: the {kind.noun} was not deleted")
        raise Skip("EntrySynchronizationSkipped", f"'{name}' would be deleted ({reason}), but Delete is not enabled in Target Object Actions.", Action.DELETE)
    try:
        yield calls.delete(kind.resource, state.target_id)
    except ScimNotFound:
        result.export = {"forget": True}
        recorder.record(ACTION, SKIPPED, f"Nothing to delete: the linked target {kind.noun} {state.target_id} no longer exists")
        raise Skip("RedundantExport", f"{kind.title} '{name}' was already gone from {app_name}.", Action.DELETE)
    except ScimError as exc:
        recorder.record(ACTION, FAILURE, f"Failed to delete {kind.title} '{name}' from {app_name}: {exc}")
        raise from_scim_error(exc, f"delete {kind.title} '{name}' from {app_name}") from exc
    result.export = {"forget": True}
    recorder.record(ACTION, SUCCESS, f"{kind.title} '{name}' was deleted from {app_name} (id {state.target_id}) because {reason}")


# ---------------------------------------------------------------------------------------------- details


def _modified(triples, redacted):
    return [
        {
            "name": path,
            "old": "[Redact]" if path in redacted and old is not None else (None if old is None else clip(display(old), CELL_LIMIT)),
            "new": "[Redact]" if path in redacted else (None if new is None else clip(display(new), CELL_LIMIT)),
        }
        for path, old, new in triples
    ]


def modified_section(modified):
    if not modified:
        return []
    return [section("Modified attributes", ["Attribute", "Old value", "New value"], [(m["name"], m["old"], m["new"]) for m in modified])]


def evaluation_section(evaluation, *, sent=False):
    """The mappings' evaluated values, as the expression tester shows them (Redact → [Redact]).

    sent: the values went out and Modified attributes lists them, so only the rows that say more are kept
    (expressions, constants, notes, values that did not flow): a cycle writes thousands of these."""
    rows = [
        (a.target, a.source, a.display if a.display else a.value, a.note or ("" if a.value is not None else "null: does not flow"))
        for a in evaluation.attributes
        if not (sent and a.direct and a.value is not None and not a.note and not a.display)
    ]
    if not rows:
        return []
    return [section("Attribute mappings evaluated", ["Target attribute", "Source or expression", "Value", "Note"], rows)]


def flatten(resource, prefix=""):
    """A target resource as (path, value) rows for the details table."""
    rows = []
    for key, value in resource.items():
        if key in ("schemas", "meta"):
            continue
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(flatten(value, f"{path}."))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                label = item.get("type") or item.get("display") or ""
                rows.append((f"{path}[{label}]" if label else path, display({k: v for k, v in item.items() if k != "type"})))
        else:
            rows.append((path, value))
    return rows


# ---------------------------------------------------------------------------------------------- one object now


def provision_now(ctx, source, **options):
    """One object through the pipeline right now, one request at a time, its outcome written.

    Returns its log entry (None when nothing was logged). On demand and the tests call this; cycles
    drive many objects at once (engine/chunks.py)."""
    ctx.prepare([source])
    outcome = calls.run_now(provision(ctx, source, **options), lambda: ctx.client)
    ctx.record(outcome)
    ctx.flush()
    return outcome.log


def provision_user(ctx, user, **options):
    from provisioning.engine.source import of_user

    return provision_now(ctx, of_user(user), **options)


def provision_group(ctx, group, *, members=None, **options):
    """members: the directory users whose membership is sent (on demand); None: the whole group."""
    from provisioning.engine.source import of_group

    selected = None if members is None else [m.object_id for m in members]
    return provision_now(ctx, of_group(group), members=selected, **options)
