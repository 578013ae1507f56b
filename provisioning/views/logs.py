"""Provisioning logs: the filterable table of one app's log entries and the detail panel of one entry.

The table holds up to millions of rows, so it pages by keyset — "Newer" / "Older" from a row's (Date, id) —
and never counts: each page is one indexed range scan of PAGE_SIZE + 1 rows.
"""

from django.db.models import Q
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from provisioning.filters import ProvisioningLogFilterSet
from provisioning.models import Application, ProvisioningLog
from provisioning.roles import readers_only
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
    queryset = ProvisioningLog.objects.filter(application=app).defer("steps", "modified_properties")
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
        "page_size": PAGE_SIZE,
    }
    template = "logs/list.html#log-table" if wants_partial(request) else "logs/list.html"
    return render(request, template, context)


@require_GET
@vary_on_headers("HX-Request")
@readers_only
def log_detail(request, app_id, log_id):
    app = get_object_or_404(Application, pk=app_id)
    log = get_object_or_404(ProvisioningLog.objects.select_related("cycle", "on_demand_run"), pk=log_id, application=app)
    context = {"app": app, "blade_tab": "logs", "log": log}
    # In the side panel of the list (HTMX) only the panel; opened directly (a shared link) a full page.
    template = "logs/detail.html#detail-panel" if wants_partial(request) else "logs/detail.html"
    return render(request, template, context)


urlpatterns = [
    path("apps/<int:app_id>/provisioning-logs/", log_list, name="logs"),
    path("apps/<int:app_id>/provisioning-logs/<int:log_id>/", log_detail, name="log_detail"),
]
