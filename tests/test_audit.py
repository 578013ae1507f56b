"""provisioning/audit.py and the Audit logs page: every kind of configuration change is recorded old → new,
secrets only as "changed"; Administrators and Helpdesk read the entries with filters in the query string."""

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from provisioning import audit
from provisioning.directory_import import import_directory
from provisioning.engine.cycle import start_provisioning, stop_provisioning
from provisioning.engine.restart import restart_provisioning
from provisioning.models import AuditEntry, ObjectMapping
from tests import factories
from tests.views.test_mappings import ENTERPRISE, HTMX, mapping_post, scoping_post, url
from tests.views.test_settings_page import TOKEN, settings_data

pytestmark = pytest.mark.django_db
NEW_TOKEN = "tok-NEW-9b1e-DISTINCTIVE-secret"


def entries(**filters):
    return list(AuditEntry.objects.filter(**filters).order_by("id"))


def changes_of(entry):
    return {c["name"]: (c["old"], c["new"]) for c in entry.modified_properties}


@pytest.fixture
def app(db):
    return factories.ApplicationFactory(name="Contoso HR", secret_token=TOKEN)


def test_saving_credentials_records_old_and_new_and_a_secret_only_as_changed(admin_client, admin_user, app):
    old_url = app.tenant_url
    response = admin_client.post(reverse("apps:provisioning", args=[app.id]),
                                 settings_data(tenant_url="https://other.example.com/scim/v2", secret_token=NEW_TOKEN))
    assert response.status_code == 302
    [entry] = entries(activity="Update provisioning settings")
    assert (entry.application, entry.application_name, entry.initiated_by) == (app, "Contoso HR", admin_user.username)
    assert entry.get_category_display() == "ApplicationManagement"
    changed = changes_of(entry)
    assert changed["Tenant URL"] == (old_url, "https://other.example.com/scim/v2")
    assert changed["Secret Token"] == ("set", "changed")
    stored = json.dumps(entry.modified_properties) + entry.target
    assert TOKEN not in stored and NEW_TOKEN not in stored and "gAAAA" not in stored  # nor the ciphertext

    # Saving again without a change records nothing.
    admin_client.post(reverse("apps:provisioning", args=[app.id]), settings_data(tenant_url="https://other.example.com/scim/v2"))
    assert len(entries(activity="Update provisioning settings")) == 1


def test_mappings_and_scoping_filters_are_recorded(admin_client, app):
    users = ObjectMapping.objects.get(application=app, object_type="user")
    admin_client.post(url("mapping_new", app), mapping_post(), **HTMX)
    added = users.attribute_mappings.get(target_attribute=f"{ENTERPRISE}:division")
    admin_client.post(url("mapping_edit", app, added.id), mapping_post(source_attribute="department"), **HTMX)
    admin_client.post(url("mapping_delete", app, added.id), **HTMX)
    add, edit, delete = entries(activity__endswith="attribute mapping")
    assert (add.activity, edit.activity, delete.activity) == ("Add attribute mapping", "Update attribute mapping", "Delete attribute mapping")
    assert changes_of(add)["target attribute"] == ("", f"{ENTERPRISE}:division")
    assert changes_of(edit) == {"source attribute": ("jobTitle", "department")}
    assert changes_of(delete)["target attribute"] == (f"{ENTERPRISE}:division", "")
    assert all(e.application == app for e in (add, edit, delete))

    admin_client.post(url("scoping_new", app), scoping_post("Sales only", [("department", "EQUALS", "Sales")]), **HTMX)
    scoping_filter = users.scoping_filters.get()
    admin_client.post(url("scoping_edit", app, scoping_filter.id), scoping_post("Sales only", [("department", "EQUALS", "Marketing")]), **HTMX)
    admin_client.post(url("scoping_delete", app, scoping_filter.id))
    add, edit, delete = entries(activity__endswith="scoping filter")
    assert changes_of(add)["Clauses"] == ("", "department EQUALS Sales")
    assert changes_of(edit) == {"Clauses": ("department EQUALS Sales", "department EQUALS Marketing")}
    assert delete.activity == "Delete scoping filter" and changes_of(delete)["Clauses"] == ("department EQUALS Marketing", "")

    admin_client.post(reverse("apps:mappings_restore", args=[app.id, "user"]))
    assert entries(activity="Restore default mappings")[0].application == app


