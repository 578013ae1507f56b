"""/users and /groups by objectId: create, read, update, delete (soft, as Graph), members and manager by $ref."""

import pytest

from provisioning.models import DirectoryGroup, DirectoryUser
from tests import factories
from tests.api.conftest import graph_error

pytestmark = pytest.mark.django_db


def test_create_read_update_delete_a_user(admin_api, reader_api):
    response = admin_api.post("users", body={"userPrincipalName": "ada@contoso.example", "displayName": "Ada Lovelace",
                                             "department": "Research", "accountEnabled": True})
    assert response.status_code == 201, response.content
    created = response.json()
    user = DirectoryUser.objects.get(user_principal_name="ada@contoso.example")
    assert created["id"] == str(user.object_id)
    assert created["displayName"] == "Ada Lovelace" and created["jobTitle"] is None

    assert reader_api.get(f"users/{user.object_id}").json() == created

    assert admin_api.patch(f"users/{user.object_id}", body={"jobTitle": "Analyst", "accountEnabled": False}).status_code == 204
    user.refresh_from_db()
    assert (user.job_title, user.account_enabled, user.department) == ("Analyst", False, "Research")

    before = user.updated_at
    assert admin_api.delete(f"users/{user.object_id}").status_code == 204
    user.refresh_from_db()
    assert user.deleted_at is not None and user.updated_at > before  # the next cycle disables it in every app
    graph_error(reader_api.get(f"users/{user.object_id}"), 404)
    assert str(user.object_id) not in [u["id"] for u in reader_api.get("users").json()["value"]]


def test_a_taken_user_principal_name_is_a_409(admin_api):
    factories.DirectoryUserFactory(user_principal_name="taken@contoso.example")
    error = graph_error(admin_api.post("users", body={"userPrincipalName": "taken@contoso.example"}), 409)
    assert error["message"] == "Another user already has this userPrincipalName: 'taken@contoso.example'. Choose another value."
    assert DirectoryUser.objects.count() == 1


def test_too_long_values_are_named(admin_api):
    error = graph_error(admin_api.post("users", body={"userPrincipalName": "x@contoso.example", "department": "d" * 65}), 400)
    assert error["details"][0]["target"] == "department"
    assert "at most 64 characters" in error["details"][0]["message"]


@pytest.mark.parametrize("path", ["users/not-a-guid", "groups/42"])
def test_an_id_that_is_not_an_object_id(reader_api, path):
    assert "is not an objectId" in graph_error(reader_api.get(path), 400)["message"]


def test_unknown_object_id_is_a_404(reader_api):
    error = graph_error(reader_api.get("users/3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f"), 404)
    assert error["message"] == "No user with objectId 3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f in the directory: it may have been deleted."


def test_users_page_through_next_link(reader_api):
    made = factories.DirectoryUserFactory.create_batch(5)
    seen, url = [], "users?$top=2"
    while url:
        answer = reader_api.get(url).json()
        seen += [u["id"] for u in answer["value"]]
        url = answer.get("@odata.nextLink")
    assert seen == [str(u.object_id) for u in made]


def test_manager_by_ref(admin_api, reader_api):
    boss, user = factories.DirectoryUserFactory(display_name="Boss"), factories.DirectoryUserFactory()
    graph_error(reader_api.get(f"users/{user.object_id}/manager"), 404)
    body = {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{boss.object_id}"}
    assert admin_api.put(f"users/{user.object_id}/manager/$ref", body=body).status_code == 204
    assert reader_api.get(f"users/{user.object_id}/manager").json()["displayName"] == "Boss"
    error = graph_error(admin_api.put(f"users/{user.object_id}/manager/$ref", body={"@odata.id": str(user.object_id)}), 400)
    assert error["message"] == "A user cannot be their own manager: choose another user."
    assert admin_api.delete(f"users/{user.object_id}/manager/$ref").status_code == 204
    user.refresh_from_db()
    assert user.manager is None


def test_create_read_update_delete_a_group(admin_api, reader_api):
    response = admin_api.post("groups", body={"displayName": "Pilot users", "mailNickname": "pilot"})
    assert response.status_code == 201, response.content
    group = DirectoryGroup.objects.get(display_name="Pilot users")
    assert response.json()["id"] == str(group.object_id) and response.json()["securityEnabled"] is True
    assert admin_api.patch(f"groups/{group.object_id}", body={"description": "The pilot"}).status_code == 204
    assert reader_api.get(f"groups/{group.object_id}").json()["description"] == "The pilot"
    assert [g["displayName"] for g in reader_api.get("groups").json()["value"]] == ["Pilot users"]
    assert admin_api.delete(f"groups/{group.object_id}").status_code == 204
    group.refresh_from_db()
    assert group.deleted_at is not None
    assert reader_api.get("groups").json()["value"] == []


def test_a_group_needs_a_display_name(admin_api):
    error = graph_error(admin_api.post("groups", body={"description": "nameless"}), 400)
    assert error["details"][0]["message"] == "displayName is required"


def test_members_by_ref(admin_api, reader_api):
    group, user = factories.DirectoryGroupFactory(), factories.DirectoryUserFactory()
    before = user.updated_at
    body = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user.object_id}"}
    assert admin_api.post(f"groups/{group.object_id}/members/$ref", body=body).status_code == 204
    assert [m["id"] for m in reader_api.get(f"groups/{group.object_id}/members").json()["value"]] == [str(user.object_id)]
    user.refresh_from_db()
    assert user.updated_at > before  # the membership change reaches the next incremental cycle

    error = graph_error(admin_api.post(f"groups/{group.object_id}/members/$ref", body=body), 409)
    assert "is already a member of" in error["message"]

    assert admin_api.delete(f"groups/{group.object_id}/members/{user.object_id}/$ref").status_code == 204
    assert reader_api.get(f"groups/{group.object_id}/members").json()["value"] == []
    error = graph_error(admin_api.delete(f"groups/{group.object_id}/members/{user.object_id}/$ref"), 404)
    assert "is not a member of" in error["message"]


