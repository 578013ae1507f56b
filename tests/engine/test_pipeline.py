"""The per-object pipeline against a real SCIM server (scim2-server): create, skip, update, disable, match failures."""

import json
from urllib.parse import unquote_plus

import httpx
import pytest

from provisioning.engine.context import INITIATED_BY, RunContext
from provisioning.engine.pipeline import provision_user
from provisioning.scim.filters import matching_filter
from provisioning.models import AttributeMapping, ProvisioningLog, ExportState
from provisioning.scim.connection import ConnectionResult
from tests import factories
from tests.scim.misbehaving import Reply, list_response, misbehaving_server, scim_error  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def run(app, user, **kwargs):
    app.refresh_from_db()
    ctx = RunContext(application=app, initiated_by=INITIATED_BY.ADMIN)
    try:
        return provision_user(ctx, user, **kwargs)
    finally:
        ctx.close()


def target_users(app, token):
    response = httpx.get(f"{app.tenant_url}/Users", headers={"Authorization": f"Bearer {token}"})
    return response.json()["Resources"]


@pytest.fixture
def jane(scim_app):
    user = factories.DirectoryUserFactory(
        given_name="Jane", surname="Doe", display_name="Jane Doe", user_principal_name="jane@contoso.example",
        mail="jane@contoso.example", department="Engineering", job_title="Engineer", employee_id="E100",
    )
    factories.AssignmentFactory(application=scim_app, user=user)
    return user


def step_keys(log):
    return [s["key"] for s in log.steps]


def test_create_sends_the_mapped_attributes_and_records_four_steps(scim_app, scim_server, jane):
    log = run(scim_app, jane)

    assert (log.action, log.status) == ("create", "success"), log.error_description
    assert step_keys(log) == ["import", "scope", "match", "action"]  # Test connection only shows when it fails
    assert all(s["status"] == "success" for s in log.steps)
    [created] = target_users(scim_app, scim_server.token)
    assert created["userName"] == "jane@contoso.example"
    assert created["active"] is True
    assert created["name"] == {"givenName": "Jane", "familyName": "Doe", "formatted": "Jane Doe"}
    assert created["emails"][0]["value"] == "jane@contoso.example"
    assert created["title"] == "Engineer"
    assert created[ENTERPRISE]["department"] == "Engineering"
    assert log.target_id == created["id"]
    assert ExportState.objects.get(application=scim_app, source_id=jane.object_id).target_id == created["id"]
    assert {"name": "userName", "old": None, "new": "jane@contoso.example"} in log.modified_properties


def test_second_run_of_an_unchanged_user_is_skipped(scim_app, jane):
    run(scim_app, jane)
    log = run(scim_app, jane)

    assert (log.action, log.status, log.error_code) == ("other", "skipped", "RedundantExport")
    assert log.steps[-1]["description"] == "The state of the user in both the source and target systems already match"


def test_update_patches_only_the_changed_attributes(scim_app, scim_server, jane):
    run(scim_app, jane)
    jane.department = "Sales"
    jane.job_title = "Account Executive"
    jane.save()

    log = run(scim_app, jane)

    assert (log.action, log.status) == ("update", "success"), log.error_description
    changed = {m["name"]: (m["old"], m["new"]) for m in log.modified_properties}
    assert changed == {f"{ENTERPRISE}:department": ("Engineering", "Sales"), "title": ("Engineer", "Account Executive")}
    [target] = target_users(scim_app, scim_server.token)
    assert target[ENTERPRISE]["department"] == "Sales"
    assert target["title"] == "Account Executive"


def test_an_unassigned_user_is_disabled_then_skipped(scim_app, scim_server, jane):
    run(scim_app, jane)
    scim_app.assignments.all().delete()

    log = run(scim_app, jane)
    assert (log.action, log.status) == ("disable", "success"), log.error_description
    assert "not assigned" in log.steps[1]["description"]
    [target] = target_users(scim_app, scim_server.token)
    assert target["active"] is False

    again = run(scim_app, jane)
    assert (again.action, again.status) == ("other", "skipped")  # disabled once, then no longer managed (as Entra)
    assert ExportState.objects.get(source_id=jane.object_id).disabled


