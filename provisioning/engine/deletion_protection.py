"""Accidental-deletion prevention, as Entra's: a cycle's disables and deletes are counted together before any
is sent; at or over the app's threshold, none of them is sent.

The held ones stay as staged PendingRemoval rows, each logged with Action StagedDelete and its reason
("not assigned", "out of scope: filter X clause Y", "deleted from the directory"); the job is quarantined
with TooManyDeletes and one email goes out. The rest of the cycle (creates, updates) has already run.
Allow deletes sends exactly the held ones (a cycle with force_deletes and nothing else); Reject drops them
and pauses the job until the admin fixes the cause and restarts.
"""

from django.db import transaction
from django.utils import timezone

from provisioning import webhooks
from provisioning.engine import bulk_write, quarantine
from provisioning.engine.steps import ACTION, SKIPPED, STEP_NAMES
from provisioning.models import Application, DeletedDirectoryObject, DirectoryGroup, DirectoryUser, PendingRemoval, ProvisioningLog

Removal = PendingRemoval.Removal


def held(app):
    return PendingRemoval.objects.filter(cycle__application=app, staged=True)


def take_held(cycle):
    """A force_deletes cycle takes over the app's held removals (once each)."""
    app = cycle.application
    already = set(PendingRemoval.objects.filter(cycle=cycle).values_list("object_type", "source_id"))
    rows = held(app).exclude(cycle=cycle)
    duplicates = [r.pk for r in rows if (r.object_type, r.source_id) in already]
    PendingRemoval.objects.filter(pk__in=duplicates).delete()
    rows.update(cycle=cycle, staged=False)


def hold_if_too_many(cycle):
    """Stage this cycle's removals when they reach the threshold; True when they were held."""
    app = cycle.application
    if not app.prevent_accidental_deletions or cycle.force_deletes:
        return False
    pending = PendingRemoval.objects.filter(cycle=cycle, staged=False)
    counts = {row: 0 for row in Removal.values}
    for removal in pending.values_list("removal", flat=True):
        counts[removal] += 1
    total = sum(counts.values())
    if total < app.deletion_threshold:
        return False
    with transaction.atomic():
        pending.update(staged=True)
        _log_held(cycle, PendingRemoval.objects.filter(cycle=cycle, staged=True), total)
    quarantine.enter(app, *quarantine.for_deletes(app, counts[Removal.DISABLE], counts[Removal.DELETE]), cycle=cycle)
    webhooks.deletions_staged(cycle, counts[Removal.DISABLE], counts[Removal.DELETE])
    return True


def _log_held(cycle, rows, total):
    app = cycle.application
    rows = list(rows)
    names = {}
    for model, object_type in ((DirectoryUser, "user"), (DirectoryGroup, "group")):
        ids = [r.source_id for r in rows if r.object_type == object_type]
        for chunk in range(0, len(ids), 5000):
            for object_id, name, upn in model.objects.filter(object_id__in=ids[chunk:chunk + 5000]).values_list(
                    "object_id", "display_name", "user_principal_name" if model is DirectoryUser else "display_name"):
                names[object_id] = (name, upn if model is DirectoryUser else "")
    gone = [r.source_id for r in rows if r.source_id not in names]
    for tombstone in DeletedDirectoryObject.objects.filter(object_id__in=gone):
        names[tombstone.object_id] = (tombstone.display_name, tombstone.user_principal_name)
    now = timezone.now()
    entries = []
    for row in rows:
        name, upn = names.get(row.source_id, (str(row.source_id), ""))
        verb = "disabled" if row.removal == Removal.DISABLE else "deleted"
        description = (f"Held back: {row.object_type} '{name or upn}' would have been {verb} in {app.name} because {row.reason}. "
                       f"This cycle's disables and deletes ({total:,}) reached the accidental deletion threshold "
                       f"({app.deletion_threshold:,}), so none of them was sent.")
        entries.append(ProvisioningLog(
            application=app, cycle=cycle, initiated_by=ProvisioningLog.InitiatedBy.CYCLE, created_at=now,
            object_type=row.object_type, source_id=str(row.source_id), source_display_name=name or "", source_upn=upn or "",
            action=ProvisioningLog.Action.STAGED_DELETE, status=ProvisioningLog.Status.SKIPPED,
            error_code="AccidentalDeletionThreshold", error_description=description,
            recommended_fix="On the Overview, Allow deletes if they are intended; otherwise Reject, fix the cause and Restart provisioning.",
            steps=[{"key": ACTION, "name": STEP_NAMES[ACTION], "status": SKIPPED, "description": description, "sections": []}],
        ))
    bulk_write.insert(ProvisioningLog, entries)


def reject(app, by=""):
    """Drop the held removals; the job stays paused until the cause is fixed and provisioning restarted."""
    with transaction.atomic():
        count = held(app).count()
        held(app).delete()
        quarantine.lift(app, f"Reject: {count} held disables and deletes dropped", by=by)
        Application.objects.filter(pk=app.pk).update(
            provisioning_enabled=False, job_status=Application.JobStatus.PAUSED, next_cycle_at=None)
    return count