def test_adding_a_member_that_does_not_exist(admin_api):
    group = factories.DirectoryGroupFactory()
    body = {"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f"}
    graph_error(admin_api.post(f"groups/{group.object_id}/members/$ref", body=body), 404)
    error = graph_error(admin_api.post(f"groups/{group.object_id}/members/$ref", body={"id": "x"}), 400)
    assert error["details"][0]["target"] == "@odata.id"


def test_find_a_user_by_user_principal_name_as_graph_scripts_do(reader_api):
    jane = factories.DirectoryUserFactory(user_principal_name="Jane@Contoso.example", department="HR", account_enabled=False)
    factories.DirectoryUserFactory(department="HR")
    found = reader_api.get("users?$filter=userPrincipalName eq 'jane@contoso.example'").json()["value"]
    assert [u["id"] for u in found] == [str(jane.object_id)]
    found = reader_api.get("users?$filter=department eq 'HR' and accountEnabled eq false").json()["value"]
    assert [u["id"] for u in found] == [str(jane.object_id)]
    found = reader_api.get(f"users?$filter=id eq '{jane.object_id}'").json()["value"]
    assert [u["id"] for u in found] == [str(jane.object_id)]
    error = graph_error(reader_api.get("users?$filter=accountEnabled eq 'no'"), 400)
    assert error["message"] == "accountEnabled is true or false (unquoted), not 'no'."
    error = graph_error(reader_api.get("users?$filter=startswith(displayName,'J')"), 400)
    assert "does not support functions" in error["message"]


def test_find_a_group_by_display_name(reader_api):
    pilot = factories.DirectoryGroupFactory(display_name="Pilot users")
    factories.DirectoryGroupFactory(display_name="Others")
    found = reader_api.get("groups?$filter=displayName eq 'pilot users'").json()["value"]
    assert [g["id"] for g in found] == [str(pilot.object_id)]


def test_select_narrows_the_properties(reader_api):
    user = factories.DirectoryUserFactory()
    assert reader_api.get(f"users/{user.object_id}?$select=displayName").json() == {
        "@odata.type": "#microsoft.graph.user", "id": str(user.object_id), "displayName": user.display_name}
    listed = reader_api.get("users?$select=userPrincipalName,mail").json()["value"]
    assert set(listed[0]) == {"@odata.type", "id", "userPrincipalName", "mail"}
    error = graph_error(reader_api.get("users?$select=password"), 400)
    assert error["message"].startswith("$select names password, which is not a property here: choose from ")


@pytest.mark.parametrize("path,option", [("users?$orderby=displayName", "$orderby"), ("users/{id}?$filter=x", "$filter"),
                                         ("groups?$count=true", "$count"), ("users?$expand=manager", "$expand")])
def test_query_options_an_operation_does_not_support_are_refused(reader_api, path, option):
    user = factories.DirectoryUserFactory()
    error = graph_error(reader_api.get(path.format(id=user.object_id)), 400)
    assert f"does not support {option}: the query options it supports are " in error["message"]


def test_directory_writes_through_the_api_are_audited_as_the_pages_are(admin_api):
    from provisioning.models import AuditEntry

    admin_api.post("users", body={"userPrincipalName": "ada@contoso.example", "displayName": "Ada"})
    user = DirectoryUser.objects.get(user_principal_name="ada@contoso.example")
    admin_api.patch(f"users/{user.object_id}", body={"jobTitle": "Analyst"})
    admin_api.delete(f"users/{user.object_id}")
    entries = list(AuditEntry.objects.order_by("pk"))
    assert [(e.activity, e.category) for e in entries] == [("Add user", "directory"), ("Update user", "directory"),
                                                           ("Delete user", "directory")]
    assert all(e.initiated_by.startswith("API token '") for e in entries)
    assert {"name": "jobTitle", "old": "", "new": "Analyst"} in entries[1].modified_properties
