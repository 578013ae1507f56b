"""Changes in seconds: a directory change is provisioned to every app without waiting for the next cycle.

A committed change (a user or group saved or deleted, a membership, an assignment — whatever moves
`updated_at`, provisioning.directory_changes) marks each app that syncs changes immediately as due in a
second (`change_sync_due_at`, a conditional UPDATE: ten edits in a second mark it once). The change task
then queues an incremental cycle initiated by the change: the same planner and pipeline as every cycle,
so it takes exactly what changed since the watermark, sends nothing for what its export state says is
unchanged, and logs its entries with *Initiated by: change*. While another cycle of the app is queued or
running the mark stays and the task looks again shortly: a change that arrives during a cycle is taken by
the cycle after it (its watermark is older than the change), never lost and never sent twice.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from provisioning.models import Application, ProvisioningCycle, RunState

COALESCE = timedelta(seconds=1)  # changes within this second travel together
RECHECK_SECONDS = 3  # while the app's cycle runs


def syncing_apps():
    """Apps whose directory changes go out at once: on, an initial cycle done, not in quarantine."""
    return Application.objects.filter(provisioning_enabled=True, sync_changes_immediately=True, watermark__isnull=False) \
        .exclude(job_status=Application.JobStatus.QUARANTINE)


def mark_changed(now=None):
    """The directory changed (called after commit): mark the apps due; True when the change task must be sent
    (no app was marked already)."""
    now = now or timezone.now()
    return syncing_apps().filter(change_sync_due_at__isnull=True).update(change_sync_due_at=now + COALESCE) > 0


def queue_change_cycles(now=None):
    """Queue a change cycle for each due app that has no cycle active; returns (queued cycles, seconds until the
    change task should look again, or None when no app is waiting)."""
    now = now or timezone.now()
    queued, delays = [], []
    for app in Application.objects.filter(change_sync_due_at__isnull=False).order_by("pk"):
        if app.change_sync_due_at > now:
            delays.append((app.change_sync_due_at - now).total_seconds())
            continue
        with transaction.atomic():
            locked = Application.objects.select_for_update().filter(pk=app.pk).first()
            if locked is None or locked.change_sync_due_at is None:
                continue
            if not syncing_apps().filter(pk=app.pk).exists():
                Application.objects.filter(pk=app.pk).update(change_sync_due_at=None)  # turned off meanwhile
                continue
            if locked.cycles.filter(state__in=(RunState.QUEUED, RunState.RUNNING)).exists():
                delays.append(RECHECK_SECONDS)  # the cycle after this one takes the change
                continue
            Application.objects.filter(pk=app.pk).update(change_sync_due_at=None)
            queued.append(ProvisioningCycle.objects.create(application=locked, kind=ProvisioningCycle.Kind.INCREMENTAL,
                                                           initiated_by_change=True))
    return queued, (max(0.1, min(delays)) if delays else None)


def last_change_sync(app):
    return app.cycles.filter(initiated_by_change=True).filter(~Q(state=RunState.QUEUED)).order_by("-created_at").first()