def test_assignments_start_stop_restart_and_imports_are_recorded(admin_client, admin_user, app):
    jane = factories.DirectoryUserFactory(display_name="Jane Doe")
    admin_client.post(reverse("apps:assign", args=[app.id]), {"users": [jane.id]})
    [assigned] = entries(activity="Add app role assignment")
    assert assigned.target == "Jane Doe" and assigned.get_category_display() == "UserManagement"
    assignment = app.assignments.get()
    admin_client.post(reverse("apps:unassign", args=[app.id]), {"assignment": assignment.id})
    assert changes_of(entries(activity="Remove app role assignment")[0]) == {"Assigned": ("Jane Doe", "")}

    start_provisioning(app, requested_by=admin_user)
    stop_provisioning(app, requested_by=admin_user)
    restart_provisioning(app, "Escrows,Watermark", requested_by=admin_user)
    assert [e.activity for e in entries(category="provisioning")] == ["Start provisioning", "Stop provisioning", "Restart provisioning"]
    assert changes_of(entries(activity="Restart provisioning")[0])["Scope"][1] == "Escrows, Watermark"

    document = json.dumps({"users": [{"userPrincipalName": "new.person@contoso.example", "displayName": "New Person"}]})
    import_directory(document, name="people.json")
    import_directory(document, name="people.json", dry_run=True)  # a dry run changes nothing: not recorded
    [imported] = entries(activity="Import directory")
    assert imported.target == "people.json" and imported.initiated_by == "manage.py import_directory"
    assert "1 created" in changes_of(imported)["Result"][1]


def test_a_new_application_is_recorded_from_the_portal_and_from_create_app(admin_client, tmp_path):
    admin_client.post(reverse("apps:create"), {"name": "Slack"})
    [added] = entries(activity="Add application")
    assert added.application.name == "Slack" and changes_of(added)["name"] == ("", "Slack")

    from django.core.management import call_command

    token_file = tmp_path / "token"
    token_file.write_text("a-real-token-value-123\n")
    call_command("create_app", "Zoom", "--tenant-url", "https://zoom.example.com/scim/v2", "--token-file", str(token_file))
    zoom = entries(activity="Add application")[1]
    assert zoom.initiated_by == "manage.py create_app"
    assert changes_of(zoom)["Secret Token"] == ("not set", "changed")
    assert "a-real-token-value-123" not in json.dumps(zoom.modified_properties)


@pytest.fixture
def some_entries(app):
    other = factories.ApplicationFactory(name="Slack")
    audit.record("Start provisioning", by="ada", application=app)
    audit.record("Update provisioning settings", by="bob", application=other, category=audit.Category.APPLICATION,
                 changes=[{"name": "Scope", "old": "Sync only assigned users and groups", "new": "Sync all users and groups"}])
    old = audit.record("Stop provisioning", by="ada", application=app)
    AuditEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=10))
    return app, other


def test_the_page_lists_entries_newest_first_with_old_and_new(admin_client, some_entries):
    page = admin_client.get(reverse("apps:audit")).content.decode()
    assert page.index("Update provisioning settings") < page.index("Start provisioning") < page.index("Stop provisioning")
    assert "Sync only assigned users and groups" in page and "→" in page
    assert f'href="{reverse("apps:audit")}"' in page  # the navigation links here


@pytest.mark.parametrize(("query", "shown", "hidden"), [
    ({"application": "APP"}, ["Start provisioning", "Stop provisioning"], ["Update provisioning settings"]),
    ({"date": "7d"}, ["Start provisioning", "Update provisioning settings"], ["Stop provisioning"]),
    ({"initiated_by": "BO"}, ["Update provisioning settings"], ["Start provisioning"]),
    ({"activity": "stop", "category": "provisioning"}, ["Stop provisioning"], ["Start provisioning"]),
])
def test_filters_come_from_the_query_string(admin_client, some_entries, query, shown, hidden):
    app, _ = some_entries
    query = {k: (app.id if v == "APP" else v) for k, v in query.items()}
    table = admin_client.get(reverse("apps:audit"), query, **HTMX).content.decode()
    assert "<html" not in table
    for text in shown:
        assert f"<td>{text}</td>" in table
    for text in hidden:
        assert f"<td>{text}</td>" not in table


def test_a_bad_filter_says_what_is_wrong(admin_client, some_entries):
    response = admin_client.get(reverse("apps:audit"), {"application": "987654", "date": "forever"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "That application does not exist (any more)" in page and "forever is not one" in page
    assert "Fix the filters marked in red" in page


def test_helpdesk_reads_and_others_may_not(helpdesk_client, client, some_entries, django_user_model):
    assert helpdesk_client.get(reverse("apps:audit")).status_code == 200
    nobody = factories.UserFactory()
    client.force_login(nobody)
    assert client.get(reverse("apps:audit")).status_code == 403
