"""Provision on demand: one user, or a group and up to five of its members, through the same pipeline as cycles."""

from django.db import transaction
from django.utils import timezone

from provisioning.engine import lifecycle, source
from provisioning.engine.connection import test_connection
from provisioning.engine.context import INITIATED_BY, RunContext
from provisioning.engine.pipeline import provision_now
from provisioning.models import Application, DirectoryGroup, DirectoryUser, OnDemandRun, ProvisioningLog


class OnDemandRequestError(ValueError):
    """A request that cannot be provisioned; the message says why and what to do."""


def _require_configured(app):
    if app.provisioning_mode != Application.Mode.AUTOMATIC or not app.tenant_url or not app.has_credentials:
        raise OnDemandRequestError(
            "Provisioning is not configured: set Provisioning Mode to Automatic with a Tenant URL and "
            "Admin Credentials (Secret Token, Audience or OAuth client) on the Provisioning page first."
        )


def request_on_demand(app, *, user_ids=(), group_id=None, requested_by=None):
    """Validate the selection and create a queued run (the caller enqueues the task on commit)."""
    _require_configured(app)
    user_ids = [int(i) for i in user_ids]
    group = None
    if group_id is not None:
        group = DirectoryGroup.objects.filter(pk=group_id).first()
        if group is None:
            raise OnDemandRequestError("That group no longer exists in the directory: search for the group again.")
        if not user_ids:
            raise OnDemandRequestError(f"Select the members of '{group.display_name}' to provision (up to {OnDemandRun.MAX_GROUP_MEMBERS}).")
        if len(user_ids) > OnDemandRun.MAX_GROUP_MEMBERS:
            raise OnDemandRequestError(
                f"Select at most {OnDemandRun.MAX_GROUP_MEMBERS} members of the group: you selected {len(user_ids)}. "
                "Provision the others in another request."
            )
        members = set(group.members.filter(pk__in=user_ids).values_list("pk", flat=True))
        strangers = [i for i in user_ids if i not in members]
        if strangers:
            raise OnDemandRequestError(f"{len(strangers)} selected user(s) are not members of '{group.display_name}'.")
    elif len(user_ids) != 1:
        raise OnDemandRequestError("Select one user to provision, or pick a group and up to 5 of its members.")
    users = list(DirectoryUser.objects.filter(pk__in=user_ids))
    if len(users) != len(set(user_ids)):
        raise OnDemandRequestError("A selected user no longer exists in the directory: search again.")
    with transaction.atomic():
        run = OnDemandRun.objects.create(application=app, requested_by=requested_by, group=group)
        run.users.set(users)
    return run


def request_retry(log, *, requested_by=None):
    """Retry of a failed log entry: a queued on-demand run of that entry's user (or whole group), whose new entry
    links back to it (the caller enqueues the task on commit, as for Provision on demand)."""
    if log.status != ProvisioningLog.Status.FAILURE:
        raise OnDemandRequestError(f"Only failed entries can be retried; this one is {log.get_status_display()}.")
    app = log.application
    _require_configured(app)
    model = {"user": DirectoryUser, "group": DirectoryGroup}.get(log.object_type)
    if model is None:
        raise OnDemandRequestError(
            "This entry is about the cycle, not one user or group: fix what it names, then Restart provisioning on the Overview.")
    subject = model.objects.filter(object_id=log.source_id).first()
    if subject is None:
        raise OnDemandRequestError(
            f"'{log.identity}' is no longer in the directory, so it cannot be provisioned again. A cycle removes it from "
            f"{app.name} if it was provisioned.")
    with transaction.atomic():
        run = OnDemandRun.objects.create(application=app, requested_by=requested_by, retry_of=log,
                                         group=subject if log.object_type == "group" else None)
        if log.object_type == "user":
            run.users.set([subject])
    return run


def provision_on_demand(run):
    """Run a queued on-demand request; safe to call twice (the second call finds it taken and does nothing)."""
    if not lifecycle.claim(run):
        return list(run.logs.all())
    run.refresh_from_db()
    app = run.application
    ctx = RunContext(
        application=app,
        initiated_by=INITIATED_BY.ON_DEMAND,
        initiated_by_user=run.requested_by.get_username() if run.requested_by else "",
        on_demand_run=run,
    )
    users = source.load_users(list(run.users.order_by("display_name", "pk").values_list("pk", flat=True)))
    # A group request provisions the selected members, then the group with just those memberships (as Entra).
    work = [(user, {}) for user in users]
    if run.group_id is not None:
        # A retried group is provisioned whole, as the cycle that failed it would.
        options = {} if run.retry_of_id and not users else {"members": [u.object_id for u in users]}
        work += [(group, options) for group in source.load_groups([run.group_id])]
    run.progress = [{"subject": _identity(subject), "log_id": None} for subject, _ in work]
    OnDemandRun.objects.filter(pk=run.pk).update(progress=run.progress)
    logs = []
    try:
        connection = test_connection(app)
        for entry, (subject, options) in zip(run.progress, work):
            live = LiveLog(ctx, run, entry)
            logs.append(provision_now(ctx, subject, on_change=live.steps_changed, log=live.entry,
                                      connection_failure=None if connection.ok else connection, **options))
            lifecycle.heartbeat(run)
    except Exception as exc:
        lifecycle.finish(run, OnDemandRun.State.FAILED, f"Provisioning stopped unexpectedly: {exc}")
        raise
    finally:
        ctx.close()
    lifecycle.finish(run, OnDemandRun.State.COMPLETED)
    from provisioning.notifications import notify_failures

    notify_failures(app, logs, on_demand_run=run)
    return logs


class LiveLog:
    """The subject's log entry, written when its first step completes and updated with each step after,
    so the run page shows the steps as they happen from the entry itself."""

    def __init__(self, ctx, run, entry):
        self.run, self.entry_json = run, entry
        self.entry = ProvisioningLog(**ctx.log_fields(), status=ProvisioningLog.Status.RUNNING, action=ProvisioningLog.Action.OTHER,
                                     object_type=entry["subject"]["kind"], source_id=entry["subject"]["source_id"],
                                     source_display_name=entry["subject"]["display_name"], source_upn=entry["subject"]["upn"],
                                     retry_of_id=run.retry_of_id)

    def steps_changed(self, steps):
        self.entry.steps = steps
        if self.entry.pk is None:
            self.entry.created_at = timezone.now()
            self.entry.save()
            self.entry_json["log_id"] = self.entry.pk
            OnDemandRun.objects.filter(pk=self.run.pk).update(progress=self.run.progress)
        else:
            ProvisioningLog.objects.filter(pk=self.entry.pk).update(steps=steps)


def _identity(subject):
    return {"source_id": str(subject.object_id), "display_name": subject.name, "upn": subject.upn, "kind": subject.object_type}
