"""Provision on demand: one user, or a group and up to five of its members, through the same pipeline as cycles."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from provisioning.engine.connection import test_connection
from provisioning.engine.context import INITIATED_BY, RunContext
from provisioning.engine.groups import provision_group
from provisioning.engine.pipeline import provision_user
from provisioning.models import Application, DirectoryGroup, DirectoryUser, OnDemandRun


class OnDemandRequestError(ValueError):
    """A request that cannot be provisioned; the message says why and what to do."""


def search_users(query, limit=20):
    """Users by first name, last name, display name, user principal name or email, as Entra searches."""
    query = (query or "").strip()
    if not query:
        return DirectoryUser.objects.none()
    return DirectoryUser.objects.filter(
        Q(given_name__istartswith=query)
        | Q(surname__istartswith=query)
        | Q(display_name__icontains=query)
        | Q(user_principal_name__istartswith=query)
        | Q(mail__istartswith=query)
    ).order_by("display_name")[:limit]


def request_on_demand(app, *, user_ids=(), group_id=None, requested_by=None):
    """Validate the selection and create a queued run (the caller enqueues the task on commit)."""
    if app.provisioning_mode != Application.Mode.AUTOMATIC or not app.tenant_url or not app.has_secret_token:
        raise OnDemandRequestError(
            "Provisioning is not configured: set Provisioning Mode to Automatic with a Tenant URL and Secret Token "
            "on the Provisioning page first."
        )
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


def provision_on_demand(run):
    """Run a queued on-demand request; safe to call twice (the second call finds it taken and does nothing)."""
    claimed = OnDemandRun.objects.filter(pk=run.pk, state=OnDemandRun.State.QUEUED).update(state=OnDemandRun.State.RUNNING)
    if not claimed:
        return list(run.logs.all())
    run.refresh_from_db()
    app = run.application
    ctx = RunContext(
        application=app,
        initiated_by=INITIATED_BY.ON_DEMAND,
        initiated_by_user=run.requested_by.get_username() if run.requested_by else "",
        on_demand_run=run,
    )
    users = list(run.users.select_related("manager").order_by("display_name"))
    # A group request provisions the selected members, then the group with just those memberships (as Entra).
    work = [(provision_user, u, {}) for u in users]
    if run.group is not None:
        work.append((provision_group, run.group, {"members": users}))
    progress = [_progress_entry(subject) for _, subject, _ in work]
    _save_progress(run, progress)
    logs = []
    try:
        connection = test_connection(app)
        for entry, (provision_object, subject, options) in zip(progress, work):
            def on_change(steps, entry=entry):
                entry["steps"] = steps
                _save_progress(run, progress)

            log = provision_object(ctx, subject, on_change=on_change, connection_failure=None if connection.ok else connection, **options)
            entry.update(status=log.status, action=log.action, steps=log.steps, log_id=log.pk)
            _save_progress(run, progress)
            logs.append(log)
    except Exception as exc:
        OnDemandRun.objects.filter(pk=run.pk).update(
            state=OnDemandRun.State.FAILED, error=f"Provisioning stopped unexpectedly: {exc}", finished_at=timezone.now()
        )
        raise
    finally:
        ctx.close()
    OnDemandRun.objects.filter(pk=run.pk).update(state=OnDemandRun.State.COMPLETED, finished_at=timezone.now())
    from provisioning.notifications import notify_failures

    notify_failures(app, logs, on_demand_run=run)
    return logs


def _progress_entry(subject):
    if isinstance(subject, DirectoryGroup):
        identity = {"source_id": str(subject.object_id), "display_name": subject.display_name, "upn": "", "kind": "group"}
    else:
        identity = {"source_id": str(subject.object_id), "display_name": subject.display_name,
                    "upn": subject.user_principal_name, "kind": "user"}
    return {"subject": identity, "status": "running", "action": None, "steps": [], "log_id": None}


def _save_progress(run, progress):
    OnDemandRun.objects.filter(pk=run.pk).update(progress=progress)
