"""Test Connection, Provision on demand and a cycle against every class of answers of the hostile target
(tests/hostile_target.py): each ends with an explained failure (error code, message, fix) or the correct result,
never a crash ("stopped unexpectedly"), a hang past the deadline, a log entry that grows with what the target
sends, or a "success" that did not happen."""

import json
import time

import pytest

from provisioning.engine.connection import test_connection
from provisioning.engine.cycle import run_cycle, start_provisioning
from provisioning.engine.on_demand import provision_on_demand, request_on_demand
from provisioning.models import Application, ExportState, OnDemandRun, ProvisioningLog
from tests import factories
from tests.hostile_target import CLASSES, HostileTarget

pytestmark = pytest.mark.django_db

DEADLINE = 2
SMALL_LIMIT = 2 * 1024 * 1024
INCOMPATIBLE = "SystemForCrossDomainIdentityManagementServiceIncompatible"
# Classes whose answers are big but legitimate in size: they test what the log makes of them, under the default cap.
DEFAULT_LIMIT = {"huge_duplicates", "huge_name"}
# Classes that need Jane to exist in the target already (so that she is matched and updated).
SEEDED = {"patch_unchanged", "patch_other", "patch_empty", "member_ignored", "upper_id"}
MISMATCHED = {"wrong_user", "group_for_user", "inconsistent_list", "missing_resources", "huge_duplicates"}
# Entry size that no target can push past (the steps, modified properties and requests together).
ENTRY_BYTES = 400_000

# What Test Connection says: None when it must succeed (the class bends only other requests), else (code, words).
CONNECTION = {
    "deep_json": (INCOMPATIBLE, "nested deeper than 64 levels"),
    "false_gzip": ("UnusableResponse", "gzip-compressed"),
    "javascript_redirect": (INCOMPATIBLE, "redirects (HTTP 302 Found) to javascript:alert"),
    "not_object": (INCOMPATIBLE, "JSON null instead of a ListResponse"),
    "endless": ("UnusableResponse", "sent more than 2 MiB"),
    "gzip_bomb": ("UnusableResponse", "inflates to more than 2 MiB"),
    "trickle": ("Timeout", f"within {DEADLINE} seconds, the most one request may take (SCIM_DEADLINE_SECONDS)"),
}
# What Provision on demand of Jane ends with when the connection works: (status, code, words in the description).
ON_DEMAND = {
    "wrong_user": ("failure", "TargetAnswerMismatch", "do not hold userName"),
    "group_for_user": ("failure", INCOMPATIBLE, "returned a Group (meta.resourceType) where a User was asked for"),
    "inconsistent_list": ("failure", INCOMPATIBLE, "totalResults 5 but no Resources"),
    "missing_resources": ("failure", INCOMPATIBLE, "itemsPerPage 3 but no Resources"),
    "patch_unchanged": ("failure", "UpdateNotApplied", "does not hold the new values: displayName"),
    "patch_other": ("failure", INCOMPATIBLE, "returned another resource (id someone-else)"),
    "patch_empty": ("failure", "UpdateNotApplied", "does not hold the new values: displayName"),
    "member_ignored": ("success", "", ""),  # a user: the class bends group answers only (see the group test)
    "no_id": ("failure", INCOMPATIBLE, "returned a resource without an id"),
    "upper_id": ("success", "", ""),
    "huge_duplicates": ("failure", "DuplicateTargetEntries", "200000 users in"),
    "huge_name": ("success", "", ""),
    "bad_text": ("failure", "SystemForCrossDomainIdentityManagementBadRequest", "refused"),
}
assert set(CONNECTION) | set(ON_DEMAND) == set(CLASSES), "every class has an expected outcome"


@pytest.fixture(scope="module")
def hostile():
    with HostileTarget() as target:
        yield target


@pytest.fixture(autouse=True)
def bounds(settings):
    settings.SCIM_DEADLINE_SECONDS = DEADLINE
    settings.SCIM_MAX_RESPONSE_BYTES = SMALL_LIMIT
    settings.SCIM_TIMEOUT_SECONDS = 5  # longer than the deadline: a trickle never waits 5 s for one byte
    settings.PROVISIONING_RETRY_TRIES = 2
    settings.PROVISIONING_RETRY_SECONDS = 3


def hostile_app(hostile, kind, settings, method=None):
    if kind in DEFAULT_LIMIT:
        settings.SCIM_MAX_RESPONSE_BYTES = 20 * 1024 * 1024
    url = hostile.tenant_url(kind, method)
    return factories.ApplicationFactory(tenant_url=url, secret_token=hostile.token, use_bulk=False)


def jane_in(app, hostile, kind):
    jane = factories.DirectoryUserFactory(given_name="Jane", surname="Doe", display_name="Jane Doe",
                                          user_principal_name="jane@contoso.example", mail="jane@contoso.example")
    factories.AssignmentFactory(application=app, user=jane)
    if kind in SEEDED:
        hostile.seed(app.tenant_url, "Users", {"userName": "jane@contoso.example", "displayName": "Old Name", "active": True})
    return jane


