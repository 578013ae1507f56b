"""Provisioning logs: the filterable table of one app's log entries, the detail panel of one entry, Retry of a
failed entry (Administrators) and Download of what the filters select (CSV or JSON, streamed).

The table holds up to millions of rows, so it pages by keyset — "Newer" / "Older" from a row's (Date, id) —
and never counts: each page is one indexed range scan of PAGE_SIZE + 1 rows.
"""

from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from provisioning import charts, log_export, tasks
from provisioning.engine.on_demand import OnDemandRequestError, request_retry
from provisioning.filters import ProvisioningLogFilterSet
from provisioning.models import Application, ProvisioningLog
from provisioning.roles import administrators_only, is_administrator, readers_only
from provisioning.views.htmx import wants_partial

PAGE_SIZE = 50


class BadCursor(ValueError):
    """The older/newer parameter names no entry of this app (pruned, or hand-edited)."""


def _page(queryset, app, *, older=None, newer=None):
    """One page in Date order, newest first, after or before a cursor row; returns (rows, has_newer, has_older).

    The cursor is any entry of the app (it need not match the filters): its (Date, id) is where the page starts.
    """
    if older and newer:
        raise BadCursor("Use either Newer or Older, not both: remove one of them from the address.")
    cursor_id = older or newer
    if not cursor_id:
        rows = list(queryset.order_by("-created_at", "-id")[: PAGE_SIZE + 1])
        return rows[:PAGE_SIZE], False, len(rows) > PAGE_SIZE
    cursor = None
    if cursor_id.isdigit() and len(cursor_id) <= 18:
        cursor = ProvisioningLog.objects.filter(pk=int(cursor_id), application=app).only("created_at").first()
    if cursor is None:
        raise BadCursor("That page no longer exists (the entry it started from is gone). Go to the newest entries.")
    at = cursor.created_at
    # The plain created_at bound is implied by the OR; it is there so the database starts its index scan at the
    # cursor instead of filtering every newer row.
    if older:
        older_rows = queryset.filter(created_at__lte=at).filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=cursor.id))
        rows = list(older_rows.order_by("-created_at", "-id")[: PAGE_SIZE + 1])
        return rows[:PAGE_SIZE], True, len(rows) > PAGE_SIZE
    newer_rows = queryset.filter(created_at__gte=at).filter(Q(created_at__gt=at) | Q(created_at=at, id__gt=cursor.id))
    rows = list(newer_rows.order_by("created_at", "id")[: PAGE_SIZE + 1])
    return list(reversed(rows[:PAGE_SIZE])), len(rows) > PAGE_SIZE, True


