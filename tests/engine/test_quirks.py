"""Adapting to the target: the manager in a PATCH of its own, member removal forms, refused and dropped paths
learned per app (Application.target_quirks), and Forget on the Provisioning page."""

import json

import httpx
import pytest
from django.urls import reverse

from provisioning.engine.context import INITIATED_BY, RunContext
from provisioning.engine.pipeline import provision_group, provision_user
from provisioning.models import Application, ExportState
from provisioning.scim.payload import ENTERPRISE_USER
from tests import factories
from tests.scim.misbehaving import Reply, misbehaving_server, scim_error  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def run(app, obj, **kwargs):
    app.refresh_from_db()
    ctx = RunContext(application=app, initiated_by=INITIATED_BY.ADMIN)
    try:
        return (provision_group if hasattr(obj, "members") else provision_user)(ctx, obj, **kwargs)
    finally:
        ctx.close()


def read(app, token, endpoint):
    response = httpx.get(f"{app.tenant_url}/{endpoint}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    response.raise_for_status()
    return response.json()


def patches(log):
    return [json.loads(t["request_body"])["Operations"] for t in log.traffic if t.get("method") == "PATCH"]


def quirks_of(app):
    return Application.objects.get(pk=app.pk).target_quirks


@pytest.fixture
def entra_app(scim_app):
    scim_app.entra_compatible = True
    scim_app.save()
    return scim_app


def test_a_manager_change_travels_alone_as_a_value_object_in_entra_mode(entra_app, scim_server):
    first, second = factories.DirectoryUserFactory(), factories.DirectoryUserFactory()
    jane = factories.DirectoryUserFactory(manager=first)
    for user in (first, second, jane):
        factories.AssignmentFactory(application=entra_app, user=user)
        run(entra_app, user)
    jane.manager, jane.job_title = second, "Principal Engineer"
    jane.save()

    log = run(entra_app, jane)

    assert log.status == "success", log.error_description
    sent = patches(log)
    manager_path = f"{ENTERPRISE_USER}:manager"
    assert len(sent) == 2 and all(op["path"] != manager_path for op in sent[0])  # the other changes first
    second_id = ExportState.objects.get(application=entra_app, source_id=second.object_id).target_id
    assert sent[1] == [{"op": "Replace", "path": manager_path, "value": {"value": second_id}}]
    stored = read(entra_app, scim_server.token, f"Users/{log.target_id}")
    assert stored[ENTERPRISE_USER]["manager"]["value"] == second_id
    assert stored["title"] == "Principal Engineer"


def test_member_removal_falls_back_to_the_filter_form_and_remembers_it(scim_app, scim_server):
    users = factories.DirectoryUserFactory.create_batch(3)
    group = factories.DirectoryGroupFactory(display_name="Pilot", members=users)
    factories.AssignmentFactory(application=scim_app, user=None, group=group)
    for user in users:
        run(scim_app, user)
    created = run(scim_app, group)  # (stock scim2-server refuses Entra's ADSCIM schema in a group's create)
    assert created.status == "success", created.error_description
    scim_app.entra_compatible = True
    scim_app.save()
    entra_app = scim_app
    group.members.remove(users[0])

    log = run(entra_app, group)

    assert log.status == "success", log.error_description
    # scim2-server refuses Entra's value-list removal (400); the filter form is sent instead, and remembered.
    failed = [t for t in log.traffic if t.get("method") == "PATCH" and t["status"] == 400]
    assert json.loads(failed[0]["request_body"])["Operations"][0]["path"] == "members"
    assert quirks_of(entra_app)["shapes"]["member_removal"]["use"] == "filter"
    remaining = sorted(m["value"] for m in read(entra_app, scim_server.token, f"Groups/{log.target_id}")["members"])
    assert remaining == sorted(ExportState.objects.filter(source_id__in=[u.object_id for u in users[1:]]).values_list("target_id", flat=True))

    group.members.remove(users[1])
    again = run(entra_app, group)
    assert [t["status"] for t in again.traffic if t.get("method") == "PATCH"] == [204]  # straight to the form that works
    assert patches(again)[0][0]["path"].startswith("members[value eq ")


def test_additions_land_when_the_removal_is_refused_in_both_forms(entra_app, misbehaving_server):
    members = {"g1": ["u1", "u2"]}

    def respond(request):
        if request.method == "PATCH":
            operations = request.json()["Operations"]
            if any(op["op"].lower() == "remove" for op in operations):
                return Reply(501, scim_error(501, "", status_as_int=True))
            for op in operations:
                if op["path"] == "members":
                    members["g1"] += [v["value"] for v in op["value"]]
            return Reply(204)
        return Reply(200, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1", "displayName": "Pilot",
                           "members": [{"value": v} for v in members["g1"]]})

    server = misbehaving_server(respond)
    users = factories.DirectoryUserFactory.create_batch(3)
    group = factories.DirectoryGroupFactory(display_name="Pilot", members=users[1:])
    entra_app.tenant_url = server.url
    entra_app.save()
    for user, target in zip(users, ["u1", "u2", "u3"]):
        factories.AssignmentFactory(application=entra_app, user=user)
        ExportState.objects.create(application=entra_app, object_type="user", source_id=user.object_id, target_id=target)
    factories.AssignmentFactory(application=entra_app, user=None, group=group)
    ExportState.objects.create(application=entra_app, object_type="group", source_id=group.object_id, target_id="g1",
                               members=["u1", "u2"], exported={"displayName": "Pilot", "externalId": str(group.object_id)})

    log = run(entra_app, group)

    assert log.status == "failure", log.steps
    assert "u3" in members["g1"], (log.error_description, [(t.get("method"), t.get("status"), t.get("request_body")) for t in log.traffic])  # the addition was sent apart from the refused removal, and landed
    assert "501" in log.error_description


