"""Provisioning cycles against the real scim2-server: initial, incremental with each kind of change, deletes,
managers first, big groups, 409 → adopt, 404 on update, never merging two people, Stop, the watermark.

Cycles run in-process here (cycle.run_cycle: the same plan, chunks and pipeline the workers run); the
target's request counter proves what each cycle sent.
"""

import time

import httpx
import pytest
from django.utils import timezone

from provisioning import tasks
from provisioning.engine import cycle as cycles
from provisioning.engine.cycle import ProvisioningNotConfigured, queue_due_cycles, run_cycle, start_provisioning, stop_provisioning
from provisioning.engine.status import overview
from provisioning.models import Application, ExportState, ObjectMapping, ProvisioningCycle, ProvisioningLog
from tests import factories
from tests.scim.misbehaving import Reply, misbehaving_server  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.PROVISIONING_CHUNK_SIZE = 5  # several chunks per phase even for a small directory


@pytest.fixture(autouse=True)
def one_request_per_object(request):
    # Bulk requests have their own tests; the others count single requests.
    if "scim_app" in request.fixturenames and "bulk" not in request.node.name:
        app = request.getfixturevalue("scim_app")
        app.use_bulk = False
        app.save()


@pytest.fixture
def assigned(scim_app):
    users = factories.DirectoryUserFactory.create_batch(12)
    group = factories.DirectoryGroupFactory(display_name="Pilot users", members=users[6:])
    for user in users[:6]:
        factories.AssignmentFactory(application=scim_app, user=user)
    factories.AssignmentFactory(application=scim_app, user=None, group=group)
    factories.DirectoryUserFactory.create_batch(3)  # not assigned: not part of the cycle
    return users


def cycle_now(app):
    app.refresh_from_db()
    return run_cycle(start_provisioning(app))


def target(app, token, path, **params):
    response = httpx.get(f"{app.tenant_url}/{path}", headers={"Authorization": f"Bearer {token}"}, params=params)
    response.raise_for_status()
    return response.json()


def target_users(app, token):
    return {u["userName"]: u for u in target(app, token, "Users", count=1000)["Resources"]}


def target_groups(app, token):
    groups = target(app, token, "Groups", count=1000)["Resources"]
    return {g["displayName"]: g for g in groups}


def member_ids(group):
    return sorted(m["value"] for m in group.get("members") or [])


def outcomes(cycle):
    return sorted((log.object_type, log.action, log.status) for log in ProvisioningLog.objects.filter(cycle=cycle))


def requests_since(scim_server, app, action):
    """Run action() and return the requests the target received meanwhile, by endpoint."""
    scim_server.reset_stats(app.tenant_url)
    result = action()
    return result, scim_server.stats(app.tenant_url)["by"]


# ------------------------------------------------------------------------------------------ basics


def test_start_requires_configuration():
    app = factories.ApplicationFactory(provisioning_mode="manual", tenant_url="", secret_token="")
    with pytest.raises(ProvisioningNotConfigured) as excinfo:
        start_provisioning(app)
    assert "set Provisioning Mode to Automatic, enter the Tenant URL, enter the Secret Token" in str(excinfo.value)


def test_initial_cycle_creates_every_assigned_user_and_group_and_completes(scim_app, scim_server, assigned):
    cycle = start_provisioning(scim_app)
    assert cycle.kind == "initial" and cycle.state == "queued"

    cycle, sent = requests_since(scim_server, scim_app, lambda: run_cycle(cycle))

    scim_app.refresh_from_db()
    assert cycle.state == "completed", cycle.error
    assert outcomes(cycle) == [("group", "create", "success")] + [("user", "create", "success")] * 12
    users = target_users(scim_app, scim_server.token)
    assert len(users) == 12
    [group] = target_groups(scim_app, scim_server.token).values()
    assert member_ids(target(scim_app, scim_server.token, f"Groups/{group['id']}")) == sorted(u["id"] for u in users.values() if
                                                                                          u["userName"] in {x.user_principal_name for x in assigned[6:]})
    # One POST per object, the members in the group's POST; the listing of the empty target; no GET per user.
    assert sent.get("POST /Users") == 12 and sent.get("POST /Groups") == 1
    assert "PATCH /Groups/{id}" not in sent and "GET /Users/{id}" not in sent
    assert scim_app.watermark == cycle.watermark_to
    assert scim_app.job_status == Application.JobStatus.ACTIVE
    assert scim_app.next_cycle_at > timezone.now()
    status = overview(scim_app)
    assert status.cycle_status_text.startswith("Initial cycle completed in")
    assert {(c.action, c.status): c.n for c in status.counts} == {("create", "success"): 13}
    assert (status.users_in_target, status.groups_in_target) == (12, 1)
    assert status.progress.percent == 100


