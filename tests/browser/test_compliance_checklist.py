"""Test Connection's checklist in real Chromium, against scim2-server and against a target that breaks rules.

Saves screenshots under test-artifacts/screenshots/ (look at them)."""

import re

import pytest

from tests import factories
from tests.browser.test_admin_path import PASSWORD, open_page, shot  # noqa: F401  (open_page is a fixture)
from tests.scim.noncompliant import NonCompliantTarget, Quirks

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server):
    admin = factories.AdministratorFactory(username="ada")
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def test_the_checklist_passes_against_scim2_server_and_feeds_the_mapping_editor(live_server, scim_app, open_page):
    active = scim_app.object_mappings.get(object_type="user").attribute_mappings.get(target_attribute="active")
    page = open_page()
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/apps/{scim_app.pk}/provisioning/")
    page.get_by_role("button", name="Test Connection with a test user").click()
    page.locator(".checklist").wait_for()
    shot(page, "11-checklist-scim2-server")
    assert page.locator(".check-failed").count() == 0
    assert page.locator(".check-passed").count() >= 12
    assert "Delete the test user" in page.content()

    page.goto(f"{live_server.url}/apps/{scim_app.pk}/mappings/user/")
    page.locator(f"#mapping-{active.pk}").get_by_role("button", name="Edit").click()
    page.locator("dialog[open] select[name=target_attribute]").wait_for()
    options = page.locator("dialog[open] select[name=target_attribute] option").all_inner_texts()
    assert "name.givenName (string, readWrite)" in options
    assert page.locator("dialog[open] select[name=target_attribute]").input_value() == "active"
    page.locator("dialog[open] select[name=mapping_type]").select_option("constant")
    page.locator("dialog[open] input[name=constant_value]").fill("yes")
    page.locator("dialog[open] button[type=submit]").first.click()
    page.get_by_text("Constant Value: active takes a Boolean: enter True or False, not 'yes'.").first.wait_for()
    shot(page, "12-mapping-refused-by-target-schema")


def test_the_checklist_shows_each_failure_with_its_request_and_answer(live_server, open_page):
    quirks = Quirks(case_sensitive=True, drops=("title",), no_patch=True, no_groups=True)
    with NonCompliantTarget(quirks) as target:
        app = factories.ApplicationFactory(name="Quirky HR", tenant_url=target.url, secret_token=target.token)
        page = open_page()
        sign_in(page, live_server)
        page.goto(f"{live_server.url}/apps/{app.pk}/provisioning/")
        page.get_by_role("button", name="Test Connection with a test user").click()
        page.locator(".checklist").wait_for()
        shot(page, "13-checklist-noncompliant-target")
        failed = page.locator(".check-failed .check-title").all_inner_texts()
    assert {"userName filters ignore case", "PATCH supported", "Groups endpoint", "Read the test user back",
            "Update the test user with PATCH"} <= set(failed)
    assert "the target dropped title" in page.content()
    assert target.users == {}  # the test user was deleted again


def test_the_overview_says_why_a_cycle_provisioned_nothing(live_server, scim_app, open_page):
    from provisioning.engine.cycle import run_cycle, start_provisioning

    for user in factories.DirectoryUserFactory.create_batch(5, department="Sales"):
        factories.AssignmentFactory(application=scim_app, user=user)
    users = scim_app.object_mappings.get(object_type="user")
    only = factories.ScopingFilterFactory(object_mapping=users, title="Engineering only")
    factories.ScopingClauseFactory(scoping_filter=only, attribute="department", operator="EQUALS", value="Engineering")
    run_cycle(start_provisioning(scim_app))
    page = open_page()
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/apps/{scim_app.pk}/")
    note = page.locator(".ov-idle")
    note.wait_for()
    shot(page, "14-overview-nothing-provisioned")
    assert "all 5 users are out of scope: scoping filter 'Engineering only' excluded them" in note.inner_text()
    note.get_by_role("link", name="Edit the filter").click()
    page.wait_for_url(re.compile(r"/mappings/user/scoping/$"))
