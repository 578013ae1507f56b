"""Provisioning cycles: every in-scope user, and every previously provisioned user, through the pipeline.

A straightforward cycle (scale, quarantine and escrow come later): users in id order, then groups
and their memberships; it checks for Stop between objects and advances the watermark only when it
completes.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from provisioning.engine.connection import test_connection
from provisioning.engine.context import INITIATED_BY, RunContext
from provisioning.engine.groups import provision_group
from provisioning.engine.pipeline import USER, provision_user
from provisioning.models import Application, DirectoryGroup, DirectoryUser, ProvisioningCycle, TargetAnchor

PROGRESS_EVERY = 10  # objects between progress writes: the bar moves without a write per object


class ProvisioningNotConfigured(ValueError):
    """Start provisioning was asked of an app that cannot provision yet; the message says what to fix."""


def start_provisioning(app, *, requested_by=None):
    """Provisioning Status On, and a queued cycle (initial until one has completed)."""
    missing = []
    if app.provisioning_mode != Application.Mode.AUTOMATIC:
        missing.append("set Provisioning Mode to Automatic")
    if not app.tenant_url:
        missing.append("enter the Tenant URL")
    if not app.has_secret_token:
        missing.append("enter the Secret Token")
    if missing:
        raise ProvisioningNotConfigured(
            "Provisioning cannot start yet: on the Provisioning page, " + ", ".join(missing) + ", then Save."
        )
    with transaction.atomic():
        app = Application.objects.select_for_update().get(pk=app.pk)
        active = app.cycles.filter(state__in=[ProvisioningCycle.State.QUEUED, ProvisioningCycle.State.RUNNING]).first()
        app.provisioning_enabled = True
        if app.job_status in (Application.JobStatus.NOT_CONFIGURED, Application.JobStatus.PAUSED):
            app.job_status = Application.JobStatus.ACTIVE if app.watermark else Application.JobStatus.NOT_RUN
        app.save(update_fields=["provisioning_enabled", "job_status"])
        if active:
            return active
        kind = ProvisioningCycle.Kind.INCREMENTAL if app.watermark else ProvisioningCycle.Kind.INITIAL
        return ProvisioningCycle.objects.create(application=app, kind=kind, requested_by=requested_by)


def stop_provisioning(app, *, requested_by=None):
    """Provisioning Status Off; a running cycle stops at its next progress write (≤ PROGRESS_EVERY objects), a queued one never starts."""
    with transaction.atomic():
        Application.objects.filter(pk=app.pk).update(
            provisioning_enabled=False, job_status=Application.JobStatus.PAUSED, next_cycle_at=None
        )
        app.cycles.filter(state=ProvisioningCycle.State.RUNNING).update(stop_requested=True)
        app.cycles.filter(state=ProvisioningCycle.State.QUEUED).update(
            state=ProvisioningCycle.State.STOPPED, finished_at=timezone.now()
        )


def cycle_subjects(app, ctx):
    """In-scope candidates (assigned, or everyone with Sync all) plus users already in the target."""
    anchored = TargetAnchor.objects.filter(application=app, object_type=USER).values("source_id")
    users = DirectoryUser.objects.select_related("manager")
    if ctx.sync_all:
        return users.order_by("id")
    return users.filter(Q(pk__in=ctx.assigned_user_ids) | Q(object_id__in=anchored)).order_by("id")


def cycle_groups(app, ctx):
    """Groups after users, so their members can be linked: assigned groups, or all with Sync all."""
    groups = DirectoryGroup.objects.prefetch_related("members")
    if ctx.sync_all:
        return groups.order_by("id")
    return groups.filter(pk__in=ctx.assigned_group_ids).order_by("id")


def run_cycle(cycle):
    """Run a queued cycle to the end (or to Stop). Safe to call twice: only the first call claims it."""
    claimed = ProvisioningCycle.objects.filter(pk=cycle.pk, state=ProvisioningCycle.State.QUEUED).update(
        state=ProvisioningCycle.State.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return cycle
    cycle.refresh_from_db()
    app = cycle.application
    ctx = RunContext(application=app, initiated_by=INITIATED_BY.CYCLE, cycle=cycle,
                     initiated_by_user=cycle.requested_by.get_username() if cycle.requested_by else "")
    logs = []
    try:
        connection = test_connection(app)
        if not connection.ok:
            return _finish(cycle, ProvisioningCycle.State.FAILED, f"Test connection failed: {connection.message} {connection.fix}", logs)
        users = list(cycle_subjects(app, ctx))
        groups = list(cycle_groups(app, ctx))
        work = [(provision_user, user) for user in users] + [(provision_group, group) for group in groups]
        ProvisioningCycle.objects.filter(pk=cycle.pk).update(total_units=len(work))
        for done, (provision_object, subject) in enumerate(work, start=1):
            logs.append(provision_object(ctx, subject))
            if done % PROGRESS_EVERY == 0 or done == len(work):
                ProvisioningCycle.objects.filter(pk=cycle.pk).update(completed_units=done)
                if ProvisioningCycle.objects.filter(pk=cycle.pk, stop_requested=True).exists():
                    return _finish(cycle, ProvisioningCycle.State.STOPPED, "", logs)
        return _finish(cycle, ProvisioningCycle.State.COMPLETED, "", logs, watermark_at_start=app.watermark)
    except Exception as exc:
        _finish(cycle, ProvisioningCycle.State.FAILED, f"The cycle stopped unexpectedly: {exc}", logs)
        raise
    finally:
        ctx.close()


def _finish(cycle, state, error, logs, watermark_at_start=None):
    now = timezone.now()
    ProvisioningCycle.objects.filter(pk=cycle.pk).update(state=state, error=error, finished_at=now)
    app_rows = Application.objects.filter(pk=cycle.application_id)
    if state == ProvisioningCycle.State.COMPLETED:
        # Conditional: a mapping or scoping change saved during the cycle cleared the watermark so that
        # the next cycle re-evaluates everyone; advancing it here would lose that.
        app_rows.filter(watermark=watermark_at_start).update(watermark=cycle.started_at)
    still_on = app_rows.filter(provisioning_enabled=True)
    status = {"job_status": Application.JobStatus.ACTIVE} if state == ProvisioningCycle.State.COMPLETED else {}
    still_on.update(next_cycle_at=now + timezone.timedelta(minutes=settings.PROVISIONING_INTERVAL_MINUTES), **status)
    cycle.refresh_from_db()
    from provisioning.notifications import notify_cycle_failure, notify_failures

    if state == ProvisioningCycle.State.FAILED:
        notify_cycle_failure(cycle.application, cycle)
    else:
        notify_failures(cycle.application, logs, cycle=cycle)
    return cycle


def queue_due_cycles(now=None):
    """Queue an incremental cycle for every app whose provisioning is On and whose next cycle is due."""
    now = now or timezone.now()
    queued = []
    for app in Application.objects.filter(provisioning_enabled=True, next_cycle_at__lte=now):
        with transaction.atomic():
            # Conditional update: two beat ticks (or two beats) cannot both queue one.
            taken = Application.objects.filter(pk=app.pk, next_cycle_at=app.next_cycle_at).update(next_cycle_at=None)
            if taken and not app.cycles.filter(state__in=[ProvisioningCycle.State.QUEUED, ProvisioningCycle.State.RUNNING]).exists():
                kind = ProvisioningCycle.Kind.INCREMENTAL if app.watermark else ProvisioningCycle.Kind.INITIAL
                queued.append(ProvisioningCycle.objects.create(application=app, kind=kind))
    return queued