def test_reassigned_user_is_enabled_again(scim_app, scim_server, jane):
    run(scim_app, jane)
    scim_app.assignments.all().delete()
    run(scim_app, jane)
    factories.AssignmentFactory(application=scim_app, user=jane)

    log = run(scim_app, jane)
    assert (log.action, log.status) == ("update", "success")
    assert {"name": "active", "old": "False", "new": "True"} in log.modified_properties
    assert target_users(scim_app, scim_server.token)[0]["active"] is True


def test_unassigned_user_never_provisioned_is_skipped_with_the_reason(scim_app, db):
    stranger = factories.DirectoryUserFactory(display_name="Sam Stranger")
    log = run(scim_app, stranger)
    assert (log.action, log.status, log.error_code) == ("other", "skipped", "EntrySynchronizationSkipped")
    assert "not assigned" in log.error_description
    assert step_keys(log) == ["import", "scope"]


def test_scoping_filter_reason_names_the_clause(scim_app, jane):
    user_mapping = scim_app.object_mappings.get(object_type="user")
    scoping_filter = factories.ScopingFilterFactory(object_mapping=user_mapping, title="Sales only")
    factories.ScopingClauseFactory(scoping_filter=scoping_filter, attribute="department", operator="EQUALS", value="Sales")

    log = run(scim_app, jane)

    assert log.status == "skipped"
    assert "Sales only" in log.error_description and '"Engineering"' in log.error_description
    scope_rows = log.steps[1]["sections"][0]["rows"]
    assert any('department EQUALS "Sales"' in row[0] and row[1] == "Failed" for row in scope_rows)


def test_a_scoping_regex_out_of_time_fails_that_user_and_sends_nothing(scim_app, scim_server, jane):
    # Saved before Save checked patterns (or through the database): evaluation still stops it.
    user_mapping = scim_app.object_mappings.get(object_type="user")
    scoping_filter = factories.ScopingFilterFactory(object_mapping=user_mapping, title="Runaway")
    factories.ScopingClauseFactory(scoping_filter=scoping_filter, attribute="extension_costCenter", operator="REGEX MATCH", value=r"(a+)+$")
    jane.extension_attributes = {"extension_costCenter": "a" * 5000 + "b"}
    jane.save()

    log = run(scim_app, jane)

    # A failure, not "out of scope": out of scope would disable or delete the user in the target.
    assert (log.status, log.error_code) == ("failure", "ScopingRegexTimeout")
    assert 'extension_costCenter REGEX MATCH "(a+)+$"' in log.error_description and "took longer than" in log.error_description
    assert "Edit the scoping filter" in log.recommended_fix
    assert step_keys(log) == ["import", "scope"] and log.steps[1]["status"] == "failure"
    assert target_users(scim_app, scim_server.token) == []


def test_disabled_account_is_out_of_scope(scim_app, jane):
    jane.account_enabled = False
    jane.save()
    log = run(scim_app, jane)
    assert log.status == "skipped" and "disabled in the directory" in log.error_description


def test_several_target_matches_fail_and_show_both(scim_app, scim_server, jane):
    user_mapping = scim_app.object_mappings.get(object_type="user")
    user_mapping.attribute_mappings.filter(is_matching=True).update(is_matching=False)
    user_mapping.attribute_mappings.filter(target_attribute="displayName").update(is_matching=True, matching_precedence=1)
    headers = {"Authorization": f"Bearer {scim_server.token}"}
    for name in ("jane.one", "jane.two"):
        httpx.post(f"{scim_app.tenant_url}/Users", headers=headers, json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "displayName": "Jane Doe"}).raise_for_status()

    log = run(scim_app, jane)

    assert (log.status, log.error_code) == ("failure", "DuplicateTargetEntries")
    assert "2 users" in log.error_description
    assert log.recommended_fix
    assert log.steps[2]["key"] == "match" and log.steps[2]["status"] == "failure"


