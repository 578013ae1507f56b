"""Audit logs: who changed which configuration, when, old → new (Administrators and Helpdesk read them)."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from provisioning.audit_filters import AuditEntryFilterSet
from provisioning.models import AuditEntry
from provisioning.roles import readers_only
from provisioning.views.htmx import render_region

PAGE_SIZE = 50


@require_GET
@vary_on_headers("HX-Request")
@readers_only
def audit_log(request):
    filterset = AuditEntryFilterSet(request.GET or None, queryset=AuditEntry.objects.all())
    page, page_error = None, ""
    if filterset.is_bound and not filterset.is_valid():
        page_error = "Fix the filters marked in red to see audit entries."
    else:
        # Small table (kept as long as the provisioning logs), so plain page numbers; a bad number shows the last page.
        page = Paginator(filterset.qs.order_by("-created_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"filterset": filterset, "form": filterset.form, "page": page, "page_error": page_error,
               "query": query.urlencode()}
    return render_region(request, "audit/list.html", "audit-table", context)


urlpatterns = [path("audit-logs/", audit_log, name="audit")]
