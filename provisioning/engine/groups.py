"""Groups through the same five steps as users, then their memberships in as few requests as the target takes.

A new group is created with its first members in the POST (RFC mode; Entra-compatible mode creates it
empty, as Entra does), the rest added by PATCH in batches of at most 500 values (or the target's
bulk.maxOperations when smaller). A linked group gets PATCHes of just the membership delta against what
the export state says this app added (or, when the target is read, against its real members, removing
only the ones this portal provisioned: members added by hand in the target are left alone). Members that
are not provisioned yet are left out and added when they are (members_pending); members whose disable
or delete is pending in this cycle are left as they are until it is sent.
"""

from dataclasses import dataclass, field

from django.utils import timezone

from provisioning.engine import calls
from provisioning.engine.errors import ObjectFailure, from_scim_error
from provisioning.engine.pipeline import (
    GROUP_KIND,
    Action,
    Skip,
    create,
    determine_scope,
    import_step,
    leave_scope,
    match,
    modified_section,
    update_attributes,
    evaluation_section,
)
from provisioning.engine.source import GROUP, USER
from provisioning.engine.steps import ACTION, FAILURE, SCOPE, SKIPPED, SUCCESS, WARNING, section
from provisioning.models import AttributeMapping, DirectoryUser, ExportState
from provisioning.scim import ScimError, payload, quirks
from provisioning.scim.client import UNCONFIRMED, ci_get

MEMBER_BATCH = 500  # values per membership PATCH, as Entra sends them
NAMED_ROWS = 20  # members named per kind of change in the log entry; the rest are counted


@dataclass
class Membership:
    current: set = field(default_factory=set)
    added: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    rows: list = field(default_factory=list)  # (member, what happened) for the details table
    left_out: int = 0

    @property
    def changed(self):
        return bool(self.added or self.removed)


def batch_size(ctx):
    features = ctx.target_features()
    limit = features.bulk_max_operations if features.bulk and features.bulk_max_operations else None
    return min(MEMBER_BATCH, limit) if limit else MEMBER_BATCH