def test_existing_target_user_is_matched_not_duplicated(scim_app, scim_server, jane):
    headers = {"Authorization": f"Bearer {scim_server.token}"}
    httpx.post(f"{scim_app.tenant_url}/Users", headers=headers, json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "jane@contoso.example"}).raise_for_status()

    log = run(scim_app, jane)

    assert (log.action, log.status) == ("update", "success")
    assert len(target_users(scim_app, scim_server.token)) == 1
    assert "by userName" in log.steps[2]["description"]


def test_stale_anchor_is_rematched(scim_app, scim_server, jane):
    ExportState.objects.create(application=scim_app, object_type="user", source_id=jane.object_id, target_id="gone")
    log = run(scim_app, jane)
    assert (log.action, log.status) == ("create", "success")
    assert "no longer exists" in log.steps[2]["description"]


def test_manager_reference_uses_the_managers_target_id(scim_app, scim_server, jane):
    boss = factories.DirectoryUserFactory(user_principal_name="boss@contoso.example", display_name="The Boss")
    factories.AssignmentFactory(application=scim_app, user=boss)
    jane.manager = boss
    jane.save()
    boss_log = run(scim_app, boss)
    log = run(scim_app, jane)

    assert log.status == "success"
    jane_target = next(u for u in target_users(scim_app, scim_server.token) if u["userName"] == jane.user_principal_name)
    assert jane_target[ENTERPRISE]["manager"]["value"] == boss_log.target_id


def test_required_attribute_without_value_fails_naming_attribute_and_user(scim_app, jane):
    mapping = scim_app.object_mappings.get(object_type="user")
    AttributeMapping.objects.filter(object_mapping=mapping, target_attribute="title").update(required=True)
    jane.job_title = ""
    jane.save()

    log = run(scim_app, jane)

    assert (log.status, log.error_code) == ("failure", "MandatoryFieldsMissing")
    assert "title" in log.error_description and "jane@contoso.example" in log.error_description


def test_expression_error_fails_the_object_with_the_attribute(scim_app, jane):
    mapping = scim_app.object_mappings.get(object_type="user")
    AttributeMapping.objects.filter(object_mapping=mapping, target_attribute="title").update(
        mapping_type="expression", expression='DateAdd("d", 1, [jobTitle])'
    )
    log = run(scim_app, jane)
    assert (log.status, log.error_code) == ("failure", "ExpressionEvaluationFailed")
    assert "title" in log.error_description


def test_failed_connection_is_the_only_step_shown(scim_app, jane):
    failure = ConnectionResult(ok=False, message="The target rejected the Secret Token (HTTP 401).", fix="Generate a new token.",
                               code="Unauthorized", details=[("HTTP status", "401")], checked_url=scim_app.tenant_url)
    log = run(scim_app, jane, connection_failure=failure)
    assert step_keys(log) == ["test_connection"]
    assert (log.status, log.error_code, log.recommended_fix) == ("failure", "Unauthorized", "Generate a new token.")


def test_target_refusal_is_logged_with_code_and_fix(scim_app, scim_server, jane):
    scim_app.set_secret_token("wrong-token")
    scim_app.save()
    log = run(scim_app, jane)
    assert log.status == "failure"
    assert log.error_code and log.recommended_fix
    assert "wrong-token" not in json.dumps([log.steps, log.error_description, log.recommended_fix])


def test_the_secret_token_never_reaches_a_log_entry(scim_app, scim_server, jane):
    run(scim_app, jane)
    jane.department = "Finance"
    jane.save()
    run(scim_app, jane)
    dumped = json.dumps(list(ProvisioningLog.objects.values()), default=str)
    assert scim_server.token not in dumped


def test_entra_compatible_app_still_provisions_users(scim_app, scim_server, jane):
    scim_app.entra_compatible = True
    scim_app.save()
    log = run(scim_app, jane)
    assert log.status == "success", log.error_description


@pytest.mark.parametrize(
    "path, value, expected",
    [
        ("userName", 'a"b', 'userName eq "a\\"b"'),
        ('emails[type eq "work"].value', "x@y", 'emails[type eq "work" and value eq "x@y"]'),
        ("externalId", "back\\slash", 'externalId eq "back\\\\slash"'),
    ],
)
def test_matching_filter(path, value, expected):
    assert matching_filter(path, value) == expected


