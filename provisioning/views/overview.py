"""Overview: the current cycle's progress and counts, statistics to date, Start / Stop provisioning."""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from provisioning import charts, tasks
from provisioning.engine import changes
from provisioning.engine.cycle import ProvisioningNotConfigured, start_provisioning, stop_provisioning
from provisioning.engine.restart import RestartError, restart_provisioning
from provisioning.engine.restart import allow_deletes as restart_allow_deletes
from provisioning.engine.restart import reject_deletes as restart_reject_deletes
from provisioning.forms.restart import RestartForm
from provisioning.engine.status import cycle_history, overview
from provisioning.models import Application, ProvisioningCycle, ProvisioningLog
from provisioning.roles import administrators_only, readers_only

# The count table's rows and columns, in the blade's order.
COUNT_ACTIONS = [
    ProvisioningLog.Action.CREATE,
    ProvisioningLog.Action.UPDATE,
    ProvisioningLog.Action.DISABLE,
    ProvisioningLog.Action.DELETE,
    ProvisioningLog.Action.OTHER,
]
COUNT_STATUSES = [ProvisioningLog.Status.SUCCESS, ProvisioningLog.Status.FAILURE, ProvisioningLog.Status.SKIPPED]


def count_table(counts):
    """The cycle's counts as rows of actions × status columns; Warning gets a column only when there are any."""
    by_key = {(c.action, c.status): c.n for c in counts}
    statuses = list(COUNT_STATUSES)
    if any(status == ProvisioningLog.Status.WARNING and n for (_, status), n in by_key.items()):
        statuses.append(ProvisioningLog.Status.WARNING)
    rows = [
        {"action": action, "label": action.label, "cells": [{"status": s, "n": by_key.get((action, s), 0)} for s in statuses]}
        for action in COUNT_ACTIONS
    ]
    return {"statuses": statuses, "rows": rows, "total": sum(by_key.values())}


def idle_links(app, idle):
    """The idle cycle's fixes as (words, address, page name) of the portal page that makes each one."""
    if idle is None:
        return []
    pages = {
        "assignments": (reverse("apps:users_groups", args=[app.id]), "Users and groups"),
        "scope": (reverse("apps:provisioning", args=[app.id]) + "#id_scope", "Provisioning › Settings › Scope"),
        "scoping:user": (reverse("apps:scoping", args=[app.id, "user"]), "Provision Directory Users › Scoping filters"),
        "scoping:group": (reverse("apps:scoping", args=[app.id, "group"]), "Provision Directory Groups › Scoping filters"),
        "mappings:group": (reverse("apps:mappings", args=[app.id, "group"]), "Mappings › Provision Directory Groups"),
    }
    return [(words, *pages[page]) for words, page in idle.fixes if page in pages]


def _context(app):
    status = overview(app)
    return {
        "idle_links": idle_links(app, status.idle),
        "app": app,
        "blade_tab": "overview",
        "ov": status,
        # The status label also names Provisioning Status On/Off, which the page shows on its own row.
        "job_status_label": Application.JobStatus(status.status_code).label,
        "counts": count_table(status.counts),
        "cycle_failed": bool(status.cycle and status.cycle.state == ProvisioningCycle.State.FAILED),
        "last_dry_run": app.dry_runs.first(),
        "last_change_sync": changes.last_change_sync(app),
        "history_chart": charts.cycle_history(cycle_history(app)),
    }


@require_GET
@readers_only
def overview_page(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    return render(request, "overview/overview.html", _context(app))


@require_GET
@readers_only
def overview_status(request, app_id):
    """The polled region: the page asks for it every second while a cycle runs."""
    app = get_object_or_404(Application, pk=app_id)
    return render(request, "overview/overview.html#cycle-status", _context(app))


@require_POST
@administrators_only
def start(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    try:
        cycle = start_provisioning(app, requested_by=request.user)
    except ProvisioningNotConfigured as exc:
        messages.error(request, str(exc))
        return redirect("apps:overview", app.id)
    kind = cycle.get_kind_display().lower()
    if cycle.state == ProvisioningCycle.State.QUEUED:
        # A queued cycle may be enqueued twice (Start pressed again): run_cycle claims it only once.
        transaction.on_commit(lambda: tasks.run_cycle.delay(cycle.id))
        messages.success(request, f"Provisioning started: the {kind} is queued and starts when a worker picks it up.")
    else:
        messages.info(request, f"Provisioning is on: the {kind} is already running.")
    return redirect("apps:overview", app.id)


@require_POST
@administrators_only
def stop(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    stop_provisioning(app, requested_by=request.user)
    messages.success(
        request, "Provisioning stopped. A running cycle stops within seconds: the requests in flight finish and are recorded, what it did stays done; no further cycles run."
    )
    return redirect("apps:overview", app.id)


@require_http_methods(["GET", "POST"])
@administrators_only
def restart(request, app_id):
    """Restart provisioning with the reset scopes the admin ticks (the blade's default: Watermark, Escrows,
    QuarantineState)."""
    app = get_object_or_404(Application, pk=app_id)
    form = RestartForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                cycle = restart_provisioning(app, form.cleaned_data["scopes"], requested_by=request.user)
                transaction.on_commit(lambda: tasks.run_cycle.delay(cycle.id))
        except (ProvisioningNotConfigured, RestartError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Provisioning restarted with {', '.join(form.cleaned_data['scopes'])}: the "
                                      f"{cycle.get_kind_display().lower()} is queued.")
            return redirect("apps:overview", app.id)
    context = {"app": app, "blade_tab": "overview", "form": form, "scopes": RestartForm.explanations(),
               "running": app.cycles.filter(state=ProvisioningCycle.State.RUNNING).exists()}
    return render(request, "overview/restart.html", context, status=400 if form.errors else 200)


@require_POST
@administrators_only
def allow_deletes(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    try:
        with transaction.atomic():
            cycle = restart_allow_deletes(app, requested_by=request.user)
            transaction.on_commit(lambda: tasks.run_cycle.delay(cycle.id))
    except (ProvisioningNotConfigured, RestartError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Deletes allowed: a cycle that sends exactly the held disables and deletes is queued.")
    return redirect("apps:overview", app.id)


@require_POST
@administrators_only
def reject_deletes(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    try:
        count = restart_reject_deletes(app, requested_by=request.user)
    except RestartError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Rejected: the {count} held disables and deletes were dropped and provisioning is paused. "
                                  "Fix the cause (a scoping filter, an assignment), then Restart provisioning.")
    return redirect("apps:overview", app.id)


urlpatterns = [
    path("apps/<int:app_id>/", overview_page, name="overview"),
    path("apps/<int:app_id>/status/", overview_status, name="overview_status"),
    path("apps/<int:app_id>/start/", start, name="start"),
    path("apps/<int:app_id>/stop/", stop, name="stop"),
    path("apps/<int:app_id>/restart/", restart, name="restart"),
    path("apps/<int:app_id>/allow-deletes/", allow_deletes, name="allow_deletes"),
    path("apps/<int:app_id>/reject-deletes/", reject_deletes, name="reject_deletes"),
]
