"""Dry run: start one from the Overview, watch it, browse what the cycle would do."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_GET, require_POST

from provisioning import tasks
from provisioning.engine.dry_run import DryRunRefused, request_dry_run
from provisioning.forms.dry_runs import DryRunEntryFilter
from provisioning.models import Application, DryRun, ProvisioningLog
from provisioning.roles import administrators_only, readers_only
from provisioning.views.htmx import render_region

PAGE_SIZE = 100


@require_POST
@administrators_only
def start_dry_run(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    try:
        with transaction.atomic():
            dry_run = request_dry_run(app, requested_by=request.user)
            transaction.on_commit(lambda: tasks.run_dry_run.delay(dry_run.pk))
    except DryRunRefused as exc:
        messages.error(request, str(exc))
        return redirect("apps:overview", app.id)
    return redirect("apps:dry_run", app.id, dry_run.pk)


@require_GET
@readers_only
def dry_run_page(request, app_id, dry_run_id):
    app = get_object_or_404(Application, pk=app_id)
    dry_run = get_object_or_404(DryRun, pk=dry_run_id, application=app)
    form = DryRunEntryFilter(request.GET)
    entries = dry_run.entries.all()
    if form.is_valid():
        entries = form.filter(entries)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    summary = dry_run.summary or {}
    context = {
        "app": app, "blade_tab": "overview", "dry_run": dry_run, "form": form, "page": page,
        "summary": summary, "action_rows": _action_rows(summary), "query": _query_without_page(request),
    }
    status = 400 if form.errors else 200
    region = "dry-run-entries" if request.GET.get("page") or request.GET.get("region") == "entries" else "dry-run-result"
    return render_region(request, "dry_runs/dry_run.html", region, context, status=status)


def _action_rows(summary):
    labels = dict(ProvisioningLog.Action.choices)
    return [{"action": action, "label": labels.get(action, action), "success": by.get("success", 0),
             "failure": by.get("failure", 0), "skipped": by.get("skipped", 0)}
            for action, by in sorted((summary.get("actions") or {}).items())]


def _query_without_page(request):
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


urlpatterns = [
    path("apps/<int:app_id>/dry-run/", start_dry_run, name="start_dry_run"),
    path("apps/<int:app_id>/dry-runs/<int:dry_run_id>/", dry_run_page, name="dry_run"),
]
