"""Who may call the API: no token, a wrong, revoked or expired token → 401; a read-only token → 403 on every
write; throttling per token → 429; every call audited. All in Graph's error shape."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.models import ApiCall
from tests import factories
from tests.api.conftest import ApiClient, graph_error

pytestmark = pytest.mark.django_db

APP = "servicePrincipals/{app}/synchronization/jobs/{job}"
# Every write endpoint, with a body that would be valid, and the one read only Administrators have.
ADMIN_ONLY = [
    ("post", APP + "/start", None),
    ("post", APP + "/pause", None),
    ("post", APP + "/restart", {"criteria": {"resetScope": "Watermark"}}),
    ("post", APP + "/provisionOnDemand", {"parameters": [{"subjects": [{"objectId": "{user}", "objectTypeName": "User"}], "ruleId": "r"}]}),
    ("put", APP + "/schema", {"format": "x"}),
    ("get", APP + "/schema", None),  # the mapping configuration: Administrators only, as its pages
    ("post", "users", {"userPrincipalName": "new@contoso.example"}),
    ("patch", "users/{user}", {"department": "Sales"}),
    ("delete", "users/{user}", None),
    ("put", "users/{user}/manager/$ref", {"@odata.id": "https://portal/api/v1/users/{manager}"}),
    ("delete", "users/{user}/manager/$ref", None),
    ("post", "groups", {"displayName": "New group"}),
    ("patch", "groups/{group}", {"description": "changed"}),
    ("delete", "groups/{group}", None),
    ("post", "groups/{group}/members/$ref", {"@odata.id": "https://portal/api/v1/directoryObjects/{manager}"}),
    ("delete", "groups/{group}/members/{user}/$ref", None),
]
READS = [
    "servicePrincipals",
    "servicePrincipals/{app}",
    "servicePrincipals/{app}/synchronization/jobs",
    APP,
    "auditLogs/provisioning",
    "users",
    "users/{user}",
    "users/{user}/manager",
    "groups",
    "groups/{group}",
    "groups/{group}/members",
]


@pytest.fixture
def objects():
    app = factories.ApplicationFactory()
    manager = factories.DirectoryUserFactory()
    user = factories.DirectoryUserFactory(manager=manager)
    group = factories.DirectoryGroupFactory(members=[user])
    return {"app": app.pk, "job": app.job_id, "user": user.object_id, "manager": manager.object_id, "group": group.object_id}


def _fill(value, objects):
    if isinstance(value, str):
        return value.format(**objects)
    if isinstance(value, list):
        return [_fill(v, objects) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, objects) for k, v in value.items()}
    return value


@pytest.mark.parametrize("path", READS)
def test_without_a_token_every_endpoint_answers_401_saying_what_to_send(anonymous_api, objects, path):
    error = graph_error(anonymous_api.get(_fill(path, objects)), 401)
    assert error["code"] == "InvalidAuthenticationToken"
    assert "Authorization: Bearer" in error["message"] and "API tokens page" in error["message"]


@pytest.mark.parametrize("method,path,body", ADMIN_ONLY)
def test_without_a_token_no_write_happens(anonymous_api, objects, method, path, body):
    kwargs = {"body": _fill(body, objects)} if body is not None else {}
    graph_error(getattr(anonymous_api, method)(_fill(path, objects), **kwargs), 401)


@pytest.mark.parametrize("role", ["reader", "admin"])
@pytest.mark.parametrize("path", READS)
def test_both_roles_read_what_helpdesk_reads(request, objects, path, role):
    api = request.getfixturevalue(f"{role}_api")
    response = api.get(_fill(path, objects))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("method,path,body", ADMIN_ONLY)
def test_an_admin_token_is_not_refused_anything(admin_api, objects, method, path, body):
    kwargs = {"body": _fill(body, objects)} if body is not None else {}
    response = getattr(admin_api, method)(_fill(path, objects), **kwargs)
    # Some of these bodies are not what the endpoint accepts (e.g. a schema of {"format": "x"}): never a 401/403.
    assert response.status_code not in (401, 403), response.content


@pytest.mark.parametrize("method,path,body", ADMIN_ONLY)
def test_a_read_only_token_gets_403_on_every_write_and_nothing_changes(reader_api, reader_token, objects, method, path, body):
    from provisioning.models import Application, DirectoryGroup, DirectoryUser

    before = (DirectoryUser.objects.filter(deleted_at__isnull=True).count(), DirectoryGroup.objects.filter(deleted_at__isnull=True).count(),
              list(Application.objects.values_list("provisioning_enabled", "job_status")),
              list(DirectoryUser.objects.values_list("manager_id", flat=True).order_by("pk")))
    kwargs = {"body": _fill(body, objects)} if body is not None else {}
    error = graph_error(getattr(reader_api, method)(_fill(path, objects), **kwargs), 403)
    assert error["code"] == "Authorization_RequestDenied"
    assert error["message"] == (f"Only Administrators can do this: the token '{reader_token.name}' is read-only. Use a "
                                "token with the Administrator role.")
    after = (DirectoryUser.objects.filter(deleted_at__isnull=True).count(), DirectoryGroup.objects.filter(deleted_at__isnull=True).count(),
             list(Application.objects.values_list("provisioning_enabled", "job_status")),
             list(DirectoryUser.objects.values_list("manager_id", flat=True).order_by("pk")))
    assert after == before
    assert DirectoryGroup.objects.get(object_id=objects["group"]).members.count() == 1


def test_a_revoked_token_is_refused_at_once(objects):
    token = factories.ApiTokenFactory(name="old script")
    api = ApiClient(token.text)
    assert api.get("servicePrincipals").status_code == 200
    token.revoked_at = timezone.now()
    token.save()
    error = graph_error(api.get("servicePrincipals"), 401)
    assert error["message"] == "The access token 'old script' was revoked: ask an Administrator for a new token."


def test_an_expired_token_is_refused_with_its_expiry(objects):
    token = factories.ApiTokenFactory(name="q3 report", expires_at=timezone.now() - timedelta(minutes=1))
    error = graph_error(ApiClient(token.text).get("servicePrincipals"), 401)
    assert error["message"].startswith("The access token 'q3 report' expired on ")


@pytest.mark.parametrize("header,words", [
    ("Bearer ppt_nothere_secret", "mistyped or deleted"),
    ("Bearer something-else", "not a portal API token"),
    ("Basic dXNlcjpwYXNz", "must read 'Bearer <token>'"),
])
def test_a_wrong_token_is_refused(db, header, words):
    error = graph_error(ApiClient().get("servicePrincipals", headers={"Authorization": header}), 401)
    assert words in error["message"]


def test_a_token_with_the_right_prefix_but_a_wrong_secret_is_refused(reader_token):
    forged = reader_token.text[:-4] + ("AAAA" if not reader_token.text.endswith("AAAA") else "BBBB")
    error = graph_error(ApiClient(forged).get("servicePrincipals"), 401)
    assert "mistyped or deleted" in error["message"]


def test_the_session_of_a_signed_in_administrator_is_not_an_api_credential(admin_client):
    response = admin_client.get("/api/v1/servicePrincipals")
    assert response.status_code == 401


def test_throttling_per_token_answers_429_with_retry_after(settings, reader_api, admin_api):
    settings.PORTAL_API_THROTTLE_RATE = "3/min"
    for _ in range(3):
        assert reader_api.get("servicePrincipals").status_code == 200
    response = reader_api.get("servicePrincipals")
    error = graph_error(response, 429)
    assert error["code"] == "TooManyRequests"
    assert int(response["Retry-After"]) >= 1
    assert f"wait {response['Retry-After']} seconds" in error["message"]
    # Another token has its own budget.
    assert admin_api.get("servicePrincipals").status_code == 200


def test_every_call_is_audited_with_the_token_name_and_request_id(reader_api, reader_token, admin_api):
    reader_api.get("servicePrincipals?x=1")
    admin_api.post("users", body={"userPrincipalName": "audited@contoso.example"})
    reader_api.post("users", body={"userPrincipalName": "refused@contoso.example"})
    ApiClient().get("users")
    calls = list(ApiCall.objects.order_by("at", "id"))
    assert [(c.token_name, c.method, c.path, c.status_code) for c in calls] == [
        ("helpdesk report", "GET", "/api/v1/servicePrincipals", 200),
        ("automation", "POST", "/api/v1/users", 201),
        ("helpdesk report", "POST", "/api/v1/users", 403),
        ("", "GET", "/api/v1/users", 401),
    ]
    assert calls[0].query == "x=1" and calls[0].token == reader_token
    assert all(isinstance(c.request_id, uuid.UUID) for c in calls)
    reader_token.refresh_from_db()
    assert reader_token.last_used_at is not None


def test_validation_errors_have_graphs_shape_and_name_the_field(admin_api):
    error = graph_error(admin_api.post("users", body={"displayName": "No UPN", "passwordProfile": {"password": "x"}}), 400)
    assert error["code"] == "BadRequest"
    targets = {d["target"]: d["message"] for d in error["details"]}
    assert targets["userPrincipalName"] == "userPrincipalName is required"
    assert targets["passwordProfile"] == "passwordProfile is not a property the portal knows: remove it"


def test_a_body_that_is_not_json_is_a_400(admin_api):
    error = graph_error(admin_api.post("users", body="{not json"), 400)
    assert error["code"] == "BadRequest"


def test_an_unknown_address_or_method_answers_in_graphs_shape(admin_api):
    error = graph_error(admin_api.get("nothing-here"), 404)
    assert "no resource at /api/v1/nothing-here" in error["message"]
    response = admin_api.delete("servicePrincipals")
    error = graph_error(response, 405)
    assert error["message"] == "DELETE is not a method of /api/v1/servicePrincipals: use GET."
    assert response["Allow"] == "GET"


def test_a_nul_character_in_a_json_body_is_refused_in_words(admin_api):
    error = graph_error(admin_api.post("users", body='{"userPrincipalName": "a\\u0000b@contoso.example"}'), 400)
    assert "NUL character" in error["message"]


def test_a_form_body_instead_of_json_is_a_400_not_a_crash(admin_api, db):
    app = factories.ApplicationFactory()
    response = admin_api.client.post(f"/api/v1/servicePrincipals/{app.pk}/synchronization/jobs/{app.job_id}/restart",
                                     {"criteria": "x"}, headers=admin_api.headers)
    error = graph_error(response, 400)
    assert error["message"] == "Send the request body as JSON, with Content-Type: application/json."