def test_a_path_the_target_does_not_implement_is_left_out_and_the_rest_lands(scim_app, misbehaving_server):
    held = {"userName": "jane@contoso.example", "title": "Engineer", "displayName": "Jane Doe", "active": True}
    sent = []

    def respond(request):
        if request.method == "PATCH":
            operations = request.json()["Operations"]
            sent.append(operations)
            if any(op["path"] == "title" for op in operations):
                return Reply(501, scim_error(501, "", status_as_int=True))  # django-scim2: 501, empty detail
            for op in operations:
                held[op["path"]] = op["value"]
            return Reply(204)
        return Reply(200, {"schemas": [USER_SCHEMA], "id": "7", **held})

    server = misbehaving_server(respond)
    jane = factories.DirectoryUserFactory(user_principal_name="jane@contoso.example", display_name="Jane Doe", job_title="Engineer")
    factories.AssignmentFactory(application=scim_app, user=jane)
    ExportState.objects.create(application=scim_app, object_type="user", source_id=jane.object_id, target_id="7")
    scim_app.tenant_url = server.url
    scim_app.save()
    jane.job_title, jane.display_name = "Principal Engineer", "Jane Q. Doe"
    jane.save()

    log = run(scim_app, jane)

    assert log.status == "warning", log.error_description
    assert held["displayName"] == "Jane Q. Doe" and held["title"] == "Engineer"
    assert "title left out" in log.error_description and "501 Not Implemented" in log.error_description
    assert quirks_of(scim_app)["refused"]["Users"]["title"]["status"] == 501
    assert ExportState.objects.get(source_id=jane.object_id).exported.get("title") != "Principal Engineer"

    # Next time title is not sent at all: one PATCH, the rest lands, the entry says what was left out.
    sent.clear()
    jane.job_title, jane.display_name = "CTO", "Jane Doe"
    jane.save()
    again = run(scim_app, jane)
    assert again.status == "warning"
    assert len(sent) == 1 and all(op["path"] != "title" for op in sent[0])
    assert "title was not sent" in again.error_description and held["displayName"] == "Jane Doe"


