"""The directory pages: Users and Groups lists with filters, a user's and a group's page, create / edit / delete
(Administrators; Helpdesk reads), and Provisioning to applications answered against the real scim2-server."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from provisioning import tasks
from provisioning.engine.on_demand import provision_on_demand, request_on_demand
from provisioning.models import DirectoryGroup, DirectoryUser, ObjectMapping, OnDemandRun, Quarantine
from tests import factories

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def enqueued(monkeypatch):
    ids = []
    monkeypatch.setattr(tasks.run_on_demand, "delay", lambda run_id: ids.append(run_id))
    return ids


@pytest.fixture
def org():
    """Jane (Engineering) reports to Lukasz; Bob (Sales) has no manager and is disabled; Sales EMEA holds Bob."""
    lukasz = factories.DirectoryUserFactory(display_name="Łukasz Żółć", user_principal_name="lukasz@contoso.example", department="Engineering")
    jane = factories.DirectoryUserFactory(display_name="Jane Doe", given_name="Jane", surname="Doe", user_principal_name="jane@contoso.example",
                                          department="Engineering", manager=lukasz, extension_attributes={"extension_costCenter": "CC-4100"})
    bob = factories.DirectoryUserFactory(display_name="Bob Stone", user_principal_name="bob@contoso.example", department="Sales",
                                         account_enabled=False)
    sales = factories.DirectoryGroupFactory(display_name="Sales EMEA", members=[bob])
    engineering = factories.DirectoryGroupFactory(display_name="Engineering", members=[jane, lukasz])
    return {"lukasz": lukasz, "jane": jane, "bob": bob, "sales": sales, "engineering": engineering}


def users_url(**params):
    from urllib.parse import urlencode

    return reverse("apps:directory_users") + (f"?{urlencode(params)}" if params else "")


def names(response):
    return [u.display_name for u in response.context["page"]]


# -------------------------------------------------------------------------------------------- lists


def test_it_lists_users_for_both_roles(admin_client, helpdesk_client, org):
    for client in (admin_client, helpdesk_client):
        response = client.get(users_url())
        assert response.status_code == 200
        assert names(response) == ["Bob Stone", "Jane Doe", "Łukasz Żółć"]
    assert "New user" in admin_client.get(users_url()).text
    assert "New user" not in helpdesk_client.get(users_url()).text


def test_a_user_without_a_portal_role_is_refused(client, org):
    client.force_login(factories.UserFactory())
    assert client.get(users_url()).status_code == 403
    assert client.get(reverse("apps:directory_user", args=[org["jane"].pk])).status_code == 403


@pytest.mark.parametrize("params, expected", [
    ({"department": "Sales"}, ["Bob Stone"]),
    ({"enabled": "no"}, ["Bob Stone"]),
    ({"enabled": "yes", "department": "Engineering"}, ["Jane Doe", "Łukasz Żółć"]),
    ({"has_manager": "yes"}, ["Jane Doe"]),
    ({"has_manager": "no"}, ["Bob Stone", "Łukasz Żółć"]),
    ({"q": "jane@"}, ["Jane Doe"]),
])
def test_the_user_filters(admin_client, org, params, expected):
    assert names(admin_client.get(users_url(**params))) == expected


def test_member_of_filters_by_group(admin_client, org):
    assert names(admin_client.get(users_url(member_of=org["engineering"].pk))) == ["Jane Doe", "Łukasz Żółć"]


def test_deleted_users_are_listed_apart(admin_client, org):
    org["bob"].deleted_at = timezone.now()
    org["bob"].save()
    assert "Bob Stone" not in names(admin_client.get(users_url()))
    assert names(admin_client.get(users_url(state="deleted"))) == ["Bob Stone"]
    assert len(names(admin_client.get(users_url(state="all")))) == 3


def test_a_bad_filter_is_a_400_that_names_it(admin_client, org):
    response = admin_client.get(users_url(enabled="maybe", member_of="999999"))
    assert response.status_code == 400
    assert "Enabled is Yes or No (maybe is not one)." in response.text
    assert "That group is not in the directory (any more)" in response.text


def test_the_filters_swap_only_the_table_for_htmx(admin_client, org):
    response = admin_client.get(users_url(department="Sales"), **HTMX)
    assert response.text.lstrip().startswith('<div id="user-table">')
    assert "Bob Stone" in response.text and "Jane Doe" not in response.text
    assert "HX-Request" in response["Vary"]


def test_the_list_pages_and_keeps_the_filters(admin_client):
    factories.DirectoryUserFactory.create_batch(55, department="Ops")
    first = admin_client.get(users_url(department="Ops"))
    assert len(first.context["page"]) == 50 and "page 1 of 2" in first.text
    assert "department=Ops&amp;page=2" in first.text
    assert len(admin_client.get(users_url(department="Ops", page=2)).context["page"]) == 5


def test_the_user_list_costs_the_same_queries_for_5_or_50_rows(admin_client, admin_user):
    factories.DirectoryUserFactory.create_batch(5, manager=factories.DirectoryUserFactory())
    admin_client.get(users_url())  # the session and role lookups, once
    with CaptureQueriesContext(connection) as few:
        admin_client.get(users_url())
    factories.DirectoryUserFactory.create_batch(45, manager=factories.DirectoryUserFactory())
    with CaptureQueriesContext(connection) as many:
        admin_client.get(users_url())
    assert len(many) == len(few) <= 10


def test_it_lists_groups_with_member_counts_and_filters(admin_client, helpdesk_client, org):
    factories.DirectoryGroupFactory(display_name="Empty")
    response = helpdesk_client.get(reverse("apps:directory_groups"))
    assert [(g.display_name, g.member_count) for g in response.context["page"]] == [("Empty", 0), ("Engineering", 2), ("Sales EMEA", 1)]
    response = admin_client.get(reverse("apps:directory_groups"), {"has_members": "no"})
    assert [g.display_name for g in response.context["page"]] == ["Empty"]
    response = admin_client.get(reverse("apps:directory_groups"), {"q": "emea"})
    assert [g.display_name for g in response.context["page"]] == ["Sales EMEA"]


# --------------------------------------------------------------------------------------- user page


def test_the_user_page_shows_every_attribute_manager_reports_and_groups(helpdesk_client, org):
    jane, lukasz = org["jane"], org["lukasz"]
    body = helpdesk_client.get(reverse("apps:directory_user", args=[jane.pk])).text
    for text in ("userPrincipalName", "jane@contoso.example", str(jane.object_id), "employeeId", jane.employee_id,
                 "extension_costCenter", "CC-4100", "Łukasz Żółć", "Engineering"):
        assert text in body
    assert "Edit properties" not in body and "Provision now" not in body
    body = helpdesk_client.get(reverse("apps:directory_user", args=[lukasz.pk])).text
    assert reverse("apps:directory_user", args=[jane.pk]) in body  # a direct report


# --------------------------------------------------------------------------------------- writes


def test_helpdesk_cannot_change_the_directory(helpdesk_client, org):
    jane, sales = org["jane"], org["sales"]
    for url in (reverse("apps:directory_user_new"), reverse("apps:directory_user_edit", args=[jane.pk]),
                reverse("apps:directory_user_delete", args=[jane.pk]), reverse("apps:directory_group_new"),
                reverse("apps:directory_group_delete", args=[sales.pk]), reverse("apps:directory_import")):
        assert helpdesk_client.get(url).status_code == 403
        assert helpdesk_client.post(url, {}).status_code == 403
    assert helpdesk_client.post(reverse("apps:directory_member_add", args=[sales.pk]), {"upn": jane.user_principal_name}).status_code == 403
    assert not sales.members.filter(pk=jane.pk).exists()


def test_an_administrator_creates_a_user_with_a_manager(admin_client, org):
    response = admin_client.post(reverse("apps:directory_user_new"), {
        "user_principal_name": "zoe@contoso.example", "given_name": "Zoë", "surname": "Müller", "department": "Sales",
        "account_enabled": "on", "manager_upn": "LUKASZ@contoso.example",
    })
    zoe = DirectoryUser.objects.get(user_principal_name="zoe@contoso.example")
    assert response.status_code == 302 and response.url == reverse("apps:directory_user", args=[zoe.pk])
    # As Entra: the display name and mail nickname are derived when left empty.
    assert (zoe.display_name, zoe.mail_nickname, zoe.manager, zoe.account_enabled) == ("Zoë Müller", "zoe", org["lukasz"], True)


def test_a_bad_user_form_says_what_to_fix_and_keeps_the_input(admin_client, org):
    response = admin_client.post(reverse("apps:directory_user_new"), {
        "user_principal_name": "JANE@contoso.example", "mail": "not-a-mail", "manager_upn": "nobody@contoso.example",
        "display_name": "Tab\there",
    })
    assert response.status_code == 400
    body = response.text
    assert "The user was not created." in body
    assert "&#x27;jane@contoso.example&#x27; already belongs to Jane Doe" in body
    assert "is not an email address" in body
    assert "No user &#x27;nobody@contoso.example&#x27; in the directory" in body
    assert "contains a tab (U+0009)" in body
    assert 'value="nobody@contoso.example"' in body
    assert DirectoryUser.objects.count() == 3


def test_a_manager_loop_is_refused(admin_client, org):
    lukasz = org["lukasz"]
    response = admin_client.post(reverse("apps:directory_user_edit", args=[lukasz.pk]), {
        "user_principal_name": lukasz.user_principal_name, "display_name": lukasz.display_name, "manager_upn": "jane@contoso.example",
    })
    assert response.status_code == 400
    assert "a user cannot manage their own manager" in response.text


def test_an_administrator_edits_a_user(admin_client, org):
    jane = org["jane"]
    edit = reverse("apps:directory_user_edit", args=[jane.pk])
    assert 'value="lukasz@contoso.example"' in admin_client.get(edit).text
    before = jane.updated_at
    response = admin_client.post(edit, {"user_principal_name": jane.user_principal_name, "display_name": "Jane Smith",
                                        "department": "Sales", "manager_upn": ""})
    assert response.status_code == 302
    jane.refresh_from_db()
    assert (jane.display_name, jane.department, jane.manager, jane.account_enabled) == ("Jane Smith", "Sales", None, False)
    assert jane.updated_at > before  # what incremental and change cycles read


def test_delete_is_a_soft_delete_that_can_be_restored(admin_client, org):
    jane = org["jane"]
    url = reverse("apps:directory_user_delete", args=[jane.pk])
    assert "can be restored from there" in admin_client.get(url).text
    response = admin_client.post(url)
    assert response.status_code == 302
    jane.refresh_from_db()
    assert jane.deleted_at is not None
    assert not factories.models.DeletedDirectoryObject.objects.exists()  # a soft delete leaves no tombstone
    page = admin_client.get(reverse("apps:directory_user", args=[jane.pk])).text
    assert "Restore user" in page
    admin_client.post(reverse("apps:directory_user_restore", args=[jane.pk]))
    jane.refresh_from_db()
    assert jane.deleted_at is None


def test_groups_are_created_edited_deleted_and_their_members_managed(admin_client, org):
    response = admin_client.post(reverse("apps:directory_group_new"), {"display_name": "Pilot", "security_enabled": "on"})
    pilot = DirectoryGroup.objects.get(display_name="Pilot")
    assert response.url == reverse("apps:directory_group", args=[pilot.pk])
    assert admin_client.post(reverse("apps:directory_group_new"), {"display_name": ""}).status_code == 400
    admin_client.post(reverse("apps:directory_group_edit", args=[pilot.pk]), {"display_name": "Pilot users", "description": "Early"})
    pilot.refresh_from_db()
    assert (pilot.display_name, pilot.description, pilot.security_enabled) == ("Pilot users", "Early", False)

    admin_client.post(reverse("apps:directory_member_add", args=[pilot.pk]), {"upn": "Jane@contoso.example"})
    assert list(pilot.members.all()) == [org["jane"]]
    again = admin_client.post(reverse("apps:directory_member_add", args=[pilot.pk]), {"upn": "jane@contoso.example"})
    assert again.status_code == 400 and "Jane Doe is already a member of Pilot users." in again.text
    unknown = admin_client.post(reverse("apps:directory_member_add", args=[pilot.pk]), {"upn": "ghost@contoso.example"})
    assert unknown.status_code == 400 and "No user &#x27;ghost@contoso.example&#x27; in the directory" in unknown.text
    page = admin_client.get(reverse("apps:directory_group", args=[pilot.pk])).text
    assert "Members (1)" in page and "Jane Doe" in page
    admin_client.post(reverse("apps:directory_member_remove", args=[pilot.pk, org["jane"].pk]))
    assert not pilot.members.exists()

    admin_client.post(reverse("apps:directory_group_delete", args=[pilot.pk]))
    pilot.refresh_from_db()
    assert pilot.deleted_at is not None


# ---------------------------------------------------------------------- Provisioning to applications


@pytest.fixture
def helpdesk_question(db, scim_server, org):
    """Jane is assigned to three apps on the real scim2-server: out of scope in Salesforce (its scoping filter
    wants Sales), failed in Slack (the target refuses the token) and provisioned in Zoom."""
    jane = org["jane"]
    salesforce = factories.ApplicationFactory(name="Salesforce", tenant_url=scim_server.tenant_url(), secret_token=scim_server.token)
    slack = factories.ApplicationFactory(name="Slack", tenant_url=scim_server.tenant_url(), secret_token="expired-token")
    zoom = factories.ApplicationFactory(name="Zoom", tenant_url=scim_server.tenant_url(), secret_token=scim_server.token)
    sales_only = factories.ScopingFilterFactory(object_mapping=ObjectMapping.objects.get(application=salesforce, object_type="user"),
                                                title="Sales only")
    factories.ScopingClauseFactory(scoping_filter=sales_only, attribute="department", operator="EQUALS", value="Sales")
    factories.AssignmentFactory(application=salesforce, user=jane)
    factories.AssignmentFactory(application=slack, user=None, group=org["engineering"])
    factories.AssignmentFactory(application=zoom, user=jane)
    logs = {}
    for app in (salesforce, slack, zoom):
        logs[app.name] = provision_on_demand(request_on_demand(app, user_ids=[jane.pk]))[0]
    assert [logs[name].status for name in ("Salesforce", "Slack", "Zoom")] == ["skipped", "failure", "success"]
    return {"apps": {"Salesforce": salesforce, "Slack": slack, "Zoom": zoom}, "logs": logs}


def _rows(response):
    return {row.application.name: row for row in response.context["statuses"]}


def test_provisioning_to_applications_answers_why_jane_has_no_account(helpdesk_client, org, helpdesk_question):
    jane, logs, apps = org["jane"], helpdesk_question["logs"], helpdesk_question["apps"]
    response = helpdesk_client.get(reverse("apps:directory_user", args=[jane.pk]))
    rows = _rows(response)

    salesforce = rows["Salesforce"]
    assert salesforce.in_scope is False
    assert salesforce.failed_conditions == [('Sales only: department EQUALS "Sales"', 'department EQUALS "Sales" — value was "Engineering"')]
    assert salesforce.reason == "Filter 'Sales only': department EQUALS \"Sales\" — value was \"Engineering\""
    assert "scoping filter 'Sales only'" in salesforce.fix
    assert salesforce.target_id == "" and salesforce.last_log == logs["Salesforce"]

    slack = rows["Slack"]
    assert slack.in_scope is True and slack.assigned_through == ["Engineering"]
    assert slack.last_log == logs["Slack"] and slack.last_log.status == "failure" and slack.target_id == ""

    zoom = rows["Zoom"]
    assert zoom.in_scope is True and zoom.assigned_through == ["Directly"]
    assert zoom.target_id and zoom.target_id == logs["Zoom"].target_id

    body = response.text
    assert "Out of scope" in body and "Filter &#x27;Sales only&#x27;: department EQUALS &quot;Sales&quot;" in body
    assert "through Engineering" in body
    for name in ("Salesforce", "Slack", "Zoom"):
        assert reverse("apps:log_detail", args=[apps[name].id, logs[name].pk]) in body
    assert logs["Slack"].error_code in body
    assert "Provision now" not in body  # Helpdesk reads


def test_not_assigned_names_the_missing_assignment(admin_client, org, scim_app):
    rows = _rows(admin_client.get(reverse("apps:directory_user", args=[org["bob"].pk])))
    row = rows[scim_app.name]
    assert row.in_scope is False
    # Bob is disabled: that decides first, as the engine decides.
    assert row.reason == "the account is disabled in the directory (accountEnabled is False)"
    rows = _rows(admin_client.get(reverse("apps:directory_user", args=[org["lukasz"].pk])))
    assert rows[scim_app.name].reason == "the user is not assigned to the application, directly or through a group"
    assert "Assigned to application" in [c for c, _ in rows[scim_app.name].failed_conditions]
    assert f"assign the user (or a group it belongs to) to {scim_app.name}" in rows[scim_app.name].fix


def test_escrow_and_quarantine_are_shown(admin_client, org, scim_app):
    jane = org["jane"]
    factories.AssignmentFactory(application=scim_app, user=jane)
    factories.EscrowFactory(application=scim_app, source_id=jane.object_id, attempts=3, error_code="InternalServerError")
    Quarantine.objects.create(application=scim_app, reason=Quarantine.Reason.BASE, description="d", fix="f", began_at=timezone.now())
    response = admin_client.get(reverse("apps:directory_user", args=[jane.pk]))
    row = _rows(response)[scim_app.name]
    assert row.escrow.attempts == 3 and row.quarantine.reason == Quarantine.Reason.BASE
    assert "In escrow" in response.text and "3 failed attempts" in response.text and "App in quarantine" in response.text


def test_provision_now_runs_on_demand_for_that_user_and_goes_to_its_run(admin_client, admin_user, org, scim_app, enqueued,
                                                                         django_capture_on_commit_callbacks):
    jane = org["jane"]
    factories.AssignmentFactory(application=scim_app, user=jane)
    page = admin_client.get(reverse("apps:directory_user", args=[jane.pk])).text
    button = reverse("apps:directory_user_provision", args=[jane.pk, scim_app.id])
    assert f'action="{button}"' in page and "Provision now" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(button)
    run = OnDemandRun.objects.get()
    assert response.status_code == 302 and response.url == reverse("apps:on_demand_run", args=[scim_app.id, run.id])
    assert list(run.users.all()) == [jane] and run.requested_by == admin_user and enqueued == [run.id]
    # The task's work, run here: the user page then shows the link and the entry.
    log = provision_on_demand(run)[0]
    row = _rows(admin_client.get(reverse("apps:directory_user", args=[jane.pk])))[scim_app.name]
    assert log.status == "success" and row.target_id == log.target_id and row.last_log == log


def test_provision_now_on_an_unconfigured_app_says_why(admin_client, org):
    manual = factories.ApplicationFactory(name="Manual app", provisioning_mode="manual")
    response = admin_client.post(reverse("apps:directory_user_provision", args=[org["jane"].pk, manual.id]), follow=True)
    assert "Manual app: Provisioning is not configured" in response.text
    assert not OnDemandRun.objects.exists()


def test_helpdesk_cannot_provision_now(helpdesk_client, org, scim_app):
    response = helpdesk_client.post(reverse("apps:directory_user_provision", args=[org["jane"].pk, scim_app.id]))
    assert response.status_code == 403 and not OnDemandRun.objects.exists()


def test_the_group_page_shows_members_and_provisioning(helpdesk_client, org, scim_app):
    factories.AssignmentFactory(application=scim_app, user=None, group=org["engineering"])
    response = helpdesk_client.get(reverse("apps:directory_group", args=[org["engineering"].pk]))
    assert "Members (2)" in response.text and "Jane Doe" in response.text
    row = _rows(response)[scim_app.name]
    assert row.in_scope is True and row.assigned_through == ["Directly"]
    sales_row = _rows(helpdesk_client.get(reverse("apps:directory_group", args=[org["sales"].pk])))[scim_app.name]
    assert sales_row.in_scope is False and sales_row.reason == "the group is not assigned to the application"


def test_a_group_row_opens_provision_on_demand_with_the_group_picked(admin_client, org, scim_app):
    group = org["engineering"]
    page = admin_client.get(reverse("apps:directory_group", args=[group.pk])).text
    link = f"{reverse('apps:on_demand', args=[scim_app.id])}?pick=group:{group.pk}"
    assert f'href="{link}"' in page and "Provision on demand…" in page
    on_demand = admin_client.get(link).text
    assert f'name="subject" value="group:{group.pk}"' in on_demand and "Group · 2 members" in on_demand
    assert f'value="{org["jane"].pk}"' in on_demand


def test_the_user_page_costs_a_few_queries_per_app(admin_client, org):
    jane = org["jane"]
    url = reverse("apps:directory_user", args=[jane.pk])
    for _ in range(2):
        app = factories.ApplicationFactory()
        factories.AssignmentFactory(application=app, user=jane)
        factories.ProvisioningLogFactory(application=app, source_id=str(jane.object_id))
    admin_client.get(url)
    with CaptureQueriesContext(connection) as two:
        admin_client.get(url)
    for _ in range(6):
        app = factories.ApplicationFactory()
        factories.AssignmentFactory(application=app, user=jane)
        factories.ProvisioningLogFactory(application=app, source_id=str(jane.object_id))
    with CaptureQueriesContext(connection) as eight:
        assert admin_client.get(url).status_code == 200
    per_app = (len(eight) - len(two)) / 6
    assert per_app <= 6, [q["sql"] for q in eight.captured_queries]
    assert len(two) <= 30


@pytest.mark.django_db(transaction=True)
def test_an_edit_on_the_user_page_reaches_the_target_within_seconds(celery_worker, scim_server, admin_user):
    from django.test import Client

    from provisioning.engine.cycle import run_cycle, start_provisioning
    from provisioning.models import Application, RunState
    from tests.engine.test_changes import title_in_target

    app = factories.ApplicationFactory(tenant_url=scim_server.tenant_url(), secret_token=scim_server.token,
                                       scope=Application.Scope.ALL, sync_changes_immediately=True)
    jane = factories.DirectoryUserFactory(job_title="Engineer", user_principal_name="jane@contoso.example")
    assert run_cycle(start_provisioning(app)).state == RunState.COMPLETED
    client = Client()
    client.force_login(admin_user)
    response = client.post(reverse("apps:directory_user_edit", args=[jane.pk]), {
        "user_principal_name": jane.user_principal_name, "display_name": jane.display_name, "job_title": "Principal Engineer",
        "account_enabled": "on",
    })
    assert response.status_code == 302
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and title_in_target(app, scim_server.token, jane) != "Principal Engineer":
        time.sleep(0.2)
    assert title_in_target(app, scim_server.token, jane) == "Principal Engineer"


def test_directory_writes_are_audited(admin_client):
    from provisioning.models import AuditEntry
    from tests.factories import DirectoryGroupFactory, DirectoryUserFactory

    user = DirectoryUserFactory(department="Sales")
    group = DirectoryGroupFactory()
    admin_client.post(reverse("apps:directory_user_delete", args=[user.pk]))
    admin_client.post(reverse("apps:directory_user_restore", args=[user.pk]))
    admin_client.post(reverse("apps:directory_member_add", args=[group.pk]), {"upn": user.user_principal_name})
    activities = list(AuditEntry.objects.order_by("pk").values_list("activity", "category"))
    assert activities == [("Delete user", "directory"), ("Restore user", "directory"),
                          ("Add member to group", "directory")]
