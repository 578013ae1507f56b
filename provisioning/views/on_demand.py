"""Provision on demand: pick a user (or a group and up to five members), Provision, watch the steps arrive.

The run itself happens in a Celery task (tasks.run_on_demand); the run page polls its progress partial every
500 ms while the run is queued or running.
"""

from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from provisioning import tasks
from provisioning.engine.on_demand import OnDemandRequestError, request_on_demand
from provisioning.forms.on_demand import GROUP_SEARCH_LIMIT, OnDemandForm, group_members, parse_subject
from provisioning.models import Application, DirectoryGroup, DirectoryUser, OnDemandRun, ProvisioningLog
from provisioning.roles import administrators_only
from provisioning.views.htmx import render_region

USER_SEARCH_LIMIT = 20
# A queued run normally starts within a second; after these many seconds the page says why it may not.
WAITING_NOTICE_SECONDS = 3
NO_WORKER_SECONDS = 10
# The steps after Test connection, for the greyed "not started" rows of a subject in progress.
PIPELINE = [
    ("import", "Import {noun}"),
    ("scope", "Determine if {noun} is in scope"),
    ("match", "Match {noun} between source and target system"),
    ("action", "Perform action"),
]
DONE_VERBS = {"create": "created in", "update": "updated in", "disable": "disabled in", "delete": "deleted from"}


def _app(app_id):
    return get_object_or_404(Application, pk=app_id)


def _selection(subject, member_query="", checked=()):
    """What the Selection region shows for a parsed subject: the user, or the group and its member checkboxes."""
    if subject is None:
        return None
    kind, obj = subject
    selection = {"kind": kind, "obj": obj, "value": f"{kind}:{obj.pk}", "checked": {int(pk) for pk in checked if str(pk).isdigit()}}
    if kind == "group":
        selection["member_count"] = obj.members.count()
        selection["members"] = list(group_members(obj, member_query))
        selection["member_query"] = member_query
    return selection


@require_http_methods(["GET", "POST"])
@administrators_only
def on_demand_page(request, app_id):
    app = _app(app_id)
    form = OnDemandForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            run = request_on_demand(app, requested_by=request.user, **form.request_kwargs())
        except OnDemandRequestError as exc:
            form.add_error(None, str(exc))
        else:
            transaction.on_commit(lambda: tasks.run_on_demand.delay(run.id))
            return redirect("apps:on_demand_run", app.id, run.id)
    selection = None
    if request.method == "POST":
        # Keep what was picked on screen, so the admin corrects it instead of starting over.
        selection = _selection(parse_subject(request.POST.get("subject")), checked=request.POST.getlist("members"))
    elif request.GET.get("pick"):
        # Linked from a group's Provisioning to applications: the group arrives picked, its members to tick.
        selection = _selection(parse_subject(request.GET.get("pick")))
    context = {
        "app": app,
        "blade_tab": "on_demand",
        "form": form,
        "selection": selection,
        "max_members": OnDemandRun.MAX_GROUP_MEMBERS,
        "recent_runs": app.on_demand_runs.select_related("requested_by")[:5],
    }
    return render(request, "on_demand/page.html", context)


@require_GET
@administrators_only
def search(request, app_id):
    """Search-as-you-type: users by first/last/display name, UPN or email, and groups by name."""
    app = _app(app_id)
    query = request.GET.get("q", "").strip()[:256]
    context = {
        "app": app,
        "query": query,
        "users": list(DirectoryUser.objects.search(query).order_by("display_name")[:USER_SEARCH_LIMIT]) if query else [],
        "groups": list(DirectoryGroup.objects.search(query).order_by("display_name")[:GROUP_SEARCH_LIMIT]) if query else [],
        "user_limit": USER_SEARCH_LIMIT,
    }
    return render(request, "on_demand/page.html#search-results", context)


