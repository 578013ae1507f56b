"""The cycle planner: which objects need work in which phase, written as chunks of a few hundred.

    users       every relevant user (initial) or the changed ones (incremental), by manager level
    groups      the relevant or changed groups, with their memberships
    members     groups not in the groups phase whose members' export state changed (a member created,
                disabled or deleted), or that wait for members not provisioned yet
    references  users whose manager had no target object when they were exported, now resolvable
    removals    the disables and deletes the earlier phases decided, and the hard-deleted objects

Users and groups are planned when the cycle starts; the later phases when the one before is done,
because they depend on its results. The planner streams ids from the database and keeps none of them
once their chunks are written. "Changed" means `updated_at` after the cycle's watermark (the directory
marks membership and assignment changes there too: provisioning.directory_changes), or due in escrow.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from provisioning.engine import deletion_protection
from provisioning.engine.source import GROUP, USER
from provisioning.models import (
    Application,
    Assignment,
    CycleChunk,
    DeletedDirectoryObject,
    DirectoryGroup,
    DirectoryUser,
    Escrow,
    ExportState,
    ObjectMapping,
    PendingRemoval,
    ProvisioningCycle,
)

Phase = ProvisioningCycle.Phase
PHASES = [Phase.USERS, Phase.GROUPS, Phase.MEMBERS, Phase.REFERENCES, Phase.REMOVALS]
# A row saved in the moment the watermark is taken could commit with an earlier updated_at: re-read a
# little before the watermark. Re-reading an unchanged object costs no request.
WATERMARK_MARGIN = timedelta(seconds=5)
# A step is shared between the parallel workers only when each gets at least this many objects.
MIN_SHARED = 50
Membership = DirectoryGroup.members.through


def step_of(phase, level=0):
    return PHASES.index(phase) * 1000 + level


def chunk_size():
    return settings.PROVISIONING_CHUNK_SIZE


def _since(cycle):
    if cycle.kind == ProvisioningCycle.Kind.INITIAL or cycle.watermark_from is None:
        return None
    return cycle.watermark_from - WATERMARK_MARGIN


def _enabled(app, object_type):
    return ObjectMapping.objects.filter(application=app, object_type=object_type, enabled=True).exists()


def _linked(app, object_type):
    return ExportState.objects.filter(application=app, object_type=object_type).exclude(target_id="").values("source_id")


def _escrow_due(app, object_type, now):
    return Escrow.objects.filter(application=app, object_type=object_type, next_retry_at__lte=now, source_pk__isnull=False)


def _waiting(app, object_type, now):
    """An escrowed object that is not due and has not changed since it failed waits for its retry time, even
    inside the watermark margin (a failure costs a request each time; an unchanged export costs none)."""
    return Escrow.objects.filter(application=app, object_type=object_type, source_pk=OuterRef("pk"), reference=False,
                                 next_retry_at__gt=now, last_failed_at__gte=OuterRef("updated_at"))


def user_candidates(cycle):
    """The pks of the users this cycle evaluates (a queryset)."""
    app = cycle.application
    users = DirectoryUser.objects.all()
    if app.scope != Application.Scope.ALL:
        assigned_groups = Assignment.objects.filter(application=app, group__isnull=False).values("group_id")
        users = users.filter(
            Q(pk__in=Assignment.objects.filter(application=app, user__isnull=False).values("user_id"))
            | Q(pk__in=Membership.objects.filter(directorygroup_id__in=assigned_groups).values("directoryuser_id"))
            | Q(object_id__in=_linked(app, USER))
        )
    since = _since(cycle)
    if since is not None:
        now = timezone.now()
        due = _escrow_due(app, USER, now).filter(reference=False).values("source_pk")
        users = users.filter((Q(updated_at__gt=since) & ~Exists(_waiting(app, USER, now))) | Q(pk__in=due))
    return users


def group_candidates(cycle):
    app = cycle.application
    if not _enabled(app, GROUP):
        return DirectoryGroup.objects.none()
    groups = DirectoryGroup.objects.all()
    if app.scope != Application.Scope.ALL:
        groups = groups.filter(
            Q(pk__in=Assignment.objects.filter(application=app, group__isnull=False).values("group_id"))
            | Q(object_id__in=_linked(app, GROUP))
        )
    since = _since(cycle)
    if since is not None:
        now = timezone.now()
        due = _escrow_due(app, GROUP, now).values("source_pk")
        pending = ExportState.objects.filter(application=app, object_type=GROUP, members_pending=True).values("source_id")
        groups = groups.filter((Q(updated_at__gt=since) & ~Exists(_waiting(app, GROUP, now))) | Q(pk__in=due)
                               | Q(object_id__in=pending))
    return groups


def manager_levels(pairs):
    """{pk: level}: 0 when the manager is not among these users, else one more than the manager's.

    A loop in the manager chain (A manages B manages A) is cut: its users get the level reached so far,
    and the reference pass links whichever manager did not exist yet."""
    manager_of = dict(pairs)
    levels = {}
    for start in manager_of:
        path, node = [], start
        while node in manager_of and node not in levels and node not in path:
            path.append(node)
            node = manager_of[node]
            if node is None or node not in manager_of:
                break
        base = levels.get(node, -1) if node in manager_of and node not in path else -1
        for offset, pk in enumerate(reversed(path), start=1):
            levels[pk] = base + offset
    return levels


def _parallel(cycle):
    from provisioning.engine.chunks import parallel_chunks

    return parallel_chunks(cycle.application)


def _split(ids, cycle):
    """Even slices of at most chunk_size; at least one per parallel worker when there is enough to share,
    so that no worker idles while another finishes a step alone."""
    size, parallel = chunk_size(), _parallel(cycle)
    count = -(-len(ids) // size)
    if count < parallel and len(ids) >= parallel * MIN_SHARED:
        count = parallel
    count = max(1, count)
    bounds = [round(i * len(ids) / count) for i in range(count + 1)]
    return [ids[bounds[i]:bounds[i + 1]] for i in range(count)]


def _write_chunks(cycle, phase, ids, *, step=0, level=0):
    rows = [CycleChunk(cycle=cycle, phase=phase, step=step_of(phase, step), level=level, object_ids=part, total=len(part))
            for part in _split(ids, cycle) if part]
    CycleChunk.objects.bulk_create(rows, batch_size=500)
    return len(ids)


def plan_users(cycle):
    """Managers first: one step per manager level, except that consecutive small levels share a chunk (run
    level after level inside it), which saves a round trip through the broker per level."""
    if not _enabled(cycle.application, USER):
        return 0
    pairs = list(user_candidates(cycle).order_by("pk").values_list("pk", "manager_id"))
    levels = manager_levels(pairs)
    by_level = {}
    for pk, _ in pairs:
        by_level.setdefault(levels[pk], []).append(pk)
    del pairs
    step, rows, merged, merged_sizes = 0, [], [], []

    def close_merged():
        nonlocal step, merged, merged_sizes
        if merged:
            rows.append(CycleChunk(cycle=cycle, phase=Phase.USERS, step=step_of(Phase.USERS, step), level=step,
                                   object_ids=merged, total=len(merged), level_sizes=merged_sizes))
            step += 1
            merged, merged_sizes = [], []

    for _, ids in sorted(by_level.items()):
        if len(ids) < MIN_SHARED * _parallel(cycle) and len(merged) + len(ids) <= chunk_size():
            merged += ids
            merged_sizes.append(len(ids))
            continue
        close_merged()
        rows += [CycleChunk(cycle=cycle, phase=Phase.USERS, step=step_of(Phase.USERS, step), level=step, object_ids=part, total=len(part))
                 for part in _split(ids, cycle)]
        step += 1
    close_merged()
    CycleChunk.objects.bulk_create(rows, batch_size=500)
    return sum(len(ids) for ids in by_level.values())


def plan_groups(cycle):
    ids = list(group_candidates(cycle).order_by("pk").values_list("pk", flat=True))
    return _write_chunks(cycle, Phase.GROUPS, ids)


def plan_members(cycle):
    """Groups whose members' export state changed since the last cycle looked at memberships (created,
    disabled, deleted later in that cycle, in this one or by on-demand runs), or that wait for members that
    were not provisioned yet."""
    app = cycle.application
    cycle.members_checked_at = timezone.now()
    if not _enabled(app, GROUP):
        return 0
    previous = (ProvisioningCycle.objects.filter(application=app, state="completed", members_checked_at__isnull=False)
                .exclude(pk=cycle.pk).order_by("-members_checked_at").values_list("members_checked_at", flat=True).first())
    # No margin here: the engine's own export-state writes are committed before a phase is planned.
    since = previous or cycle.started_at
    changed_users = ExportState.objects.filter(application=app, object_type=USER, updated_at__gt=since).values("source_id")
    linked_groups = _linked(app, GROUP)
    done = CycleChunk.objects.filter(cycle=cycle, phase=Phase.GROUPS).values_list("object_ids", flat=True)
    already = {pk for ids in done for pk in ids}
    candidates = DirectoryGroup.objects.filter(object_id__in=linked_groups).filter(
        Q(pk__in=Membership.objects.filter(directoryuser__object_id__in=changed_users).values("directorygroup_id"))
        | Q(object_id__in=ExportState.objects.filter(application=app, object_type=GROUP, members_pending=True).values("source_id"))
    )
    ids = [pk for pk in candidates.order_by("pk").values_list("pk", flat=True) if pk not in already]
    return _write_chunks(cycle, Phase.MEMBERS, ids)


def plan_references(cycle):
    """Users exported without their manager, whose manager now has a target object."""
    app = cycle.application
    pending = []
    for source_id, manager in (ExportState.objects.filter(application=app, object_type=USER).exclude(reference_pending="")
                               .exclude(target_id="").values_list("source_id", "reference_pending")):
        try:
            pending.append((source_id, uuid.UUID(manager)))
        except ValueError:
            continue
    managers = list({manager for _, manager in pending})
    resolvable = set()
    for i in range(0, len(managers), 5000):
        resolvable |= set(ExportState.objects.filter(application=app, object_type=USER, source_id__in=managers[i:i + 5000])
                          .exclude(target_id="").values_list("source_id", flat=True))
    source_ids = [source_id for source_id, manager in pending if manager in resolvable]
    ids = []
    for i in range(0, len(source_ids), 5000):
        ids += DirectoryUser.objects.filter(object_id__in=source_ids[i:i + 5000]).values_list("pk", flat=True)
    return _write_chunks(cycle, Phase.REFERENCES, sorted(ids))


def plan_removals(cycle):
    """The decided disables and deletes, plus the hard-deleted objects this app provisioned."""
    app = cycle.application
    rows = []
    for object_type, model in ((USER, DirectoryUser), (GROUP, DirectoryGroup)):
        mapping = ObjectMapping.objects.filter(application=app, object_type=object_type, enabled=True).first()
        if mapping is None:
            continue
        tombstoned = DeletedDirectoryObject.objects.filter(object_type=object_type).values("object_id")
        gone = (ExportState.objects.filter(application=app, object_type=object_type, source_id__in=tombstoned)
                .exclude(source_id__in=model.objects.values("object_id")))
        gone.filter(target_id="").delete()  # reservations of objects that no longer exist
        gone = gone.exclude(target_id="")
        delete = object_type == GROUP or mapping.action_delete
        if not mapping.action_delete:
            # Without Delete, a deleted user is disabled once (and a group left alone): not every cycle again.
            gone = gone.filter(disabled=False) if object_type == USER else gone.none()
        removal = PendingRemoval.Removal.DELETE if delete else PendingRemoval.Removal.DISABLE
        for source_id in gone.values_list("source_id", flat=True):
            rows.append(PendingRemoval(cycle=cycle, object_type=object_type, source_id=source_id, source_pk=None,
                                       removal=removal, reason=f"the {object_type} was deleted from the directory"))
    PendingRemoval.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    if cycle.force_deletes:
        deletion_protection.take_held(cycle)
    if deletion_protection.hold_if_too_many(cycle):
        return 0
    ids = list(PendingRemoval.objects.filter(cycle=cycle, staged=False).order_by("pk").values_list("pk", flat=True))
    return _write_chunks(cycle, Phase.REMOVALS, ids)


PLANNERS = {
    Phase.USERS: plan_users,
    Phase.GROUPS: plan_groups,
    Phase.MEMBERS: plan_members,
    Phase.REFERENCES: plan_references,
    Phase.REMOVALS: plan_removals,
}


def plan_start(cycle):
    """Users and groups, when the cycle starts; returns how many objects they hold. Allow deletes (a cycle
    of ForceDeletes alone) sends the held removals and nothing else."""
    planned = 0 if removals_only(cycle) else plan_users(cycle) + plan_groups(cycle)
    cycle.planned_phase = Phase.GROUPS
    return planned


def removals_only(cycle):
    return cycle.force_deletes and cycle.restart_scopes == "ForceDeletes"


def plan_next(cycle):
    """Plan the phases after cycle.planned_phase until one has work; returns that phase, or None when all are planned."""
    start = PHASES.index(cycle.planned_phase) + 1 if cycle.planned_phase else 0
    for phase in PHASES[start:]:
        if removals_only(cycle) and phase != Phase.REMOVALS:
            cycle.planned_phase = phase
            continue
        planned = PLANNERS[phase](cycle)
        cycle.planned_phase = phase
        if planned:
            return phase
    return None