def group_steps(ctx, source, recorder, result, members=None):
    """members: on demand, the selected members' objectIds (added only); None in a cycle (the whole group)."""
    mapping = ctx.object_mappings.get(GROUP)
    name, app_name = source.name, ctx.application.name

    # 2. Import
    import_step(recorder, source, GROUP_KIND, source.attributes)
    if mapping is None or not mapping.enabled:
        recorder.record(SCOPE, SKIPPED, "Group provisioning is disabled for this application")
        raise Skip("EntrySynchronizationSkipped",
                   f"Group provisioning is disabled in the Mappings of {app_name}: enable Provision Directory Groups to send groups.")

    # 3. Scope: assigned (or Sync all) and the group scoping filters
    in_scope, reason, rows = determine_scope(ctx, source, recorder)
    state = ctx.state(source)
    scope_section = [section("Scoping", ["Condition", "Result", "Detail"], rows)]
    if not in_scope:
        recorder.record(SCOPE, SKIPPED, f"Group '{name}' is out of scope: {reason}", scope_section)
        yield from leave_scope(ctx, source, GROUP_KIND, mapping, state, reason, recorder, result)
        return
    recorder.record(SCOPE, SUCCESS, f"Group '{name}' is in scope: {reason}", scope_section)

    # 4. Match
    target = yield from match(ctx, source, GROUP_KIND, state, recorder, result)

    # 5. Perform action: the group's attributes, then its members
    desired, membership = _desired_members(ctx, source, mapping, members)
    attributes = dict(source.attributes)
    if target is None:
        first = desired[:batch_size(ctx)] if desired and not ctx.application.entra_compatible else []
        created, evaluation = yield from create(ctx, source, GROUP_KIND, attributes, mapping, recorder, result, members=first)
        target_id, changes = result.target_id, []
        is_new = result.action == Action.CREATE
        if desired is not None and result.adopted:  # after a 409 or a lost answer: read what it holds
            membership.current = yield from _current_members(ctx, target_id)
            first = []
        elif first and isinstance(created, dict) and isinstance(created.get("members"), list):
            # Some targets (django-scim2) create the group but ignore the members of the POST: send those by PATCH.
            kept = {m.get("value") for m in created["members"] if isinstance(m, dict)}
            first = [tid for tid in first if tid in kept]
    else:
        target_id, first = target.id, []
        changes, evaluation = yield from update_attributes(ctx, source, GROUP_KIND, attributes, mapping, state, target, recorder, result)
        is_new = False
        if desired is not None:
            if target.resource is None and state is not None and state.linked:
                membership.current = set(state.members)
            else:
                membership.current = yield from _current_members(ctx, target_id)
    export = result.export or {}
    if desired is not None:
        yield from _sync_members(ctx, source, mapping, target_id, desired, membership, members is None, recorder, result, is_new,
                                 sent_in_create=first)
        ours = set(state.members) if state is not None and state.linked and state.target_id == target_id else set()
        export["members"] = sorted((ours | set(membership.added) | (membership.current & set(desired))) - set(membership.removed))
        export["members_pending"] = membership.left_out > 0
    result.export = export
    details = modified_section(result.modified) + _membership_section(membership) + evaluation_section(evaluation)
    left_out = f"; {'; '.join(result.warnings)}" if result.warnings else ""
    done = WARNING if left_out else SUCCESS
    if is_new:
        recorder.record(ACTION, done, f"Group '{name}' was created in {app_name} (id {target_id}){_summary(membership)}{left_out}", details)
    elif not membership.changed and result.warnings and result.action == Action.UPDATE:
        # Every attribute change was refused by the target (a rename on django-scim2): said, not "up to date".
        recorder.record(ACTION, WARNING, f"Nothing was updated in {app_name}{left_out}", details)
    elif changes or membership.changed:
        if result.action == Action.OTHER:
            result.action = Action.UPDATE
        recorder.record(ACTION, done, f"Group '{name}' was updated in {app_name}{_summary(membership)}{left_out}", details)
    else:
        recorder.record(ACTION, SKIPPED, f"The state of the group in both the source and target systems already match{left_out}", details)
        raise Skip("RedundantExport", f"'{name}' is already up to date in {app_name}: nothing to change.",
                   logged=ctx.log_unchanged or bool(left_out))


def _members_are_mapped(mapping):
    return any(
        m.target_attribute == "members" and m.mapping_type != AttributeMapping.MappingType.NONE
        for m in mapping.attribute_mappings.all()
    )


def _desired_members(ctx, source, mapping, selected):
    """(target ids of the members to have, Membership with the left-out rows); (None, …) when members are not mapped."""
    membership = Membership()
    if not _members_are_mapped(mapping):
        return None, membership
    wanted = list(selected) if selected is not None else list(source.members)
    desired, left_out = [], []
    for member in wanted:
        if (USER, member) in ctx.removing:
            continue  # its disable or delete is pending in this cycle: leave its memberships as they are
        target_id = ctx.target_id(USER, member, active_only=True)
        if target_id:
            desired.append(target_id)
        else:
            left_out.append(member)
    membership.left_out = len(left_out)
    _name_rows(membership, [ctx.member_names.get(m, str(m)) for m in left_out], "left out: not provisioned to this app")
    return desired, membership


def _name_rows(membership, names, what):
    """One row per member up to NAMED_ROWS, then one that counts the rest: a log entry stays small."""
    membership.rows += [(name, what) for name in names[:NAMED_ROWS]]
    if len(names) > NAMED_ROWS:
        membership.rows.append((f"… and {len(names) - NAMED_ROWS} more", what))


def _current_members(ctx, target_id):
    """Member ids of the target group (one GET with members: the match read it without them)."""
    try:
        resource = yield calls.get("Groups", target_id)
    except ScimError as exc:
        raise from_scim_error(exc, f"read the members of Group {target_id} in {ctx.application.name}") from exc
    members = ci_get(resource, "members")
    return {m.get("value") for m in members if isinstance(m, dict) and m.get("value")} if isinstance(members, list) else set()


