"""The directory: Users and Groups lists, a user's and a group's page with Provisioning to applications,
create / edit / delete (a soft delete, as Entra's: restorable; the apps disable the account), members, and the import page.

Helpdesk reads every page; only Administrators change anything (and see the Provision now buttons).
Edits save rows the ordinary way, so provisioning.directory_changes sees them and apps that sync changes
immediately get them in seconds (engine/changes.py).
"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from provisioning import audit, directory_upload, tasks
from provisioning.engine import object_status
from provisioning.engine.on_demand import OnDemandRequestError, request_on_demand
from provisioning.forms.directory import (
    AddMemberForm,
    DirectoryGroupFilterSet,
    DirectoryGroupForm,
    DirectoryUserFilterSet,
    DirectoryUserForm,
    ImportForm,
)
from provisioning.models import Application, DirectoryGroup, DirectoryUser
from provisioning.models.directory import USER_ATTRIBUTES
from provisioning.roles import administrators_only, readers_only
from provisioning.views.htmx import render_region

PAGE_SIZE = 50
MEMBERS_SHOWN = 200  # on a group's page; the Users list filtered by Member of shows them all


def _page(request, queryset):
    """Page-numbered: the directory is thousands of rows, not millions, and admins ask for "page 3 of 12"."""
    paginator = Paginator(queryset, PAGE_SIZE)
    return paginator.get_page(request.GET.get("page"))


def _list(request, filterset, template, region, context):
    page, error = None, ""
    if filterset.is_bound and not filterset.is_valid():
        error = "Fix the filters marked in red to see the list."
    else:
        page = _page(request, filterset.qs)
    query = request.GET.copy()
    query.pop("page", None)
    context.update(filterset=filterset, form=filterset.form, page=page, page_error=error, query=query.urlencode())
    return render_region(request, template, region, context, status=400 if error else 200)


# ------------------------------------------------------------------------------------------------- users


@require_GET
@vary_on_headers("HX-Request")
@readers_only
def user_list(request):
    queryset = DirectoryUser.objects.select_related("manager").order_by("display_name", "user_principal_name", "pk")
    filterset = DirectoryUserFilterSet(request.GET or None, queryset=queryset)
    return _list(request, filterset, "directory/users.html", "user-table", {"directory_tab": "users"})


def _user(pk):
    return get_object_or_404(DirectoryUser.objects.select_related("manager"), pk=pk)


@require_GET
@readers_only
def user_detail(request, user_id):
    user = _user(user_id)
    context = {
        "directory_tab": "users",
        "subject": user,
        "kind": "user",
        "attributes": list(_user_attributes(user)),
        "extensions": sorted((user.extension_attributes or {}).items()),
        "reports": list(user.reports.active().order_by("display_name")),
        "groups": list(user.groups.order_by("display_name")),
        "statuses": object_status.for_user(user),
    }
    return render(request, "directory/user.html", context)


def _user_attributes(user):
    for name in USER_ATTRIBUTES:
        if name == "manager":
            continue
        field = next(f for f in DirectoryUser._meta.concrete_fields if f.verbose_name == name)
        yield name, getattr(user, field.attname)


@require_http_methods(["GET", "POST"])
@administrators_only
def user_form(request, user_id=None):
    user = _user(user_id) if user_id else DirectoryUser()
    form = DirectoryUserForm(request.POST if request.method == "POST" else None, instance=user)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic(), audit.changes(user if user_id else None, "Update user" if user_id else "Add user",
                                                 by=request.user, category=audit.Category.DIRECTORY) as watched:
            user = watched.obj = form.save()
        messages.success(request, f"{user} was {'saved' if user_id else 'created'}.")
        return redirect("apps:directory_user", user.pk)
    context = {"directory_tab": "users", "form": form, "subject": user if user_id else None}
    return render(request, "directory/user_form.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@administrators_only
def user_delete(request, user_id):
    user = _user(user_id)
    return _soft_delete(request, user, "user", reverse("apps:directory_user", args=[user_id]), reverse("apps:directory_users"))


@require_POST
@administrators_only
def user_restore(request, user_id):
    user = _user(user_id)
    return _restore(request, user, reverse("apps:directory_user", args=[user_id]))


def _soft_delete(request, obj, kind, back, after):
    if obj.deleted_at is not None:
        messages.info(request, f"{obj} is deleted already (since {obj.deleted_at:%Y-%m-%d %H:%M} UTC). Restore it to bring it back.")
        return redirect(back)
    if request.method == "POST":
        obj.soft_delete()
        audit.record(f"Delete {kind}", by=request.user, category=audit.Category.DIRECTORY, target=str(obj),
                     changes=[{"name": "State", "old": "Active", "new": "Deleted"}])
        messages.success(request, f"{obj} was deleted. It stays restorable under State: Deleted until it is restored or purged "
                                  "in the admin; the apps it was provisioned to disable its account in their next sync.")
        return redirect(after)
    return render(request, "directory/delete.html", {"directory_tab": f"{kind}s", "subject": obj, "kind": kind, "back": back})


def _restore(request, obj, back):
    if obj.deleted_at is None:
        messages.info(request, f"{obj} is not deleted: nothing to restore.")
    else:
        obj.restore()
        audit.record(f"Restore {'user' if isinstance(obj, DirectoryUser) else 'group'}", by=request.user, category=audit.Category.DIRECTORY, target=str(obj),
                     changes=[{"name": "State", "old": "Deleted", "new": "Active"}])
        messages.success(request, f"{obj} was restored; the apps it is in scope of provision it again in their next sync.")
    return redirect(back)


@require_POST
@administrators_only
def user_provision(request, user_id, app_id):
    """Provision now: Provision on demand of this user in one app, then its run page (as the on-demand page does)."""
    user = _user(user_id)
    app = get_object_or_404(Application, pk=app_id)
    try:
        run = request_on_demand(app, user_ids=[user.pk], requested_by=request.user)
    except OnDemandRequestError as exc:
        messages.error(request, f"{app.name}: {exc}")
        return redirect("apps:directory_user", user.pk)
    transaction.on_commit(lambda: tasks.run_on_demand.delay(run.id))
    return redirect("apps:on_demand_run", app.id, run.id)


# ------------------------------------------------------------------------------------------------ groups


@require_GET
@vary_on_headers("HX-Request")
@readers_only
def group_list(request):
    queryset = DirectoryGroup.objects.annotate(member_count=Count("members")).order_by("display_name", "pk")
    filterset = DirectoryGroupFilterSet(request.GET or None, queryset=queryset)
    return _list(request, filterset, "directory/groups.html", "group-table", {"directory_tab": "groups"})


@require_GET
@readers_only
def group_detail(request, group_id):
    return _group_page(request, get_object_or_404(DirectoryGroup, pk=group_id))


def _group_page(request, group, add_form=None):
    members = group.members.order_by("display_name", "user_principal_name")
    context = {
        "directory_tab": "groups",
        "subject": group,
        "kind": "group",
        "member_count": members.count(),
        "members": list(members[:MEMBERS_SHOWN]),
        "members_shown": MEMBERS_SHOWN,
        "add_form": add_form or AddMemberForm(group=group),
        "statuses": object_status.for_group(group),
    }
    return render(request, "directory/group.html", context, status=400 if add_form is not None else 200)


@require_http_methods(["GET", "POST"])
@administrators_only
def group_form(request, group_id=None):
    group = get_object_or_404(DirectoryGroup, pk=group_id) if group_id else DirectoryGroup()
    form = DirectoryGroupForm(request.POST if request.method == "POST" else None, instance=group)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic(), audit.changes(group if group_id else None, "Update group" if group_id else "Add group",
                                                 by=request.user, category=audit.Category.DIRECTORY) as watched:
            group = watched.obj = form.save()
        messages.success(request, f"{group} was {'saved' if group_id else 'created'}.")
        return redirect("apps:directory_group", group.pk)
    context = {"directory_tab": "groups", "form": form, "subject": group if group_id else None}
    return render(request, "directory/group_form.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@administrators_only
def group_delete(request, group_id):
    group = get_object_or_404(DirectoryGroup, pk=group_id)
    return _soft_delete(request, group, "group", reverse("apps:directory_group", args=[group_id]), reverse("apps:directory_groups"))


@require_POST
@administrators_only
def group_restore(request, group_id):
    return _restore(request, get_object_or_404(DirectoryGroup, pk=group_id), reverse("apps:directory_group", args=[group_id]))


@require_POST
@administrators_only
def member_add(request, group_id):
    group = get_object_or_404(DirectoryGroup, pk=group_id)
    form = AddMemberForm(request.POST, group=group)
    if not form.is_valid():
        return _group_page(request, group, add_form=form)
    group.members.add(form.cleaned_data["upn"])
    audit.record("Add member to group", by=request.user, category=audit.Category.DIRECTORY, target=str(group),
                 changes=[{"name": "Members", "old": "", "new": str(form.cleaned_data["upn"])}])
    messages.success(request, f"{form.cleaned_data['upn']} was added to {group}.")
    return redirect("apps:directory_group", group.pk)


@require_POST
@administrators_only
def member_remove(request, group_id, user_id):
    group = get_object_or_404(DirectoryGroup, pk=group_id)
    user = group.members.filter(pk=user_id).first()
    if user is None:
        messages.info(request, "That user is not a member of the group (any more).")
    else:
        group.members.remove(user)
        audit.record("Remove member from group", by=request.user, category=audit.Category.DIRECTORY, target=str(group),
                     changes=[{"name": "Members", "old": str(user), "new": ""}])
        messages.success(request, f"{user} was removed from {group}.")
    return redirect("apps:directory_group", group.pk)


# ------------------------------------------------------------------------------------------------ import


@require_http_methods(["GET", "POST"])
@administrators_only
def import_page(request):
    """Upload → the dry-run preview of the stored file (nothing is written yet)."""
    form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
    context = {"directory_tab": "import", "form": form}
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "directory/import.html", context, status=400)
        upload = directory_upload.store(form.cleaned_data["file"], prune=form.cleaned_data["prune"], user=request.user)
        context.update(upload=upload, preview=directory_upload.preview(upload))
    return render(request, "directory/import.html", context)


@require_POST
@administrators_only
def import_run(request):
    upload_id = request.POST.get("upload", "")
    if not (upload_id.isdigit() and len(upload_id) <= 18):
        return HttpResponseBadRequest("Upload the file again: this Import button names no upload.")
    context = {"directory_tab": "import", "form": ImportForm()}
    try:
        upload = directory_upload.stored(int(upload_id), request.user)
        context.update(preview=directory_upload.run(upload), imported=upload)
    except directory_upload.UploadGone as exc:
        context["gone"] = str(exc)
        return render(request, "directory/import.html", context, status=409)
    return render(request, "directory/import.html", context)


urlpatterns = [
    path("directory/users/", user_list, name="directory_users"),
    path("directory/users/new/", user_form, name="directory_user_new"),
    path("directory/users/<int:user_id>/", user_detail, name="directory_user"),
    path("directory/users/<int:user_id>/edit/", user_form, name="directory_user_edit"),
    path("directory/users/<int:user_id>/delete/", user_delete, name="directory_user_delete"),
    path("directory/users/<int:user_id>/restore/", user_restore, name="directory_user_restore"),
    path("directory/users/<int:user_id>/provision/<int:app_id>/", user_provision, name="directory_user_provision"),
    path("directory/groups/", group_list, name="directory_groups"),
    path("directory/groups/new/", group_form, name="directory_group_new"),
    path("directory/groups/<int:group_id>/", group_detail, name="directory_group"),
    path("directory/groups/<int:group_id>/edit/", group_form, name="directory_group_edit"),
    path("directory/groups/<int:group_id>/delete/", group_delete, name="directory_group_delete"),
    path("directory/groups/<int:group_id>/restore/", group_restore, name="directory_group_restore"),
    path("directory/groups/<int:group_id>/members/", member_add, name="directory_member_add"),
    path("directory/groups/<int:group_id>/members/<int:user_id>/remove/", member_remove, name="directory_member_remove"),
    path("directory/import/", import_page, name="directory_import"),
    path("directory/import/run/", import_run, name="directory_import_run"),
]