def test_incremental_cycle_with_nothing_changed_sends_no_request(scim_app, scim_server, assigned):
    first = cycle_now(scim_app)

    second, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))

    assert second.kind == "incremental" and second.state == "completed"
    assert sent == {}
    assert not ProvisioningLog.objects.filter(cycle=second).exists()
    since = timezone.localtime(first.watermark_to).strftime("%-m/%-d/%Y, %-I:%M:%S %p")
    assert overview(scim_app).cycle_status_text == f"Incremental cycle completed: no changes since {since}."


def test_the_first_incremental_cycle_after_the_initial_one_rechecks_nothing(scim_app, scim_server, assigned):
    from provisioning.models import DirectoryGroup, DirectoryUser

    long_ago = timezone.now() - timezone.timedelta(hours=1)
    DirectoryUser.objects.update(updated_at=long_ago)
    DirectoryGroup.objects.update(updated_at=long_ago)
    cycle_now(scim_app)

    second = cycle_now(scim_app)

    # Users linked during the initial cycle do not make the next one re-check their groups: the initial
    # cycle's groups phase already had them.
    assert list(second.chunks.values_list("phase", "total")) == []


def test_a_member_that_comes_into_scope_is_added_to_its_group(scim_app, scim_server, assigned):
    mapping = scim_app.object_mappings.get(object_type="user")
    scoping = factories.ScopingFilterFactory(object_mapping=mapping, title="Engineering only")
    factories.ScopingClauseFactory(scoping_filter=scoping, attribute="department", operator="EQUALS", value="Engineering")
    latecomer = assigned[7]
    latecomer.department = "Sales"
    latecomer.save()
    cycle_now(scim_app)
    group_state = ExportState.objects.get(application=scim_app, object_type="group")
    assert group_state.members_pending

    latecomer.department = "Engineering"
    latecomer.save()
    cycle, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))

    # Entra's known issue: the member is not added until a restart. Here: created, then added at once.
    assert sent == {"GET /Users": 1, "POST /Users": 1, "PATCH /Groups/{id}": 1}, sent
    users = target_users(scim_app, scim_server.token)
    [group] = target_groups(scim_app, scim_server.token).values()
    assert users[latecomer.user_principal_name]["id"] in member_ids(target(scim_app, scim_server.token, f"Groups/{group['id']}"))
    assert not ExportState.objects.get(pk=group_state.pk).members_pending


def test_an_attribute_change_costs_one_patch(scim_app, scim_server, assigned):
    cycle_now(scim_app)
    assigned[0].department = "Sales"
    assigned[0].save()

    cycle, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))

    assert sent == {"PATCH /Users/{id}": 1}
    [log] = ProvisioningLog.objects.filter(cycle=cycle)
    assert (log.action, log.status, log.source_id) == ("update", "success", str(assigned[0].object_id))
    assert {"name": f"{ENTERPRISE}:department", "old": "Engineering", "new": "Sales"} in log.modified_properties
    assert target_users(scim_app, scim_server.token)[assigned[0].user_principal_name][ENTERPRISE]["department"] == "Sales"


def test_a_manager_change_is_sent_as_the_managers_target_id(scim_app, scim_server, assigned):
    cycle_now(scim_app)
    assigned[1].manager = assigned[0]
    assigned[1].save()

    cycle, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))

    assert sent == {"PATCH /Users/{id}": 1}
    users = target_users(scim_app, scim_server.token)
    assert users[assigned[1].user_principal_name][ENTERPRISE]["manager"]["value"] == users[assigned[0].user_principal_name]["id"]