def _sync_members(ctx, source, mapping, target_id, desired, membership, whole_group, recorder, result, is_new, sent_in_create=()):
    """Add (and in a cycle remove) memberships in PATCHes of at most batch_size values (those the create
    carried are not sent again)."""
    if not is_new and not mapping.action_update:
        membership.rows.append(("(all)", "not sent: Update is not ticked in Target Object Actions"))
        return
    membership.added = [tid for tid in dict.fromkeys(desired) if tid not in membership.current]
    if whole_group:
        # Remove only members this portal provisioned: others in the target are not ours to manage.
        ours = _provisioned_by_us(ctx, membership.current - set(desired))
        membership.removed = sorted(ours)
    entra = ctx.application.entra_compatible
    in_create = set(sent_in_create)
    to_add = [tid for tid in membership.added if tid not in in_create]
    batch = batch_size(ctx) if to_add or membership.removed else MEMBER_BATCH
    sent_added, sent_removed = [tid for tid in membership.added if tid in in_create], []
    # Additions and removals travel apart: a target that refuses one kind still gets the other.
    failure = None
    answer = None  # the last membership PATCH's answer: checked against what was sent
    for adds in _chunks(to_add, batch):
        try:
            answer = yield calls.patch("Groups", target_id, payload.member_additions(adds, entra_compatible=entra))
        except ScimError as exc:
            failure = failure or exc
            break
        sent_added += adds
    for removes in _chunks(membership.removed, batch):
        try:
            answer = yield from _remove_members(ctx, target_id, removes)
        except ScimError as exc:
            failure = failure or exc
            break
        sent_removed += removes
    if failure is not None:
        membership.added, membership.removed = sent_added, sent_removed
        _name_rows(membership, _names(ctx, sent_added), "added")
        _name_rows(membership, _names(ctx, sent_removed), "removed")
        recorder.record(ACTION, FAILURE, f"Failed to update the members of Group '{source.name}': {failure}", _membership_section(membership))
        raise from_scim_error(failure, f"update the members of Group '{source.name}' in {ctx.application.name}") from failure
    if to_add or membership.removed:
        if answer is UNCONFIRMED:
            # A 200 with nothing in it says nothing: the group is read back after the last PATCH (as for users).
            answer = yield calls.get("Groups", target_id)
        _check_members_took(ctx, source, membership, answer, sent_added, sent_removed, desired, recorder, result)
    _name_rows(membership, _names(ctx, membership.added), "added")
    _name_rows(membership, _names(ctx, membership.removed), "removed")
    if membership.changed:
        before = len(membership.current)
        after = before + len(membership.added) - len(membership.removed)
        result.modified.append({"name": "members", "old": f"{before} members",
                                "new": f"{after} members (+{len(membership.added)}, −{len(membership.removed)})",
                                "added": len(membership.added), "removed": len(membership.removed)})


def _answered_members(answer):
    """The member ids a group answer shows, or None when it does not show them (no members attribute)."""
    if not isinstance(answer, dict):
        return None
    members = ci_get(answer, "members")
    if not isinstance(members, list):
        return None
    return {str(ci_get(m, "value")) for m in members if isinstance(m, dict) and ci_get(m, "value") is not None}


def _check_members_took(ctx, source, membership, answer, sent_added, sent_removed, desired, recorder, result):
    """The target's answer to the last membership PATCH, when it shows the members, must hold what was added and
    not what was removed; what did not take is logged and left for the next cycle instead of called done."""
    shown = _answered_members(answer)
    if shown is None:
        return
    not_added = [tid for tid in sent_added if str(tid) not in shown]
    not_removed = [tid for tid in sent_removed if str(tid) in shown]
    if not not_added and not not_removed:
        return
    membership.added = [tid for tid in sent_added if str(tid) in shown]
    membership.removed = [tid for tid in sent_removed if str(tid) not in shown]
    _name_rows(membership, _names(ctx, not_added), "not added: the target's answer does not hold it")
    _name_rows(membership, _names(ctx, not_removed), "not removed: the target's answer still holds it")
    export = result.export if result.export is not None else {}
    export["members"] = sorted(((membership.current & set(desired)) | set(membership.added)) - set(membership.removed))
    export["members_pending"] = True
    result.export = export
    app_name = ctx.application.name
    what = " and ".join(part for part in (f"{len(not_added)} member(s) it was asked to add" if not_added else "",
                                          f"{len(not_removed)} member(s) it was asked to remove" if not_removed else "") if part)
    description = (f"{app_name} answered the membership update of Group '{source.name}' with success, but the group it "
                   f"returned does not reflect {what}.")
    recorder.record(ACTION, FAILURE, description, _membership_section(membership))
    raise ObjectFailure(
        "GroupMembershipNotApplied", description,
        f"The target ignored part of the membership change; it is sent again in the next cycle. Check in {app_name} that "
        "these users exist there and may be members of this group, and whether the target needs Entra-compatible "
        "requests (under Provisioning > Settings) for member PATCHes.",
    )