def test_unusable_tenant_url_is_a_logged_failure_not_a_crash(scim_app, jane):
    scim_app.tenant_url = "ftp://example.invalid/scim"
    scim_app.save()
    log = run(scim_app, jane)
    assert log.status == "failure" and log.error_code == "InvalidTenantUrl"
    assert log.recommended_fix


def test_redacted_values_flow_but_logs_show_redact(scim_app, scim_server, jane):
    mapping = scim_app.object_mappings.get(object_type="user")
    AttributeMapping.objects.filter(object_mapping=mapping, target_attribute="title").update(
        mapping_type="expression", expression="Redact([jobTitle])"
    )
    jane.job_title = "Secret Agent"
    jane.save()
    log = run(scim_app, jane)
    assert log.status == "success", log.error_description
    assert target_users(scim_app, scim_server.token)[0]["title"] == "Secret Agent"
    assert {"name": "title", "old": None, "new": "[Redact]"} in log.modified_properties
    assert "Secret Agent" not in json.dumps(log.steps[-1])
    assert log.traffic and "Secret Agent" not in json.dumps(log.traffic)  # neither sent nor echoed back


def test_perform_action_details_show_each_mapping_evaluated(scim_app, jane):
    log = run(scim_app, jane)
    evaluated = next(s for s in log.steps[-1]["sections"] if s["title"] == "Attribute mappings evaluated")
    assert ["name.formatted", 'Join(" ", [givenName], [surname])', "Jane Doe", ""] in evaluated["rows"]


def test_out_of_scope_user_whose_target_was_deleted_is_skipped(scim_app, scim_server, jane):
    first = run(scim_app, jane)
    httpx.delete(f"{scim_app.tenant_url}/Users/{first.target_id}", headers={"Authorization": f"Bearer {scim_server.token}"}).raise_for_status()
    scim_app.assignments.all().delete()

    log = run(scim_app, jane)

    assert (log.action, log.status) == ("other", "skipped")
    assert "no longer exists" in log.error_description
    assert not ExportState.objects.filter(source_id=jane.object_id).exists()


@pytest.mark.parametrize("action", ["action_create", "action_update"])
def test_cleared_target_object_actions_are_skipped_with_the_reason(scim_app, scim_server, jane, action):
    user_mapping = scim_app.object_mappings.get(object_type="user")
    if action == "action_update":
        run(scim_app, jane)  # exists in the target; now it leaves scope
        scim_app.assignments.all().delete()
    setattr(user_mapping, action, False)
    user_mapping.save()

    log = run(scim_app, jane)

    assert log.status == "skipped"
    assert "not enabled in Target Object Actions" in log.error_description
    targets = target_users(scim_app, scim_server.token)
    assert targets == [] if action == "action_create" else targets[0]["active"] is True


def test_select_unique_value_skips_values_that_exist_in_the_target(scim_app, scim_server, jane):
    mapping = scim_app.object_mappings.get(object_type="user")
    factories.AttributeMappingFactory(
        object_mapping=mapping, mapping_type="expression", target_attribute="nickName",
        apply_on=AttributeMapping.ApplyOn.CREATE_ONLY,
        expression='SelectUniqueValue(Join(".", [givenName], [surname]), Join(".", [givenName], [surname], "2"))',
    )
    httpx.post(f"{scim_app.tenant_url}/Users", headers={"Authorization": f"Bearer {scim_server.token}"}, json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "someone.else", "nickName": "Jane.Doe"}).raise_for_status()

    log = run(scim_app, jane)

    assert log.status == "success", log.error_description
    created = next(u for u in target_users(scim_app, scim_server.token) if u["userName"] == jane.user_principal_name)
    assert created["nickName"] == "Jane.Doe.2"


# ---------------------------------------------------------------------------------------------- the whole story