def test_membership_add_and_remove_send_only_the_delta(scim_app, scim_server, assigned):
    cycle_now(scim_app)
    group = assigned[6].groups.get()
    group.members.remove(assigned[6])
    group.members.add(assigned[0])  # assigned directly, already provisioned

    cycle, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))

    # The group's delta, and the user who left the group (assigned only through it) is disabled.
    assert sent == {"PATCH /Groups/{id}": 2, "PATCH /Users/{id}": 1}, sent
    users = target_users(scim_app, scim_server.token)
    [target_group] = target_groups(scim_app, scim_server.token).values()
    members = member_ids(target(scim_app, scim_server.token, f"Groups/{target_group['id']}"))
    assert users[assigned[0].user_principal_name]["id"] in members
    assert users[assigned[6].user_principal_name]["id"] not in members
    assert users[assigned[6].user_principal_name]["active"] is False
    assert ("group", "update", "success") in outcomes(cycle) and ("user", "disable", "success") in outcomes(cycle)


def test_assignment_added_creates_and_removed_disables(scim_app, scim_server, assigned):
    cycle_now(scim_app)
    newcomer = factories.DirectoryUserFactory()
    factories.AssignmentFactory(application=scim_app, user=newcomer)
    scim_app.assignments.filter(user=assigned[0]).delete()

    cycle = cycle_now(scim_app)

    assert outcomes(cycle) == [("user", "create", "success"), ("user", "disable", "success")]
    users = target_users(scim_app, scim_server.token)
    assert newcomer.user_principal_name in users
    assert users[assigned[0].user_principal_name]["active"] is False


def test_disabled_and_soft_deleted_users_are_disabled(scim_app, scim_server, assigned):
    cycle_now(scim_app)
    assigned[0].account_enabled = False
    assigned[0].save()
    assigned[1].deleted_at = timezone.now()
    assigned[1].save()

    cycle = cycle_now(scim_app)

    assert outcomes(cycle) == [("user", "disable", "success")] * 2
    users = target_users(scim_app, scim_server.token)
    assert users[assigned[0].user_principal_name]["active"] is False
    assert users[assigned[1].user_principal_name]["active"] is False
    reasons = {log.steps[-1]["description"] for log in ProvisioningLog.objects.filter(cycle=cycle)}
    assert any("disabled in the directory" in r for r in reasons) and any("soft delete" in r for r in reasons)


def test_hard_deleted_user_is_deleted_when_delete_is_ticked(scim_app, scim_server, assigned):
    cycle_now(scim_app)
    gone = assigned[0]
    gone.delete()

    cycle, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))

    assert sent == {"DELETE /Users/{id}": 1}
    [log] = ProvisioningLog.objects.filter(cycle=cycle)
    assert (log.action, log.status) == ("delete", "success")
    assert "deleted from the directory" in log.steps[-1]["description"]
    assert gone.user_principal_name not in target_users(scim_app, scim_server.token)
    assert not ExportState.objects.filter(application=scim_app, source_id=gone.object_id).exists()
    assert cycle_now(scim_app).state == "completed"  # and the next cycle has nothing left to do
    assert not ProvisioningLog.objects.filter(cycle=scim_app.cycles.first()).exists()


def test_hard_deleted_user_is_disabled_once_when_delete_is_not_ticked(scim_app, scim_server, assigned):
    ObjectMapping.objects.filter(application=scim_app, object_type="user").update(action_delete=False)
    cycle_now(scim_app)
    assigned[0].delete()

    cycle = cycle_now(scim_app)
    assert outcomes(cycle) == [("user", "disable", "success")]
    assert target_users(scim_app, scim_server.token)[assigned[0].user_principal_name]["active"] is False
    _, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))
    assert sent == {}


def test_a_group_that_leaves_scope_is_deleted(scim_app, scim_server, assigned):
    cycle_now(scim_app)
    group = assigned[6].groups.get()
    scim_app.assignments.filter(group=group).delete()

    cycle = cycle_now(scim_app)

    assert ("group", "delete", "success") in outcomes(cycle)
    assert target_groups(scim_app, scim_server.token) == {}
    # Its members were assigned only through it: they are disabled.
    assert outcomes(cycle).count(("user", "disable", "success")) == 6


