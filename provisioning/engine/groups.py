"""Groups through the same five steps as users, then their memberships.

A straightforward version (batching and scale come with the cycle-engine issue): a group is created
without members, as Entra does, then one PATCH adds the members that are provisioned users (an
anchor that is not disabled) and, in a cycle, removes the members this portal provisioned that have
left the group. Members that are not provisioned yet are left out, as Entra leaves out members who
are out of scope.
"""

from dataclasses import dataclass, field

from provisioning.engine import payload
from provisioning.engine.errors import from_scim_error
from provisioning.engine.pipeline import (
    GROUP,
    USER,
    Action,
    Skip,
    Subject,
    _evaluation_section,
    _modified_section,
    create,
    find_anchor,
    match,
    provision,
    scoping_rows,
    update,
)
from provisioning.engine.steps import ACTION, FAILURE, IMPORT, SCOPE, SKIPPED, SUCCESS, display, section
from provisioning.models import AttributeMapping, DirectoryUser, TargetAnchor
from provisioning.scim import ScimError
from provisioning.scoping import evaluate_scope


@dataclass
class Membership:
    current: set = field(default_factory=set)
    added: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    rows: list = field(default_factory=list)  # (member, what happened) for the details table

    @property
    def changed(self):
        return bool(self.added or self.removed)


def provision_group(ctx, group, *, members=None, on_change=None, connection_failure=None):
    """Push one directory group through the steps; returns its log entry.

    members: the source users whose membership is sent — on demand, the selected ones (added only);
    None in a cycle: every member (added and removed).
    """
    subject = Subject.of_group(group)
    return provision(
        ctx, subject, lambda recorder, outcome: _run_steps(ctx, group, subject, recorder, outcome, members),
        on_change=on_change, connection_failure=connection_failure,
    )


def _run_steps(ctx, group, subject, recorder, outcome, members):
    object_mapping = ctx.object_mappings.get(GROUP)
    name, app_name = subject.name, ctx.application.name

    # 2. Import
    attributes = group.source_attributes()
    shown = {k: (f"{len(v)} members" if k == "members" else v) for k, v in attributes.items()}
    recorder.record(IMPORT, SUCCESS, f"Retrieved Group '{name}' from the directory",
                    [section("Imported attributes", ["Attribute", "Value"], sorted(shown.items()))])
    if object_mapping is None or not object_mapping.enabled:
        recorder.record(SCOPE, SKIPPED, "Group provisioning is disabled for this application")
        raise Skip("EntrySynchronizationSkipped",
                   f"Group provisioning is disabled in the Mappings of {app_name}: enable Provision Directory Groups to send groups.")

    # 3. Scope: assigned (or Sync all) and the group scoping filters
    assigned = ctx.sync_all or group.pk in ctx.assigned_group_ids
    decision = evaluate_scope(ctx.scoping_filters(GROUP), {k: v for k, v in attributes.items() if k != "members"})
    rows = [
        ("Assigned to application", "Passed" if group.pk in ctx.assigned_group_ids else ("Not needed" if ctx.sync_all else "Failed"), ""),
        ("Scope sync all", display(ctx.sync_all), ctx.application.get_scope_display()),
        *scoping_rows(decision),
    ]
    reason = decision.reason if assigned else "the group is not assigned to the application"
    if not (assigned and decision.in_scope):
        recorder.record(SCOPE, SKIPPED, f"Group '{name}' is out of scope: {reason}", [section("Scoping", ["Condition", "Result", "Detail"], rows)])
        raise Skip("EntrySynchronizationSkipped", f"Group '{name}' is not in scope: {reason}")
    recorder.record(SCOPE, SUCCESS, f"Group '{name}' is in scope: {reason}", [section("Scoping", ["Condition", "Result", "Detail"], rows)])

    # 4. Match
    target = match(ctx, subject, attributes, find_anchor(ctx, subject), object_mapping, recorder, True)

    # 5. Perform action: the group's attributes, then its members
    if target is None:
        target, evaluation = create(ctx, subject, attributes, object_mapping, recorder, outcome)
        changes, created = [], True
    else:
        outcome.target_id = target["id"]
        changes, evaluation = update(ctx, subject, attributes, object_mapping, target, recorder, outcome)
        created = False
    membership = _sync_members(ctx, group, object_mapping, target["id"], members, recorder, outcome, created)
    details = _modified_section(outcome.modified) + _membership_section(membership) + _evaluation_section(evaluation)
    if created:
        recorder.record(ACTION, SUCCESS, f"Group '{name}' was created in {app_name} (id {target['id']}){_summary(membership)}", details)
    elif changes or (membership and membership.changed):
        outcome.action = Action.UPDATE
        recorder.record(ACTION, SUCCESS, f"Group '{name}' was updated in {app_name}{_summary(membership)}", details)
    else:
        recorder.record(ACTION, SKIPPED, "The state of the group in both the source and target systems already match", details)
        raise Skip("RedundantExport", f"'{name}' is already up to date in {app_name}: nothing to change.")