@require_GET
@administrators_only
def selection(request, app_id):
    """The picked user, or the picked group with its members to tick (narrowed by member_q)."""
    app = _app(app_id)
    subject = parse_subject(request.GET.get("pick") or request.GET.get("subject"))
    context = {
        "app": app,
        "selection": _selection(subject, request.GET.get("member_q", "")[:256], request.GET.getlist("members")),
        "max_members": OnDemandRun.MAX_GROUP_MEMBERS,
        "missing": subject is None and bool(request.GET.get("pick")),
    }
    return render(request, "on_demand/page.html#selection", context)


def _result(app, entry, log):
    """The one-line outcome Entra shows at the top of a finished subject ("User 'Jane Doe' was created in Slack")."""
    name = entry["subject"].get("display_name") or entry["subject"].get("upn") or entry["subject"].get("source_id")
    title = _noun(entry).capitalize()
    status, action = entry.get("status"), entry.get("action")
    steps = entry.get("steps") or []
    last = steps[-1]["description"] if steps else ""
    if status == "success":
        # The action step says it best (it carries the target id); fall back to Entra's sentence.
        if steps and steps[-1].get("key") == "action" and last:
            return last
        if action in DONE_VERBS:
            return f"{title} '{name}' was {DONE_VERBS[action]} {app.name}."
        return last or f"{title} '{name}' already matches in {app.name}: no change was needed."
    described = log.error_description if log and log.error_description else ""
    if status == "skipped":
        return described or last or f"{title} '{name}' was skipped."
    return described or last or f"{title} '{name}' could not be provisioned."


def _noun(entry):
    return "group" if entry.get("subject", {}).get("kind") == "group" else "user"


def _pending(entry):
    done = {step.get("key") for step in entry.get("steps", [])}
    noun = _noun(entry)
    return [{"number": n, "name": name.format(noun=noun)} for n, (key, name) in enumerate(PIPELINE, start=2) if key not in done]


def run_context(app, run):
    active = run.state in (OnDemandRun.State.QUEUED, OnDemandRun.State.RUNNING)
    log_ids = [e["log_id"] for e in run.progress if e.get("log_id")]
    logs = ProvisioningLog.objects.in_bulk(log_ids) if log_ids else {}
    entries = []
    for entry in run.progress:
        log = logs.get(entry.get("log_id"))
        # The steps live in the log entry, which the run writes as each step completes.
        shown = {
            **entry,
            "steps": log.steps if log else [],
            "status": log.status if log else "running",
            "action": log.action if log else None,
        }
        finished = shown["status"] in ("success", "failure", "skipped", "warning")
        shown.update(
            finished=finished,
            log=log,
            result=_result(app, shown, log) if finished else "",
            pending=_pending(shown) if active and not finished else [],
        )
        entries.append(shown)
    waited = int((timezone.now() - run.created_at).total_seconds())
    return {
        "app": app,
        "blade_tab": "on_demand",
        "run": run,
        "entries": entries,
        # Before the task writes progress, the subjects come from the request itself.
        "waiting_users": list(run.users.order_by("display_name")) if not run.progress and active else [],
        "pending_all": _pending({"steps": []}),
        "active": active,
        "waited": waited,
        "show_waiting": run.state == OnDemandRun.State.QUEUED and waited >= WAITING_NOTICE_SECONDS,
        "no_worker": run.state == OnDemandRun.State.QUEUED and waited >= NO_WORKER_SECONDS,
    }


@require_GET
@vary_on_headers("HX-Request")
@administrators_only
def run_page(request, app_id, run_id):
    app = _app(app_id)
    run = get_object_or_404(OnDemandRun.objects.select_related("group", "requested_by"), pk=run_id, application=app)
    return render_region(request, "on_demand/run.html", "run-progress", run_context(app, run))


urlpatterns = [
    path("apps/<int:app_id>/provision-on-demand/", on_demand_page, name="on_demand"),
    path("apps/<int:app_id>/provision-on-demand/search/", search, name="on_demand_search"),
    path("apps/<int:app_id>/provision-on-demand/selection/", selection, name="on_demand_selection"),
    path("apps/<int:app_id>/provision-on-demand/<int:run_id>/", run_page, name="on_demand_run"),
]