def assert_explained(entry):
    """A finished entry that says what happened, with a code and a fix when it failed, and stays small."""
    assert entry.status in ("success", "failure", "skipped", "warning"), entry.status
    assert "stopped unexpectedly" not in entry.error_description, entry.error_description
    assert entry.error_code != "InternalError", entry.error_description
    if entry.status == "failure":
        assert entry.error_code and entry.error_description and entry.recommended_fix, (entry.error_code, entry.error_description)
    size = len(json.dumps([entry.steps, entry.modified_properties, entry.traffic])) + len(entry.error_description)
    assert size < ENTRY_BYTES, f"the entry holds {size:,} characters"


# ---------------------------------------------------------------- Test Connection


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_test_connection_explains_or_succeeds(hostile, settings, kind):
    app = hostile_app(hostile, kind, settings)
    started = time.monotonic()
    result = test_connection(app)
    assert time.monotonic() - started < DEADLINE + 3
    if kind not in CONNECTION:
        assert result.ok, result.message
        return
    code, words = CONNECTION[kind]
    assert not result.ok
    assert (result.code, words in result.message) == (code, True), result.message
    assert result.fix


# ---------------------------------------------------------------- Provision on demand


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_on_demand_explains_or_provisions(hostile, settings, kind):
    app = hostile_app(hostile, kind, settings)
    jane = jane_in(app, hostile, kind)
    started = time.monotonic()
    run = request_on_demand(app, user_ids=[jane.pk])
    [entry] = provision_on_demand(run)
    assert time.monotonic() - started < 3 * DEADLINE + 5
    run.refresh_from_db()
    assert run.state == OnDemandRun.State.COMPLETED
    entry.refresh_from_db()  # what was stored reads back (no lone surrogate or NUL broke the write)
    assert_explained(entry)
    if kind in CONNECTION:
        assert entry.status == "failure" and entry.error_code == CONNECTION[kind][0]
        assert [step["key"] for step in entry.steps] == ["test_connection"]
        return
    status, code, words = ON_DEMAND[kind]
    assert (entry.status, entry.error_code) == (status, code), entry.error_description
    assert words in entry.error_description
    if kind in MISMATCHED:
        # The object the target answered with is not linked: a later run does not take it for Jane's.
        state = ExportState.objects.filter(application=app, source_id=jane.object_id).first()
        assert state is None or not state.target_id


def test_a_query_answered_with_another_user_is_not_taken_and_nothing_is_created(hostile, settings):
    app = hostile_app(hostile, "wrong_user", settings)
    jane = jane_in(app, hostile, "wrong_user")
    [entry] = provision_on_demand(request_on_demand(app, user_ids=[jane.pk]))
    assert "stranger-1 (userName = someone.else@contoso.example)" in entry.error_description
    assert "filter" in entry.recommended_fix
    assert not [r for r in hostile.sent(app.tenant_url) if r[0] in ("POST", "PATCH")]


@pytest.mark.parametrize("kind", ["inconsistent_list", "missing_resources", "group_for_user"])
def test_an_inconsistent_or_wrong_list_never_becomes_a_create(hostile, settings, kind):
    app = hostile_app(hostile, kind, settings)
    jane = jane_in(app, hostile, kind)
    provision_on_demand(request_on_demand(app, user_ids=[jane.pk]))
    assert not [r for r in hostile.sent(app.tenant_url) if r[0] == "POST"]


def test_200000_duplicates_are_counted_not_listed(hostile, settings):
    app = hostile_app(hostile, "huge_duplicates", settings)
    jane = jane_in(app, hostile, "huge_duplicates")
    [entry] = provision_on_demand(request_on_demand(app, user_ids=[jane.pk]))
    assert "dup-0, dup-1" in entry.error_description and "and 199,980 more" in entry.error_description
    assert len(entry.error_description) < 3000
    match = entry.steps[-1]
    assert len(match["sections"]) <= 6  # the matching table and a few of the duplicates, not 200,000 tables


def test_a_5_mib_display_name_is_cut_in_the_entry_saying_how_much(hostile, settings):
    app = hostile_app(hostile, "huge_name", settings)
    jane = jane_in(app, hostile, "huge_name")
    [entry] = provision_on_demand(request_on_demand(app, user_ids=[jane.pk]))
    entry.refresh_from_db()
    cells = [cell for step in entry.steps for section in step["sections"] for row in section["rows"] for cell in row]
    assert any("more characters left out)" in cell for cell in cells)
    displayname = next(p for p in entry.modified_properties if p["name"] == "displayName")
    assert displayname["new"] == "Jane Doe" and "more characters left out" in displayname["old"]
    assert any(exchange.get("response_body_omitted", 0) > 5_000_000 for exchange in entry.traffic)


