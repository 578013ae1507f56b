"""Enterprise applications: the list of apps, and "+ New application"."""

from django.contrib import messages
from django.db.models import OuterRef, Subquery
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods

from provisioning import audit
from provisioning.defaults import install_default_mappings
from provisioning.forms.applications import NewApplicationForm
from provisioning.models import Application, ProvisioningCycle
from provisioning.roles import administrators_only, readers_only


def _with_last_cycle(queryset):
    """Annotate each app with its most recent cycle's kind, state and time (one query for the whole list)."""
    last = ProvisioningCycle.objects.filter(application=OuterRef("pk")).order_by("-created_at", "-id")
    return queryset.annotate(
        last_cycle_kind=Subquery(last.values("kind")[:1]),
        last_cycle_state=Subquery(last.values("state")[:1]),
        last_cycle_created_at=Subquery(last.values("created_at")[:1]),
        last_cycle_finished_at=Subquery(last.values("finished_at")[:1]),
    )


@readers_only
@require_http_methods(["GET"])
def application_list(request):
    apps = _with_last_cycle(Application.objects.all())
    query = request.GET.get("q", "").strip()
    if query:
        apps = apps.filter(name__icontains=query)
    rows = [
        {
            "app": app,
            "last_cycle_kind": ProvisioningCycle.Kind(app.last_cycle_kind).label if app.last_cycle_kind else "",
            "last_cycle_state": ProvisioningCycle.State(app.last_cycle_state).label if app.last_cycle_state else "",
            "last_cycle_at": app.last_cycle_finished_at or app.last_cycle_created_at,
        }
        for app in apps
    ]
    return render(request, "applications/list.html", {"rows": rows, "query": query})


@administrators_only
@require_http_methods(["GET", "POST"])
def application_create(request):
    form = NewApplicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with audit.changes(None, "Add application", by=request.user, category=audit.Category.APPLICATION) as watched:
            app = watched.obj = form.save()
        install_default_mappings(app)
        messages.success(
            request,
            f"Created {app.name} with the default attribute mappings. Next: set Provisioning Mode to Automatic "
            "and enter the Admin Credentials.",
        )
        return redirect("apps:provisioning", app_id=app.id)
    return render(request, "applications/new.html", {"form": form})


urlpatterns = [
    path("", application_list, name="list"),
    path("apps/new/", application_create, name="create"),
]