def test_a_soft_deleted_group_is_deleted_and_its_members_lose_that_assignment(scim_app, scim_server, assigned):
    cycle_now(scim_app)
    group = assigned[6].groups.get()
    group.deleted_at = timezone.now()
    group.save()

    cycle = cycle_now(scim_app)

    assert outcomes(cycle) == [("group", "delete", "success")] + [("user", "disable", "success")] * 6
    assert target_groups(scim_app, scim_server.token) == {}


def test_a_scoping_change_starts_a_full_cycle_that_disables_the_excluded(scim_app, scim_server, assigned):
    from provisioning.mapping_config.watermark import require_full_cycle

    cycle_now(scim_app)
    assigned[0].department = "Sales"
    assigned[0].save()
    mapping = scim_app.object_mappings.get(object_type="user")
    scoping = factories.ScopingFilterFactory(object_mapping=mapping, title="Engineering only")
    factories.ScopingClauseFactory(scoping_filter=scoping, attribute="department", operator="EQUALS", value="Engineering")
    require_full_cycle(scim_app)

    cycle = cycle_now(scim_app)

    assert cycle.kind == "initial"
    assert ("user", "disable", "success") in outcomes(cycle)
    assert target_users(scim_app, scim_server.token)[assigned[0].user_principal_name]["active"] is False


# ------------------------------------------------------------------------------------------ references and groups


def test_managers_are_created_first_with_the_manager_in_the_post(scim_app, scim_server):
    ceo = factories.DirectoryUserFactory(display_name="CEO")
    vps = factories.DirectoryUserFactory.create_batch(3, manager=ceo)
    staff = [factories.DirectoryUserFactory(manager=vps[i % 3]) for i in range(9)]
    scim_app.scope = Application.Scope.ALL
    scim_app.save()

    cycle, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))

    assert cycle.state == "completed"
    assert sent.get("POST /Users") == 13 and "PATCH /Users/{id}" not in sent  # no separate manager PATCH
    users = target_users(scim_app, scim_server.token)
    for person, boss in [(vps[0], ceo), (staff[4], vps[1])]:
        assert users[person.user_principal_name][ENTERPRISE]["manager"]["value"] == users[boss.user_principal_name]["id"]
    assert not ExportState.objects.exclude(reference_pending="").exists()


def test_a_manager_that_comes_into_scope_later_is_linked_without_a_restart(scim_app, scim_server):
    boss = factories.DirectoryUserFactory(display_name="The Boss")
    report = factories.DirectoryUserFactory(manager=boss)
    factories.AssignmentFactory(application=scim_app, user=report)
    cycle_now(scim_app)
    users = target_users(scim_app, scim_server.token)
    assert ENTERPRISE not in users[report.user_principal_name] or "manager" not in users[report.user_principal_name][ENTERPRISE]
    assert ExportState.objects.get(source_id=report.object_id).reference_pending == str(boss.object_id)

    factories.AssignmentFactory(application=scim_app, user=boss)
    cycle, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))

    # Entra's known issue: the reference waits for a restart. Here the boss is matched (not there) and
    # created, then the reference pass links the report in the same cycle.
    assert sent == {"GET /Users": 1, "POST /Users": 1, "PATCH /Users/{id}": 1}
    users = target_users(scim_app, scim_server.token)
    assert users[report.user_principal_name][ENTERPRISE]["manager"]["value"] == users[boss.user_principal_name]["id"]
    assert ExportState.objects.get(source_id=report.object_id).reference_pending == ""


def test_a_loop_of_managers_is_linked_by_the_reference_pass(scim_app, scim_server):
    a = factories.DirectoryUserFactory()
    b = factories.DirectoryUserFactory(manager=a)
    a.manager = b
    a.save()
    scim_app.scope = Application.Scope.ALL
    scim_app.save()

    cycle_now(scim_app)

    users = target_users(scim_app, scim_server.token)
    assert users[a.user_principal_name][ENTERPRISE]["manager"]["value"] == users[b.user_principal_name]["id"]
    assert users[b.user_principal_name][ENTERPRISE]["manager"]["value"] == users[a.user_principal_name]["id"]