@require_GET
@vary_on_headers("HX-Request")
@readers_only
def log_list(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    # The table shows no steps or properties: leave the two JSON columns in the database.
    queryset = ProvisioningLog.objects.filter(application=app).defer("steps", "modified_properties", "traffic")
    filterset = ProvisioningLogFilterSet(request.GET or None, queryset=queryset)
    rows, has_newer, has_older, page_error = [], False, False, ""
    if filterset.is_bound and not filterset.is_valid():
        page_error = "Fix the filters marked in red to see log entries."
    else:
        try:
            rows, has_newer, has_older = _page(
                filterset.qs, app, older=request.GET.get("older"), newer=request.GET.get("newer")
            )
        except BadCursor as exc:
            page_error = str(exc)
    context = {
        "app": app,
        "blade_tab": "logs",
        "filterset": filterset,
        "form": filterset.form,
        "logs": rows,
        "has_newer": has_newer,
        "has_older": has_older,
        "page_error": page_error,
        "chart_query": _filters_only(request.GET).urlencode(),
        "page_size": PAGE_SIZE,
        "download_query": request.GET.urlencode() if not page_error else "",
    }
    template = "logs/list.html#log-table" if wants_partial(request) else "logs/list.html"
    return render(request, template, context)


def _filters_only(query):
    filters = query.copy()
    for name in ("format", "older", "newer"):
        filters.pop(name, None)
    return filters


@require_GET
@readers_only
def log_chart(request, app_id):
    """Successes and failures per hour of the entries the filters select. Its own region, fetched once the table
    is shown, so the table's first page never waits for the aggregate."""
    app = get_object_or_404(Application, pk=app_id)
    filters = _filters_only(request.GET)
    filterset = ProvisioningLogFilterSet(filters or None, queryset=ProvisioningLog.objects.filter(application=app))
    if filterset.is_bound and not filterset.is_valid():
        return HttpResponse("Fix the filters marked in red to see the chart.", status=400, content_type="text/plain")
    outcomes = filterset.outcomes()
    chart = charts.outcomes_over_time(outcomes.buckets, per=outcomes.per, window=outcomes.window) if outcomes.buckets else ""
    return render(request, "logs/list.html#log-chart", {"app": app, "outcomes_chart": chart})


@require_GET
@vary_on_headers("HX-Request")
@readers_only
def log_detail(request, app_id, log_id):
    app = get_object_or_404(Application, pk=app_id)
    log = get_object_or_404(ProvisioningLog.objects.select_related("cycle", "on_demand_run", "retry_of"), pk=log_id, application=app)
    return _render_detail(request, app, log)


def _render_detail(request, app, log, *, retry_error="", status=200):
    traffic = log.traffic or []
    context = {
        "app": app,
        "blade_tab": "logs",
        "log": log,
        "traffic": traffic,
        "request_count": sum(e.get("omitted", 1) for e in traffic),
        "retries": list(log.retries.order_by("created_at", "id").only("id", "created_at", "status")),
        "can_retry": log.status == ProvisioningLog.Status.FAILURE and log.object_type in ("user", "group")
        and is_administrator(request.user),
        "retry_error": retry_error,
    }
    # In the side panel of the list (HTMX) only the panel; opened directly (a shared link) a full page.
    template = "logs/detail.html#detail-panel" if wants_partial(request) else "logs/detail.html"
    return render(request, template, context, status=status)


@require_POST
@administrators_only
def log_retry(request, app_id, log_id):
    """Retry: the entry's object through the pipeline now, as Provision on demand; opens the run as it happens."""
    app = get_object_or_404(Application, pk=app_id)
    log = get_object_or_404(ProvisioningLog.objects.select_related("application", "cycle", "retry_of"), pk=log_id, application=app)
    try:
        run = request_retry(log, requested_by=request.user)
    except OnDemandRequestError as exc:
        return _render_detail(request, app, log, retry_error=str(exc), status=400)
    transaction.on_commit(lambda: tasks.run_on_demand.delay(run.id))
    url = reverse("apps:on_demand_run", args=[app.id, run.id])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
@readers_only
def log_download(request, app_id):
    """The entries the filters select (the query string of the page), as CSV or JSON, streamed in keyset pages."""
    app = get_object_or_404(Application, pk=app_id)
    fmt = request.GET.get("format", "csv")
    if fmt not in ("csv", "json"):
        return HttpResponse(f"Download as csv or json (format={fmt[:20]} is neither).", status=400, content_type="text/plain")
    filters = _filters_only(request.GET)
    filterset = ProvisioningLogFilterSet(filters or None, queryset=ProvisioningLog.objects.filter(application=app))
    if filterset.is_bound and not filterset.is_valid():
        problems = "; ".join(f"{filterset.form.fields[name].label if name in filterset.form.fields else 'Filters'}: {' '.join(errors)}"
                             for name, errors in filterset.form.errors.items())
        return HttpResponse(f"The filters cannot be used for a download: {problems}", status=400, content_type="text/plain")
    content, content_type, extension = log_export.download(filterset.qs, fmt)
    response = StreamingHttpResponse(content, content_type=content_type)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="provisioning-logs-{app.pk}-{stamp}.{extension}"'
    return response


urlpatterns = [
    path("apps/<int:app_id>/provisioning-logs/", log_list, name="logs"),
    path("apps/<int:app_id>/provisioning-logs/download/", log_download, name="logs_download"),
    path("apps/<int:app_id>/provisioning-logs/chart/", log_chart, name="logs_chart"),
    path("apps/<int:app_id>/provisioning-logs/<int:log_id>/", log_detail, name="log_detail"),
    path("apps/<int:app_id>/provisioning-logs/<int:log_id>/retry/", log_retry, name="log_retry"),
]