def test_a_create_whose_answer_lacks_attributes_warns_and_does_not_patch_them(scim_app, misbehaving_server):
    requests = []

    def respond(request):
        requests.append(request.method)
        if request.method == "POST":
            body = request.json()
            body.pop("title", None)  # django-scim2 stores no title
            return Reply(201, {**body, "id": "42"})
        if request.method == "GET" and "filter" in request.query:
            return Reply(200, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "Resources": []})
        return Reply(200, {"schemas": [USER_SCHEMA], "id": "42", "userName": "ann@contoso.example", "active": True})

    server = misbehaving_server(respond)
    scim_app.tenant_url = server.url
    scim_app.save()
    ann = factories.DirectoryUserFactory(user_principal_name="ann@contoso.example")
    factories.AssignmentFactory(application=scim_app, user=ann)

    log = run(scim_app, ann)

    assert (log.action, log.status) == ("create", "warning"), log.error_description
    assert "the target dropped title" in log.error_description
    state = ExportState.objects.get(source_id=ann.object_id)
    assert "title" not in state.exported and state.exported["userName"] == "ann@contoso.example"
    assert "title" in quirks_of(scim_app)["dropped"]["Users"]


def test_a_learned_boolean_shape_is_used_for_disables(entra_app, misbehaving_server):
    held = {"active": True}

    def respond(request):
        if request.method == "PATCH":
            operations = request.json()["Operations"]
            if any(op["value"] == "False" for op in operations):
                return Reply(400, scim_error(400, "active must be a boolean", "invalidValue", status_as_int=True))
            held["active"] = operations[0]["value"]
            return Reply(204)
        return Reply(200, {"schemas": [USER_SCHEMA], "id": "9", "userName": "bo@contoso.example", **held})

    server = misbehaving_server(respond)
    entra_app.tenant_url = server.url
    entra_app.save()
    bo = factories.DirectoryUserFactory(user_principal_name="bo@contoso.example", account_enabled=False)
    factories.AssignmentFactory(application=entra_app, user=bo)
    ExportState.objects.create(application=entra_app, object_type="user", source_id=bo.object_id, target_id="9",
                               exported={"userName": "bo@contoso.example", "active": True})

    log = run(entra_app, bo)

    assert (log.action, log.status) == ("disable", "success"), log.error_description
    assert held["active"] is False
    assert quirks_of(entra_app)["shapes"]["active"]["use"] == "boolean"


def test_the_provisioning_page_lists_lessons_and_forgets_them(admin_client, scim_app):
    scim_app.target_quirks = {
        "shapes": {"member_removal": {"use": "value_list", "why": "App refused member removal by filter (400)", "at": "2026-12-01T12:00:00"}},
        "refused": {"Users": {"title": {"why": "501 Not Implemented to a PATCH of it", "at": "2026-12-01T12:00:00", "status": 501}}},
    }
    scim_app.save()
    page = admin_client.get(reverse("apps:provisioning", args=[scim_app.id]))
    text = page.content.decode()
    assert "What was learned about the target" in text and "Leaves title out of updates of Users (the target refuses it)" in text
    assert "member removal by a value list" in text

    response = admin_client.post(reverse("apps:forget_target_quirks", args=[scim_app.id]), {"lesson": "refused|Users: title"})
    assert response.status_code == 302
    assert quirks_of(scim_app) == {"shapes": scim_app.target_quirks["shapes"]}

    admin_client.post(reverse("apps:forget_target_quirks", args=[scim_app.id]), {"lesson": "all|"})
    assert quirks_of(scim_app) == {}
    bad = admin_client.post(reverse("apps:forget_target_quirks", args=[scim_app.id]), {"lesson": "nonsense"}, follow=True)
    assert "Nothing was forgotten" in bad.content.decode()


def test_helpdesk_cannot_forget(helpdesk_client, scim_app):
    scim_app.target_quirks = {"shapes": {"active": {"use": "boolean", "why": "", "at": ""}}}
    scim_app.save()
    response = helpdesk_client.post(reverse("apps:forget_target_quirks", args=[scim_app.id]), {"lesson": "all|"})
    assert response.status_code in (302, 403)
    assert quirks_of(scim_app) != {}
