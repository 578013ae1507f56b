"""Users and groups: the app's assignments, the Add user/group picker, Remove assignment (Administrators only)."""

from django.contrib import messages
from django.db.models import Q
from django.db.models.functions import Coalesce, Lower
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from provisioning import audit
from provisioning.forms.assignments import SEARCH_LIMIT, AssignForm, SearchForm, UnassignForm, filter_assignments
from provisioning.models import Application, DirectoryGroup, DirectoryUser
from provisioning.roles import administrators_only
from provisioning.views.htmx import wants_partial

TEMPLATE = "assignments/users_groups.html"
LIST_LIMIT = 200  # rows shown at once; the search box narrows a longer list
NOTICE_LEVELS = {"success": messages.SUCCESS, "warning": messages.WARNING, "error": messages.ERROR}


def _page_url(app, **params):
    params = {k: v for k, v in params.items() if v}
    url = reverse("apps:users_groups", args=[app.id])
    return f"{url}?{urlencode(params)}" if params else url


def _assignment_context(app, query):
    assignments = filter_assignments(app.assignments.select_related("user", "group"), query)
    assignments = assignments.annotate(sort_name=Lower(Coalesce("user__display_name", "group__display_name")))
    total = assignments.count()
    return {
        "assignments": assignments.order_by("sort_name", "id")[:LIST_LIMIT],
        "assignment_total": total,
        "list_limit": LIST_LIMIT,
        "query": query,
    }


def _directory_context(app, directory_query):
    # The picker lists nothing until the admin types: the directory may hold thousands.
    users = list(DirectoryUser.objects.search(directory_query).order_by("display_name")[:SEARCH_LIMIT]) if directory_query else []
    groups = list(DirectoryGroup.objects.search(directory_query).order_by("display_name")[:SEARCH_LIMIT]) if directory_query else []
    assigned = app.assignments.filter(Q(user__in=users) | Q(group__in=groups))
    assigned_users = {a.user_id for a in assigned if a.user_id}
    assigned_groups = {a.group_id for a in assigned if a.group_id}
    return {
        "directory_query": directory_query,
        "directory_users": [(u, u.id in assigned_users) for u in users],
        "directory_groups": [(g, g.id in assigned_groups) for g in groups],
        "search_limit": SEARCH_LIMIT,
    }


def _full_page(request, app, *, query="", adding=False, directory_query="", assign_form=None):
    context = {"app": app, "blade_tab": "users_groups", "adding": adding, "assign_form": assign_form}
    context.update(_assignment_context(app, query))
    if adding:
        context.update(_directory_context(app, directory_query))
    return render(request, TEMPLATE, context)


@administrators_only
@require_GET
def users_and_groups(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    query = SearchForm(request.GET).query()
    if wants_partial(request):
        context = {"app": app, **_assignment_context(app, query)}
        response = render(request, f"{TEMPLATE}#assignment-table", context)
    else:
        directory_query = SearchForm({"q": request.GET.get("dq", "")}).query()
        response = _full_page(request, app, query=query, adding=request.GET.get("add") == "1", directory_query=directory_query)
    # The same URL answers with the page or the table: keep caches from mixing the two.
    patch_vary_headers(response, ["HX-Request"])
    return response


@administrators_only
@require_GET
def directory_search(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    directory_query = SearchForm({"q": request.GET.get("dq", "")}).query()
    if not wants_partial(request):
        return redirect(_page_url(app, add="1", dq=directory_query))
    context = {"app": app, **_directory_context(app, directory_query)}
    return render(request, f"{TEMPLATE}#directory-search-results", context)


@administrators_only
@require_POST
def assign(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    form = AssignForm(request.POST)
    directory_query = SearchForm({"q": request.POST.get("dq", "")}).query()
    if not form.is_valid():
        return _full_page(request, app, adding=True, directory_query=directory_query, assign_form=form)
    assigned, already = form.save(app)
    if assigned:
        names = _names(assigned)
        audit.record("Add app role assignment", by=request.user, application=app, category=audit.Category.ASSIGNMENT,
                     target=", ".join(str(p) for p in assigned), changes=[{"name": "Assigned", "old": "", "new": names}])
        messages.success(request, f"Assigned to {app.name}: {names}.")
    if already:
        messages.info(request, f"Already assigned, left as they were: {_names(already)}.")
    return redirect(_page_url(app))


def _names(principals, shown=10):
    """A few names and how many more: a message never grows with the selection."""
    names = ", ".join(str(p) for p in principals[:shown])
    more = len(principals) - shown
    return f"{names} and {more:,} more" if more > 0 else names


@administrators_only
@require_POST
def unassign(request, app_id):
    app = get_object_or_404(Application, pk=app_id)
    form = UnassignForm(request.POST)
    query = SearchForm(request.POST).query()
    if not form.is_valid():
        level, notice = "error", " ".join(e for errors in form.errors.values() for e in errors)
    else:
        assignment = app.assignments.select_related("user", "group").filter(pk=form.cleaned_data["assignment"]).first()
        if assignment is None:
            level, notice = "warning", "That assignment no longer exists: it was already removed. The list is up to date now."
        else:
            principal = str(assignment.principal)
            assignment.delete()
            audit.record("Remove app role assignment", by=request.user, application=app, category=audit.Category.ASSIGNMENT,
                         target=principal, changes=[{"name": "Assigned", "old": principal, "new": ""}])
            level, notice = "success", f"Removed the assignment of {principal}."
    if wants_partial(request):
        context = {"app": app, **_assignment_context(app, query), "notice": notice, "notice_level": level}
        return render(request, f"{TEMPLATE}#assignment-table", context)
    messages.add_message(request, NOTICE_LEVELS[level], notice)
    return redirect(_page_url(app, q=query))


urlpatterns = [
    path("apps/<int:app_id>/users-and-groups/", users_and_groups, name="users_groups"),
    path("apps/<int:app_id>/users-and-groups/directory/", directory_search, name="directory_search"),
    path("apps/<int:app_id>/users-and-groups/assign/", assign, name="assign"),
    path("apps/<int:app_id>/users-and-groups/unassign/", unassign, name="unassign"),
]