def _members_are_mapped(object_mapping):
    return any(
        m.target_attribute == "members" and m.mapping_type != AttributeMapping.MappingType.NONE
        for m in object_mapping.attribute_mappings.all()
    )


def _sync_members(ctx, group, object_mapping, target_id, members, recorder, outcome, created):
    """Add (and in a cycle remove) memberships with one PATCH; None when members are not mapped."""
    if not _members_are_mapped(object_mapping):
        return None
    if not created and not object_mapping.action_update:
        return Membership(rows=[("(all)", "not sent: Update is not ticked in Target Object Actions")])
    sources = list(members) if members is not None else list(group.members.all())
    anchors = dict(
        TargetAnchor.objects.filter(
            application=ctx.application, object_type=USER, disabled=False, source_id__in=[u.object_id for u in sources]
        ).values_list("source_id", "target_id")
    )
    membership = Membership()
    desired = {}
    for user in sources:
        if user.object_id in anchors:
            desired[anchors[user.object_id]] = user
        else:
            membership.rows.append((user.display_name or user.user_principal_name, "left out: not provisioned to this app"))
    if not created:
        membership.current = _current_members(ctx, target_id)
    membership.added = [tid for tid in desired if tid not in membership.current]
    membership.rows += [(desired[tid].display_name or desired[tid].user_principal_name, "added") for tid in membership.added]
    if members is None:
        # Remove only members this portal provisioned: others in the target are not ours to manage.
        ours = dict(
            TargetAnchor.objects.filter(application=ctx.application, object_type=USER, target_id__in=membership.current)
            .values_list("target_id", "source_id")
        )
        membership.removed = [tid for tid in membership.current if tid in ours and tid not in desired]
        names = dict(DirectoryUser.objects.filter(object_id__in=[ours[t] for t in membership.removed]).values_list("object_id", "display_name"))
        membership.rows += [(names.get(ours[tid]) or tid, "removed") for tid in membership.removed]
    if membership.changed:
        operations = payload.membership_operations(membership.added, membership.removed, entra_compatible=ctx.application.entra_compatible)
        try:
            ctx.client.patch("Groups", target_id, operations)
        except ScimError as exc:
            recorder.record(ACTION, FAILURE, f"Failed to update the members of Group '{group.display_name}': {exc}", _membership_section(membership))
            raise from_scim_error(exc, f"update the members of Group '{group.display_name}' in {ctx.application.name}") from exc
        before = len(membership.current)
        after = before + len(membership.added) - len(membership.removed)
        outcome.modified.append({"name": "members", "old": f"{before} members", "new": f"{after} members (+{len(membership.added)}, −{len(membership.removed)})"})
    return membership


def _current_members(ctx, target_id):
    """Member ids of the target group (one GET with members: the match read it without them)."""
    resource = ctx.client.get("Groups", target_id)
    return {m.get("value") for m in resource.get("members") or [] if m.get("value")}


def _membership_section(membership):
    if not membership or not membership.rows:
        return []
    return [section("Members", ["Member", "Result"], membership.rows)]


def _summary(membership):
    if not membership or not membership.changed:
        return ""
    return f": {len(membership.added)} member(s) added, {len(membership.removed)} removed"