def test_a_group_with_more_than_500_members_is_sent_in_batches(scim_app, scim_server, settings):
    settings.PROVISIONING_CHUNK_SIZE = 250
    members = factories.DirectoryUserFactory.create_batch(620)
    group = factories.DirectoryGroupFactory(display_name="Everyone", members=members)
    factories.AssignmentFactory(application=scim_app, user=None, group=group)

    cycle, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))

    assert cycle.state == "completed", cycle.error
    assert sent.get("POST /Groups") == 1 and sent.get("PATCH /Groups/{id}") == 1  # 500 in the POST, 120 in one PATCH
    [target_group] = target_groups(scim_app, scim_server.token).values()
    assert len(target(scim_app, scim_server.token, f"Groups/{target_group['id']}")["members"]) == 620
    log = ProvisioningLog.objects.get(cycle=cycle, object_type="group")
    members_section = next(s for s in log.steps[-1]["sections"] if s["title"] == "Members")
    assert len(members_section["rows"]) == 21 and members_section["rows"][-1] == ["… and 600 more", "added"]


# ------------------------------------------------------------------------------------------ the target changes under us


def test_a_user_deleted_in_the_target_is_created_again_on_its_next_update(scim_app, scim_server, assigned):
    cycle_now(scim_app)
    old_id = target_users(scim_app, scim_server.token)[assigned[0].user_principal_name]["id"]
    httpx.delete(f"{scim_app.tenant_url}/Users/{old_id}", headers={"Authorization": f"Bearer {scim_server.token}"}).raise_for_status()
    assigned[0].job_title = "Architect"
    assigned[0].save()

    cycle = cycle_now(scim_app)

    [log] = ProvisioningLog.objects.filter(cycle=cycle)
    assert (log.action, log.status) == ("create", "success"), log.error_description
    assert any(s["status"] == "warning" and "was deleted in" in s["description"] for s in log.steps)
    created = target_users(scim_app, scim_server.token)[assigned[0].user_principal_name]
    assert created["id"] != old_id and created["title"] == "Architect"
    assert ExportState.objects.get(source_id=assigned[0].object_id).target_id == created["id"]


def test_a_create_answered_409_adopts_the_existing_user(scim_app, scim_server, assigned, monkeypatch):
    # The user appears in the target after the cycle listed it (someone created it meanwhile).
    from provisioning.engine import listing

    original = listing.list_target

    def list_then_create(cycle, ctx):
        reason = original(cycle, ctx)
        httpx.post(f"{scim_app.tenant_url}/Users", headers={"Authorization": f"Bearer {scim_server.token}"}, json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": assigned[0].user_principal_name}).raise_for_status()
        return reason

    monkeypatch.setattr(cycles, "list_target", list_then_create)

    cycle = cycle_now(scim_app)

    log = ProvisioningLog.objects.get(cycle=cycle, source_id=str(assigned[0].object_id))
    assert (log.action, log.status) == ("update", "success"), log.error_description
    assert "409 Conflict" in log.steps[-1]["description"]
    assert len([u for u in target_users(scim_app, scim_server.token) if u == assigned[0].user_principal_name]) == 1
    assert cycle.state == "completed"


def test_a_create_a_dead_worker_may_have_sent_is_looked_up_before_it_is_sent_again(scim_app, scim_server, assigned):
    import uuid

    cycle_now(scim_app)
    newcomer = factories.DirectoryUserFactory()
    factories.AssignmentFactory(application=scim_app, user=newcomer)
    # A worker reserved the newcomer, sent its POST (the target has it) and died before recording the answer.
    httpx.post(f"{scim_app.tenant_url}/Users", headers={"Authorization": f"Bearer {scim_server.token}"}, json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": newcomer.user_principal_name}).raise_for_status()
    ExportState.objects.create(application=scim_app, object_type="user", source_id=newcomer.object_id,
                               match_key=f"username:{newcomer.user_principal_name.lower()}", reserved_by=uuid.uuid4())

    cycle, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))

    assert "POST /Users" not in sent and sent["GET /Users"] == 1  # looked up, then brought up to date
    [account] = [u for name, u in target_users(scim_app, scim_server.token).items() if name == newcomer.user_principal_name]
    assert ExportState.objects.get(source_id=newcomer.object_id).target_id == account["id"]
    [log] = ProvisioningLog.objects.filter(cycle=cycle)
    assert log.status == "success" and log.target_id == account["id"]