def test_unstorable_and_invisible_characters_are_stored_clean_and_shown_escaped(hostile, settings, client, admin_user):
    app = hostile_app(hostile, "bad_text", settings)
    jane = jane_in(app, hostile, "bad_text")
    [entry] = provision_on_demand(request_on_demand(app, user_ids=[jane.pk]))
    entry.refresh_from_db()
    stored = json.dumps([entry.steps, entry.traffic, entry.error_description], ensure_ascii=False)
    for raw in ("\x00", "\x1b", "\u202e", "\\u0000"):
        assert raw not in stored.replace("\\\\u0000", ""), repr(raw)
    assert "\\\\u001b[31mred" in stored and "\\\\u202eexe.txt" in stored  # ESC and RLO written visibly
    client.force_login(admin_user)
    page = client.get(f"/apps/{app.pk}/provisioning-logs/{entry.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "\x1b" not in html and "\u202e" not in html and "\\u001b[31mred" in html


def test_a_group_answer_without_the_added_member_is_not_success(hostile, settings):
    app = hostile_app(hostile, "member_ignored", settings)
    jane = jane_in(app, hostile, "member_ignored")
    group = factories.DirectoryGroupFactory(display_name="Pilot users", members=[jane])
    factories.AssignmentFactory(application=app, user=None, group=group)
    hostile.seed(app.tenant_url, "Groups", {"displayName": "Pilot users", "members": []})
    run = request_on_demand(app, user_ids=[jane.pk], group_id=group.pk)
    user_entry, group_entry = provision_on_demand(run)
    assert user_entry.status == "success"
    assert_explained(group_entry)
    assert (group_entry.status, group_entry.error_code) == ("failure", "GroupMembershipNotApplied")
    assert "does not reflect 1 member(s) it was asked to add" in group_entry.error_description
    rows = group_entry.steps[-1]["sections"][0]["rows"]
    assert ["Jane Doe", "not added: the target's answer does not hold it"] in rows
    state = ExportState.objects.get(application=app, source_id=group.object_id)
    assert state.members == [] and state.members_pending  # sent again next time, not recorded as done


@pytest.mark.parametrize("kind", ["deep_json", "javascript_redirect", "not_object", "endless", "gzip_bomb", "no_id"])
def test_a_create_answered_badly_is_an_explained_failure(hostile, settings, kind):
    """Only the POST's answer is hostile: Test Connection and the match work, the create's answer does not."""
    app = hostile_app(hostile, kind, settings, method="POST")
    jane = jane_in(app, hostile, kind)
    started = time.monotonic()
    [entry] = provision_on_demand(request_on_demand(app, user_ids=[jane.pk]))
    assert time.monotonic() - started < 3 * DEADLINE + 5
    assert_explained(entry)
    assert entry.status == "failure" and entry.steps[-1]["key"] == "action", entry.error_description
    assert entry.error_description.startswith("Failed to create User 'Jane Doe'")


@pytest.mark.parametrize("kind", ["false_gzip", "trickle"])
def test_a_create_applied_whose_answer_is_unreadable_is_adopted_not_duplicated(hostile, settings, kind):
    """The target created Jane, then answered unreadably (false gzip) or too slowly: she is looked up and linked."""
    app = hostile_app(hostile, kind, settings, method="POST")
    jane = jane_in(app, hostile, kind)
    [entry] = provision_on_demand(request_on_demand(app, user_ids=[jane.pk]))
    assert_explained(entry)
    assert (entry.status, entry.action) == ("success", "create"), entry.error_description
    assert "the user was found by its matching attribute instead of being created twice" in entry.steps[-1]["description"]
    assert [u["userName"] for u in hostile.store(app.tenant_url)["Users"].values()] == ["jane@contoso.example"]
    assert ExportState.objects.get(application=app, source_id=jane.object_id).target_id


# ---------------------------------------------------------------- a cycle


@pytest.mark.parametrize("kind", sorted(CLASSES))
def test_a_cycle_ends_explained(hostile, settings, kind):
    app = hostile_app(hostile, kind, settings)
    app.scope = Application.Scope.ASSIGNED
    app.save()
    jane = jane_in(app, hostile, kind)
    others = factories.DirectoryUserFactory.create_batch(2)
    for user in others:
        factories.AssignmentFactory(application=app, user=user)
    group = factories.DirectoryGroupFactory(display_name="Pilot users", members=[jane, *others])
    factories.AssignmentFactory(application=app, user=None, group=group)
    if kind == "member_ignored":
        hostile.seed(app.tenant_url, "Groups", {"displayName": "Pilot users", "members": []})
    started = time.monotonic()
    cycle = run_cycle(start_provisioning(app))
    assert time.monotonic() - started < 30
    assert cycle.state in ("completed", "failed")
    entries = list(ProvisioningLog.objects.filter(cycle=cycle))
    assert entries, "a cycle always leaves at least one entry"
    for entry in entries:
        assert_explained(entry)
    if kind in CONNECTION:
        assert any(e.object_type == "cycle" and e.error_code == CONNECTION[kind][0] for e in entries)
        return
    by_name = {e.source_display_name: e for e in entries}
    if kind in ("patch_unchanged", "patch_empty"):
        assert by_name["Jane Doe"].error_code == "UpdateNotApplied"
    if kind == "patch_other":
        assert "another resource" in by_name["Jane Doe"].error_description
    if kind == "member_ignored":
        assert by_name["Pilot users"].error_code == "GroupMembershipNotApplied"
    if kind in ("upper_id", "huge_name"):
        assert {e.status for e in entries} == {"success"}