def test_the_entry_keeps_its_requests_and_answers_without_the_token(scim_app, scim_server, jane):
    log = run(scim_app, jane)
    query, post = log.traffic
    assert query["method"] == "GET" and 'userName eq "jane@contoso.example"' in unquote_plus(query["url"])
    assert (post["method"], post["status"]) == ("POST", 201)
    assert json.loads(post["request_body"])["userName"] == "jane@contoso.example"
    assert json.loads(post["response_body"])["id"] == log.target_id
    assert scim_server.token not in json.dumps(log.traffic)
    assert all(name.lower() != "authorization" for e in log.traffic for name, _ in e["request_headers"])


def test_match_shows_the_filter_as_sent_and_how_many_results_came_back(scim_app, jane):
    log = run(scim_app, jane)
    match_step = log.steps[2]
    assert 'userName eq "jane@contoso.example" → 0 results' in match_step["description"]
    rows = match_step["sections"][0]["rows"]
    assert rows[0][2:] == ['userName eq "jane@contoso.example"', "0 results"]

    run(scim_app, factories.DirectoryUserFactory())  # another user; jane is linked now: matched again by filter
    ExportState.objects.filter(source_id=jane.object_id).delete()
    again = run(scim_app, jane)
    assert 'userName eq "jane@contoso.example" → 1 result' in again.steps[2]["description"]


def test_a_failed_patch_keeps_its_operations_in_the_entry(scim_app, scim_server, jane, misbehaving_server):
    first = run(scim_app, jane)
    target_id = first.target_id

    def respond(request):
        if request.method == "GET":
            return Reply(200, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": target_id,
                               "userName": "jane@contoso.example", "title": "Engineer", "active": True})
        return Reply(400, scim_error(400, "title is read-only", "mutability"))

    server = misbehaving_server(respond)
    scim_app.tenant_url = server.url
    scim_app.save()
    jane.job_title = "Principal Engineer"
    jane.save()
    log = run(scim_app, jane)
    # A target that refuses every change fails the user (nothing is learned as refused: it is not about one path).
    assert log.status == "failure"
    assert scim_app.__class__.objects.get(pk=scim_app.pk).target_quirks.get("refused") is None
    patch = next(t for t in log.traffic if t.get("method") == "PATCH")
    assert (patch["method"], patch["status"]) == ("PATCH", 400)
    operations = json.loads(patch["request_body"])["Operations"]
    assert any(op.get("path") == "title" or "title" in json.dumps(op.get("value")) for op in operations)
    assert "title is read-only" in patch["response_body"]


def test_a_409_after_no_match_says_the_filter_may_be_case_sensitive(scim_app, jane, misbehaving_server):
    def respond(request):
        if request.method == "GET":
            return Reply(200, list_response([]))  # compares case: the existing Jane@Contoso.example is not found
        return Reply(409, scim_error(409, "User with userName Jane@Contoso.example already exists", "uniqueness"))

    server = misbehaving_server(respond)
    scim_app.tenant_url = server.url
    scim_app.save()
    log = run(scim_app, jane)
    assert log.status == "failure" and log.error_code == "EntryConflict"
    assert "may be case-sensitive" in log.error_description
    assert 'userName eq "jane@contoso.example"' in log.error_description
    assert "ToLower" in log.recommended_fix and "Mappings" in log.recommended_fix
    assert "may be case-sensitive" in log.steps[-1]["description"]


def test_a_409_naming_another_value_gets_no_case_hint(scim_app, jane, misbehaving_server):
    def respond(request):
        if request.method == "GET":
            return Reply(200, list_response([]))
        return Reply(409, scim_error(409, "externalId E100-X already exists", "uniqueness"))

    scim_app.tenant_url = misbehaving_server(respond).url
    scim_app.save()
    log = run(scim_app, jane)
    assert log.status == "failure" and "case-sensitive" not in log.error_description


def test_an_unassigned_users_skip_says_how_to_let_it_in(scim_app, db):
    log = run(scim_app, factories.DirectoryUserFactory(display_name="Sam Stranger"))
    assert log.status == "skipped"
    assert "Assign users and groups" in log.recommended_fix and "Sync all" in log.recommended_fix