def test_two_people_are_never_merged_into_one_account(scim_app, scim_server, assigned):
    # Their UPNs differ only in case: the target's userName (case-insensitive) cannot tell them apart.
    twin = factories.DirectoryUserFactory(user_principal_name=assigned[0].user_principal_name.upper(), display_name="The Twin")
    factories.AssignmentFactory(application=scim_app, user=twin)

    cycle = cycle_now(scim_app)

    failures = ProvisioningLog.objects.filter(cycle=cycle, status="failure")
    assert failures.count() == 1
    failure = failures.get()
    assert failure.error_code == "DuplicateSourceEntries"
    names = {assigned[0].display_name, twin.display_name}
    failed_one = ({failure.source_display_name} & names).pop()
    other = (names - {failed_one}).pop()
    assert other in failure.error_description and failed_one in failure.error_description
    assert "userName" in failure.error_description and "Left([objectId], 4)" in failure.recommended_fix
    assert len([u for u in target_users(scim_app, scim_server.token) if u.lower() == twin.user_principal_name.lower()]) == 1


# ------------------------------------------------------------------------------------------ bulk and request modes


def test_bulk_creates_travel_in_post_bulk(scim_app, scim_server, assigned):
    cycle, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))
    assert cycle.state == "completed", cycle.error
    assert sent.get("POST /Bulk") and "POST /Users" not in sent
    assert outcomes(cycle) == [("group", "create", "success")] + [("user", "create", "success")] * 12
    assert len(target_users(scim_app, scim_server.token)) == 12
    # Each entry keeps its own operation of the POST /Bulk, not the whole request.
    entry = ProvisioningLog.objects.filter(cycle=cycle, object_type="user").first()
    [post] = entry.traffic
    assert (post["method"], post["status"], post["via"]) == ("POST", 201, "POST /Bulk")
    assert post["url"].endswith("/Users") and entry.source_upn in post["request_body"]


def test_bulk_an_operation_that_fails_fails_only_its_object(scim_app, scim_server, assigned, monkeypatch):
    from provisioning.engine import listing

    original = listing.list_target
    outsider = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": assigned[3].user_principal_name.upper()}

    def list_then_create(cycle, ctx):
        reason = original(cycle, ctx)
        # After the listing, another system creates the same userName: that operation of the bulk gets a 409.
        httpx.post(f"{scim_app.tenant_url}/Users", headers={"Authorization": f"Bearer {scim_server.token}"}, json=outsider).raise_for_status()
        return reason

    monkeypatch.setattr(cycles, "list_target", list_then_create)
    cycle, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))

    assert sent.get("POST /Bulk") and cycle.state == "completed"
    logs = {log.source_id: log for log in ProvisioningLog.objects.filter(cycle=cycle, object_type="user")}
    conflicted = logs.pop(str(assigned[3].object_id))
    assert (conflicted.action, conflicted.status) == ("update", "success"), conflicted.error_description
    assert "409 Conflict" in conflicted.steps[-1]["description"]  # found by its matching attribute and adopted
    assert {(log.action, log.status) for log in logs.values()} == {("create", "success")}
    assert len(target_users(scim_app, scim_server.token)) == 12


def test_without_bulk_each_create_is_its_own_post(scim_app, scim_server, assigned):
    scim_app.use_bulk = False
    scim_app.save()
    _, sent = requests_since(scim_server, scim_app, lambda: cycle_now(scim_app))
    assert "POST /Bulk" not in sent and sent["POST /Users"] == 12


def test_entra_compatible_cycle_provisions_users_and_explains_the_group_refusal(scim_app, scim_server, assigned):
    scim_app.entra_compatible = True
    scim_app.save()
    cycle = cycle_now(scim_app)
    assert [o for o in outcomes(cycle) if o[0] == "user"] == [("user", "create", "success")] * 12
    # stock scim2-server refuses Entra's ADSCIM Group schema; the failure says so rather than hiding it.
    group_log = ProvisioningLog.objects.get(cycle=cycle, object_type="group")
    assert group_log.status == "failure" and group_log.recommended_fix


# ------------------------------------------------------------------------------------------ life cycle


