"""The helpdesk's question in real Chromium: Jane's page, Provisioning to applications, out of scope in one app
and failed in another (real on-demand runs against the real scim2-server), then Provision now.

Saves test-artifacts/screenshots/directory-*.png (look at them).
"""

import re

import pytest

from provisioning.engine.on_demand import provision_on_demand, request_on_demand
from provisioning.models import ObjectMapping
from tests import factories
from tests.browser.test_admin_path import PASSWORD, open_page, shot  # noqa: F401 (open_page is a fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, user):
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def test_jane_s_page_answers_why_she_has_no_account(live_server, scim_server, open_page):
    helpdesk = factories.HelpdeskFactory(username="hal")
    admin = factories.AdministratorFactory(username="ada")
    lukasz = factories.DirectoryUserFactory(display_name="Łukasz Żółć", user_principal_name="lukasz@contoso.example")
    jane = factories.DirectoryUserFactory(display_name="Jane Doe", given_name="Jane", surname="Doe", user_principal_name="jane@contoso.example",
                                          mail="jane@contoso.example", department="Engineering", job_title="Engineer", manager=lukasz)
    engineering = factories.DirectoryGroupFactory(display_name="Engineering", members=[jane, lukasz])
    salesforce = factories.ApplicationFactory(name="Salesforce", tenant_url=scim_server.tenant_url(), secret_token=scim_server.token,
                                              provisioning_enabled=True)
    slack = factories.ApplicationFactory(name="Slack", tenant_url=scim_server.tenant_url(), secret_token="expired-token",
                                         provisioning_enabled=True)
    zoom = factories.ApplicationFactory(name="Zoom", tenant_url=scim_server.tenant_url(), secret_token=scim_server.token,
                                        provisioning_enabled=True)
    sales_only = factories.ScopingFilterFactory(object_mapping=ObjectMapping.objects.get(application=salesforce, object_type="user"),
                                                title="Sales only")
    factories.ScopingClauseFactory(scoping_filter=sales_only, attribute="department", operator="EQUALS", value="Sales")
    factories.AssignmentFactory(application=salesforce, user=jane)
    factories.AssignmentFactory(application=slack, user=None, group=engineering)
    factories.AssignmentFactory(application=zoom, user=jane)
    for app in (salesforce, slack, zoom):
        provision_on_demand(request_on_demand(app, user_ids=[jane.pk]))

    page = open_page()
    sign_in(page, live_server, helpdesk)
    page.get_by_role("link", name="Users", exact=True).click()
    # Until the page has loaded, htmx (a deferred script) is not listening: a change before that is lost.
    page.wait_for_url(re.compile(r"/directory/users/$"))
    page.get_by_label("Department").select_option("Engineering")
    page.wait_for_url(re.compile(r"department=Engineering"))
    page.get_by_label("Search").fill("jane")
    page.wait_for_url(re.compile(r"q=jane"))
    table = page.locator("#user-table")
    assert table.locator("tbody tr").count() == 1 and "1 user" in table.inner_text()  # Łukasz is only her manager
    shot(page, "directory-users-filtered")
    table.get_by_role("link", name="Jane Doe").click()
    section = page.locator(".directory-provisioning")
    section.wait_for()
    rows = {name: section.locator(f'tr[data-app="{name}"]') for name in ("Salesforce", "Slack", "Zoom")}
    assert "Out of scope" in rows["Salesforce"].inner_text() and "Sales only" in rows["Salesforce"].inner_text()
    assert "Failure" in rows["Slack"].inner_text() and "In scope" in rows["Slack"].inner_text()
    assert "Success" in rows["Zoom"].inner_text() and "Not linked" not in rows["Zoom"].inner_text()
    assert section.get_by_role("button", name="Provision now").count() == 0
    shot(page, "directory-user-provisioning")

    rows["Slack"].get_by_role("link", name="Other").click()
    page.wait_for_url(re.compile(rf"/apps/{slack.id}/provisioning-logs/\d+/"))
    assert "Failure" in page.content()

    # An administrator sees Provision now on each row; it starts Provision on demand and opens its run.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/directory/users/{jane.pk}/")
    zoom_row = page.locator('.directory-provisioning tr[data-app="Zoom"]')
    assert page.locator(".directory-provisioning").get_by_role("button", name="Provision now").count() == 3
    shot(page, "directory-user-provisioning-admin")
    zoom_row.get_by_role("button", name="Provision now").click()
    page.wait_for_url(re.compile(rf"/apps/{zoom.id}/provision-on-demand/\d+/"))


def test_import_previews_then_imports(live_server, open_page, tmp_path):
    admin = factories.AdministratorFactory(username="ada")
    jane = factories.DirectoryUserFactory(display_name="Jane Doe", user_principal_name="jane@contoso.example", department="Sales")
    engineering = factories.DirectoryGroupFactory(display_name="Engineering", description="All engineers", members=[jane])
    file = tmp_path / "directory.json"
    file.write_text(
        '{"users": [{"objectId": "%s", "userPrincipalName": "jane@contoso.example", "department": "Engineering", "jobTitle": "Lead"},'
        ' {"userPrincipalName": "zoe.muller@contoso.example", "displayName": "Zoë Müller"},'
        ' {"userPrincipalName": "bob@", "displayName": "Bob"}],'
        ' "groups": [{"objectId": "%s", "displayName": "Engineering", "members": ["%s", "00000000-0000-0000-0000-000000000001"]}]}'
        % (jane.object_id, engineering.object_id, jane.object_id)
    )

    page = open_page()
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/directory/groups/{engineering.pk}/")
    page.locator("#group-members").wait_for()
    shot(page, "directory-group")

    page.goto(f"{live_server.url}/directory/import/")
    page.set_input_files("#id_file", str(file))
    page.get_by_role("button", name="Upload and preview").click()
    preview = page.locator(".import-preview")
    preview.wait_for()
    text = preview.inner_text()
    assert "1 new" in text and "1 changed" in text and "department, jobTitle" in text
    assert "users[2]" in text and "groups[0]" in text and "is not a valid UPN" in text
    shot(page, "directory-import-preview")

    page.get_by_role("button", name="Import the rows without errors").click()
    page.get_by_text("directory.json was imported.").wait_for()
    shot(page, "directory-import-done")