def _remove_members(ctx, target_id, removes):
    """Remove in the form the target takes: `members[value eq "id"]` or a value list; when it refuses one form
    (400/501) the other is tried once, and the one that works is remembered for the app (scim/quirks.py)."""
    entra = ctx.application.entra_compatible
    shape = ctx.quirks.shape(quirks.MEMBER_REMOVAL)
    try:
        return (yield calls.patch("Groups", target_id, payload.member_removals(removes, entra_compatible=entra, shape=shape)))
    except ScimError as exc:
        if exc.status not in (400, 501) or ctx.quirks.learned_shape(quirks.MEMBER_REMOVAL):
            raise
        first = exc
    other = quirks.other_shape(quirks.MEMBER_REMOVAL, shape)
    try:
        answer = yield calls.patch("Groups", target_id, payload.member_removals(removes, entra_compatible=entra, shape=other))
    except ScimError as exc:
        if exc.status in (400, 501):
            raise first from exc  # refused in both forms: the first refusal says most
        raise
    why = (f"{ctx.application.name} refused {quirks.SHAPE_WORDS[(quirks.MEMBER_REMOVAL, shape)]} "
           f"({first.status}) and took the other form")
    ctx.learn(lambda data: quirks.with_shape(data, quirks.MEMBER_REMOVAL, other, why, timezone.now().isoformat()))
    return answer


def _names(ctx, target_ids):
    """Display names of the users behind these target ids (the first NAMED_ROWS + 1 of them)."""
    shown = target_ids[:NAMED_ROWS + 1]
    owners = {tid: ctx.owner_of_target.get((USER, tid)) for tid in shown}
    missing = [tid for tid, owner in owners.items() if owner is None or owner not in ctx.member_names]
    if missing:
        by_target = dict(ExportState.objects.filter(application=ctx.application, object_type=USER, target_id__in=missing)
                         .values_list("target_id", "source_id"))
        owners.update(by_target)
        unknown = [o for o in by_target.values() if o not in ctx.member_names]
        ctx.member_names.update({o: n or u for o, n, u in DirectoryUser.objects.filter(object_id__in=unknown)
                                 .values_list("object_id", "display_name", "user_principal_name")})
    return [ctx.member_names.get(owners.get(tid), tid) for tid in shown] + [""] * (len(target_ids) - len(shown))


def _provisioned_by_us(ctx, target_ids):
    """Which of these target ids are users this app provisioned (export state), in one query."""
    if not target_ids:
        return set()
    known = {tid for (t, tid) in ctx.owner_of_target if t == USER} & set(target_ids)
    unknown = set(target_ids) - known
    if unknown:
        known |= set(ExportState.objects.filter(application=ctx.application, object_type=USER, target_id__in=list(unknown))
                     .values_list("target_id", flat=True))
    return known


def _chunks(values, size):
    return [values[i:i + size] for i in range(0, len(values), size)]


def _membership_section(membership):
    if not membership or not membership.rows:
        return []
    return [section("Members", ["Member", "Result"], membership.rows)]


def _summary(membership):
    if not membership or not membership.changed:
        return ""
    return f": {len(membership.added)} member(s) added, {len(membership.removed)} removed"