def test_stop_cancels_a_queued_cycle_and_turns_provisioning_off(scim_app):
    cycle = start_provisioning(scim_app)
    stop_provisioning(scim_app)
    cycle.refresh_from_db()
    scim_app.refresh_from_db()
    assert cycle.state == "stopped" and not scim_app.provisioning_enabled
    assert run_cycle(cycle).state == "stopped"  # a stale task for it does nothing


def test_stop_requested_ends_a_running_cycle_between_chunks(scim_app, assigned, monkeypatch):
    from provisioning.engine import chunks

    original = chunks.run_chunk
    ran = []

    def run_then_stop(chunk):
        ran.append(chunk.pk)
        outcome = original(chunk)
        ProvisioningCycle.objects.filter(pk=chunk.cycle_id).update(stop_requested=True)
        return outcome

    monkeypatch.setattr(chunks, "run_chunk", run_then_stop)
    cycle = run_cycle(start_provisioning(scim_app))

    assert cycle.state == "stopped" and len(ran) == 1
    assert ProvisioningLog.objects.filter(cycle=cycle).count() == 4  # the first chunk's users (12 in 3 even chunks)
    assert "stopped after 4 of 13 objects" in overview(scim_app).cycle_status_text


def test_cycle_with_bad_credentials_fails_and_says_why(scim_app, assigned):
    scim_app.set_secret_token("nope")
    scim_app.save()
    cycle = run_cycle(start_provisioning(scim_app))
    assert cycle.state == "failed" and "Test connection failed" in cycle.error
    assert "nope" not in cycle.error
    # Before any object, and still in the logs (the Overview links to the cycle's entries) with the job quarantined.
    [entry] = ProvisioningLog.objects.filter(cycle=cycle)
    assert (entry.status, entry.error_code, entry.object_type) == ("failure", "Unauthorized", "cycle")
    assert entry.steps[0]["key"] == "test_connection" and entry.recommended_fix
    assert "nope" not in str(entry.steps)
    scim_app.refresh_from_db()
    assert scim_app.job_status == Application.JobStatus.QUARANTINE


def test_cycle_whose_tenant_url_is_not_a_scim_service_logs_it_and_quarantines(scim_app, assigned, misbehaving_server):
    server = misbehaving_server(lambda request: Reply(404, "<html><title>Not Found</title></html>", content_type="text/html"))
    scim_app.tenant_url = server.url + "/wrong"
    scim_app.save()
    cycle = run_cycle(start_provisioning(scim_app))
    assert cycle.state == "failed"
    [entry] = ProvisioningLog.objects.filter(cycle=cycle)
    assert entry.status == "failure" and entry.error_description.startswith("Test connection failed when the cycle started")
    scim_app.refresh_from_db()
    assert scim_app.job_status == Application.JobStatus.QUARANTINE
    assert "could not be used as a SCIM target" in scim_app.quarantines.get().description


def test_due_cycles_are_queued_once(scim_app):
    scim_app.provisioning_enabled = True
    scim_app.next_cycle_at = timezone.now() - timezone.timedelta(minutes=1)
    scim_app.save()
    assert len(queue_due_cycles()) == 1
    assert queue_due_cycles() == []


def test_the_interval_is_the_apps_own(scim_app, assigned):
    scim_app.provisioning_interval_minutes = 7
    scim_app.save()
    cycle_now(scim_app)
    scim_app.refresh_from_db()
    assert abs((scim_app.next_cycle_at - timezone.now()).total_seconds() - 7 * 60) < 30


def test_a_configuration_change_during_a_cycle_keeps_the_next_cycle_full(scim_app, assigned, monkeypatch):
    from provisioning.engine import chunks

    Application.objects.filter(pk=scim_app.pk).update(watermark=timezone.now() - timezone.timedelta(days=1))
    original = chunks.run_chunk

    def run_and_change_mappings(chunk):
        # An admin saves a mapping change while the cycle runs (mapping_config clears the watermark).
        Application.objects.filter(pk=scim_app.pk).update(watermark=None)
        return original(chunk)

    monkeypatch.setattr(chunks, "run_chunk", run_and_change_mappings)
    cycle_now(scim_app)
    scim_app.refresh_from_db()
    assert scim_app.watermark is None
    assert start_provisioning(scim_app).kind == "initial"


