"""One provisioning story told to any real SCIM server, object by object, read back after every step:
create (managers first), skip, update, manager change, group create with members, member add and remove,
group rename, disable, delete. Each server module says what its target keeps (`keeps`)."""

import uuid

import httpx

from provisioning.engine.context import INITIATED_BY, RunContext
from provisioning.engine.pipeline import provision_group, provision_user
from provisioning.models import Assignment, ExportState
from provisioning.scim.payload import ENTERPRISE_USER
from tests import factories

EVERYTHING = frozenset({"title", "manager"})


def run(app, obj):
    app.refresh_from_db()
    ctx = RunContext(application=app, initiated_by=INITIATED_BY.ADMIN)
    try:
        return (provision_group if hasattr(obj, "members") else provision_user)(ctx, obj)
    finally:
        ctx.close()


def read(app, token, endpoint):
    response = httpx.get(f"{app.tenant_url}/{endpoint}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    response.raise_for_status()
    return response.json()


def target_id(app, obj):
    return ExportState.objects.get(application=app, source_id=obj.object_id).target_id


def done(log, action, keeps_all=True):
    """Success, or a Warning that names what the target does not keep (never a failure)."""
    allowed = ("success",) if keeps_all else ("success", "warning")
    assert (log.action, log.status in allowed) == (action, True), (log.action, log.status, log.error_code, log.error_description)


def every_operation(app, token, *, keeps=EVERYTHING, group_create_fails=""):
    keeps_all = keeps >= EVERYTHING
    boss, other = factories.DirectoryUserFactory(), factories.DirectoryUserFactory()
    jane = factories.DirectoryUserFactory(manager=boss, job_title="Engineer")
    for user in (boss, other, jane):
        factories.AssignmentFactory(application=app, user=user)

    # create (managers first), skip, update
    for user in (boss, other, jane):
        done(run(app, user), "create", keeps_all)
    stored = read(app, token, f"Users/{target_id(app, jane)}")
    assert stored["userName"] == jane.user_principal_name
    if "manager" in keeps:
        assert stored[ENTERPRISE_USER]["manager"]["value"] == target_id(app, boss)
    skipped = run(app, jane)
    assert skipped.status == "skipped" and skipped.error_code == "RedundantExport", skipped.error_description
    jane.surname, jane.job_title = "Lee-Smith", "Principal Engineer"
    jane.save()
    done(run(app, jane), "update", keeps_all)
    stored = read(app, token, f"Users/{target_id(app, jane)}")
    assert stored["name"]["familyName"] == "Lee-Smith"
    if "title" in keeps:
        assert stored["title"] == "Principal Engineer"

    # manager change: a PATCH of its own, {"value": id}
    jane.manager = other
    jane.save()
    log = run(app, jane)
    if "manager" in keeps:
        done(log, "update")
        assert read(app, token, f"Users/{target_id(app, jane)}")[ENTERPRISE_USER]["manager"]["value"] == target_id(app, other)
    else:
        assert log.status in ("warning", "skipped") and "manager" in log.error_description, log.error_description

    # groups: create with members, member add and remove, rename, delete
    pilot = f"Pilot {uuid.uuid4().hex[:6]}"
    group = factories.DirectoryGroupFactory(display_name=pilot, members=[jane, boss])
    assignment = factories.AssignmentFactory(application=app, user=None, group=group)
    created = run(app, group)
    if group_create_fails:
        assert created.status == "failure" and group_create_fails in created.error_description, created.error_description
        return
    done(created, "create")

    def members():
        return sorted(m["value"] for m in read(app, token, f"Groups/{target_id(app, group)}").get("members") or [])

    assert members() == sorted([target_id(app, jane), target_id(app, boss)])
    group.members.remove(boss)
    group.members.add(other)
    done(run(app, group), "update")
    assert members() == sorted([target_id(app, jane), target_id(app, other)])
    group.display_name = f"{pilot} users"
    group.save()
    renamed = run(app, group)
    done(renamed, "update", keeps_all)
    if renamed.status == "success":
        assert read(app, token, f"Groups/{target_id(app, group)}")["displayName"] == f"{pilot} users"

    # disable a user, delete a group
    jane.account_enabled = False
    jane.save()
    done(run(app, jane), "disable")
    assert read(app, token, f"Users/{target_id(app, jane)}")["active"] is False
    group_id = target_id(app, group)
    Assignment.objects.filter(pk=assignment.pk).delete()
    done(run(app, group), "delete")
    gone = httpx.get(f"{app.tenant_url}/Groups/{group_id}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert gone.status_code == 404


def full_cycles(app, token, *, keeps=EVERYTHING):
    """An initial cycle of a small directory (managers, a group with members), then an incremental cycle of
    changes: title and surname, a manager, a member added and one removed, a rename, a disable. No entry
    fails; the target, read back object by object, holds what it keeps."""
    from provisioning.engine.cycle import run_cycle, start_provisioning

    def cycle():
        app.refresh_from_db()
        ran = run_cycle(start_provisioning(app))
        failures = list(ran.logs.filter(status="failure").values_list("source_display_name", "error_description"))
        assert ran.state == "completed" and not failures, (ran.state, failures)
        return ran

    boss = factories.DirectoryUserFactory()
    staff = factories.DirectoryUserFactory.create_batch(3, manager=boss)
    # Unique names: a server is shared by the tests of its module, and groups match by displayName.
    crew = f"Crew {uuid.uuid4().hex[:6]}"
    group = factories.DirectoryGroupFactory(display_name=crew, members=staff[:2])
    for user in (boss, *staff):
        factories.AssignmentFactory(application=app, user=user)
    factories.AssignmentFactory(application=app, user=None, group=group)
    cycle()
    for user in staff:
        stored = read(app, token, f"Users/{target_id(app, user)}")
        assert stored["userName"] == user.user_principal_name
        if "manager" in keeps:
            assert stored[ENTERPRISE_USER]["manager"]["value"] == target_id(app, boss)

    staff[0].surname, staff[0].job_title = "Renamed", "Lead"
    staff[0].save()
    staff[1].manager = staff[0]
    staff[1].save()
    staff[2].account_enabled = False
    staff[2].save()
    group.members.remove(staff[1])
    group.members.add(boss)
    group.display_name = f"{crew} one"
    group.save()
    cycle()
    assert read(app, token, f"Users/{target_id(app, staff[0])}")["name"]["familyName"] == "Renamed"
    if "manager" in keeps:
        assert read(app, token, f"Users/{target_id(app, staff[1])}")[ENTERPRISE_USER]["manager"]["value"] == target_id(app, staff[0])
    assert read(app, token, f"Users/{target_id(app, staff[2])}")["active"] is False
    members = sorted(m["value"] for m in read(app, token, f"Groups/{target_id(app, group)}").get("members") or [])
    assert members == sorted([target_id(app, staff[0]), target_id(app, boss)])