def test_a_scoping_skip_names_the_filter_to_edit_and_the_case_difference(scim_app, jane):
    user_mapping = scim_app.object_mappings.get(object_type="user")
    scoping_filter = factories.ScopingFilterFactory(object_mapping=user_mapping, title="Engineering only")
    factories.ScopingClauseFactory(scoping_filter=scoping_filter, attribute="department", operator="EQUALS", value="engineering")
    log = run(scim_app, jane)
    assert log.status == "skipped"
    assert "differ only in case" in log.error_description
    assert "'Engineering only'" in log.recommended_fix and "Mappings > Scoping" in log.recommended_fix


def test_a_null_scoping_attribute_is_named(scim_app, jane):
    user_mapping = scim_app.object_mappings.get(object_type="user")
    scoping_filter = factories.ScopingFilterFactory(object_mapping=user_mapping, title="Has a cost centre")
    factories.ScopingClauseFactory(scoping_filter=scoping_filter, attribute="employeeType", operator="EQUALS", value="Staff")
    log = run(scim_app, jane)
    assert "employeeType has no value, and scoping filters are false for an empty value" in log.error_description


@pytest.mark.parametrize("answer", ["still active", "empty, read back still active"])
def test_a_disable_the_target_answers_without_applying_is_not_success(scim_app, jane, misbehaving_server, answer):
    first = run(scim_app, jane)
    target_id = first.target_id
    active = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": target_id,
              "userName": "jane@contoso.example", "active": True}

    def respond(request):
        if request.method == "PATCH" and answer == "still active":
            return Reply(200, active)
        if request.method == "PATCH":
            return Reply(200, b"")
        return Reply(200, active)

    scim_app.tenant_url = misbehaving_server(respond).url
    scim_app.save()
    scim_app.assignments.all().delete()
    log = run(scim_app, jane)
    assert (log.action, log.status, log.error_code) == ("disable", "failure", "UpdateNotApplied"), log.error_description
    assert "still has active = True" in log.error_description and log.recommended_fix
    assert not ExportState.objects.get(source_id=jane.object_id).disabled  # sent again next time


def test_a_match_answered_with_another_user_fails_and_links_nothing(scim_app, jane, misbehaving_server):
    stranger = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "s-1", "userName": "sam@contoso.example"}
    server = misbehaving_server(lambda request: Reply(200, list_response([stranger])))
    scim_app.tenant_url = server.url
    scim_app.save()
    log = run(scim_app, jane)
    assert (log.status, log.error_code) == ("failure", "TargetAnswerMismatch")
    assert 's-1 (userName = sam@contoso.example)' in log.error_description
    assert [r.method for r in server.requests] == ["GET"]
    assert not ExportState.objects.filter(source_id=jane.object_id).exclude(target_id="").exists()


def test_a_match_is_case_insensitive_for_user_name_as_scim_says(scim_app, jane, misbehaving_server):
    found = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "j-1", "userName": "JANE@Contoso.Example",
             "active": True}
    server = misbehaving_server(lambda request: Reply(200, list_response([found])) if request.method == "GET" else Reply(204))
    scim_app.tenant_url = server.url
    scim_app.save()
    log = run(scim_app, jane)
    assert log.status == "success" and log.target_id == "j-1", log.error_description


def test_a_match_on_a_work_email_accepts_a_target_that_keeps_no_email_type(scim_app, jane, misbehaving_server):
    mapping = scim_app.object_mappings.get(object_type="user")
    mapping.attribute_mappings.update(is_matching=False)
    mapping.attribute_mappings.filter(target_attribute='emails[type eq "work"].value').update(is_matching=True, matching_precedence=1)
    found = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "j-1", "userName": "jane",
             "emails": [{"value": "Jane@Contoso.example"}], "active": True}
    server = misbehaving_server(lambda request: Reply(200, list_response([found])) if request.method == "GET" else Reply(204))
    scim_app.tenant_url = server.url
    scim_app.save()
    log = run(scim_app, jane)
    assert log.target_id == "j-1" and log.status == "success", log.error_description