def test_cycle_task_through_a_real_celery_worker(celery_worker, scim_app):
    users = factories.DirectoryUserFactory.create_batch(3)
    for user in users:
        factories.AssignmentFactory(application=scim_app, user=user)
    cycle = start_provisioning(scim_app)

    tasks.run_cycle.delay(cycle.pk)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        cycle.refresh_from_db()
        if not cycle.is_active:
            break
        time.sleep(0.1)
    assert cycle.state == "completed", cycle.error
    assert ProvisioningLog.objects.filter(cycle=cycle, status="success").count() == 3


# ------------------------------------------------------------------------------------------ cost per object


@pytest.mark.parametrize("kind", ["initial", "incremental"])
def test_queries_and_requests_do_not_grow_with_the_directory(scim_server, settings, kind):
    """A chunk loads what its objects need in bulk: 60 users cost the same queries as 300, and one request each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # One chunk per phase, written once at its end: what remains is what the objects cost.
    settings.PROVISIONING_CHUNK_SIZE = 500
    settings.PROVISIONING_CHUNKS_IN_PARALLEL = 1
    settings.PROVISIONING_RECORD_SECONDS = 600
    settings.PROVISIONING_GATE_SECONDS = 600  # the pause/quarantine look-ups are per time, not per object
    costs = []
    for size in (60, 300):
        app = factories.ApplicationFactory(tenant_url=scim_server.tenant_url(), secret_token=scim_server.token,
                                           scope=Application.Scope.ALL, use_bulk=False)
        boss = factories.DirectoryUserFactory(display_name=f"Boss of {size}")
        people = factories.DirectoryUserFactory.create_batch(size - 1, manager=boss)
        factories.DirectoryGroupFactory(members=people)
        if kind == "incremental":
            cycle_now(app)
            for person in [boss, *people]:
                person.job_title = "Changed"
                person.save()
        scim_server.reset_stats(app.tenant_url)
        with CaptureQueriesContext(connection) as queries:
            cycle = cycle_now(app)
        assert cycle.state == "completed", cycle.error
        sent = scim_server.stats(app.tenant_url)
        costs.append((len(queries.captured_queries), sent["requests"]))
        from provisioning.models import DirectoryGroup, DirectoryUser

        DirectoryUser.objects.all().delete()
        DirectoryGroup.objects.all().delete()
    (small_queries, small_requests), (big_queries, big_requests) = costs
    assert big_queries == small_queries, f"{small_queries} queries for 60 users, {big_queries} for 300"
    assert big_requests - small_requests == 240  # one request per additional user, nothing else


def test_a_scoping_regex_out_of_time_fails_only_its_user_and_the_cycle_completes(scim_app, scim_server):
    # A pattern saved before Save checked patterns: the time limit stops it per object, the worker goes on.
    mapping = scim_app.object_mappings.get(object_type="user")
    scoping = factories.ScopingFilterFactory(object_mapping=mapping, title="Cost centre")
    factories.ScopingClauseFactory(scoping_filter=scoping, attribute="extension_costCenter", operator="REGEX MATCH", value=r"(a+)+$")
    runaway = factories.DirectoryUserFactory(extension_attributes={"extension_costCenter": "a" * 5000 + "b"})
    fine = factories.DirectoryUserFactory(extension_attributes={"extension_costCenter": "aaaa"})
    for user in (runaway, fine):
        factories.AssignmentFactory(application=scim_app, user=user)

    started = time.monotonic()
    cycle = cycle_now(scim_app)

    assert cycle.state == "completed", cycle.error
    assert time.monotonic() - started < 30
    logs = {log.source_id: log for log in ProvisioningLog.objects.filter(cycle=cycle)}
    failed = logs[str(runaway.object_id)]
    assert (failed.status, failed.error_code) == ("failure", "ScopingRegexTimeout")
    assert "took longer than" in failed.error_description and failed.recommended_fix
    assert (logs[str(fine.object_id)].action, logs[str(fine.object_id)].status) == ("create", "success")
    assert list(target_users(scim_app, scim_server.token)) == [fine.user_principal_name]
