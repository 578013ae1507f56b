"""Dry run against the real scim2-server: the real planner and pipeline, only reads sent, nothing kept but
the result; the diff down to each object's old → new values; the deletion threshold evaluated."""

import httpx
import pytest

from provisioning.engine.cycle import run_cycle, start_provisioning
from provisioning.engine.dry_run import DryRunRefused, request_dry_run, run_dry_run
from provisioning.models import Application, Assignment, ExportState, ProvisioningLog, Quarantine, RunState
from tests import factories

pytestmark = pytest.mark.django_db


def users_in_target(app, token):
    answer = httpx.get(f"{app.tenant_url}/Users", headers={"Authorization": f"Bearer {token}"}).json()
    return {resource["userName"]: resource for resource in answer.get("Resources", [])}


def dry_run(app):
    return run_dry_run(request_dry_run(app).pk)


@pytest.fixture
def directory(scim_app):
    scim_app.scope = Application.Scope.ALL
    scim_app.save()
    people = factories.DirectoryUserFactory.create_batch(5, job_title="Engineer")
    factories.DirectoryGroupFactory(display_name="Engineering", members=people[:3])
    return people


def test_an_initial_dry_run_sends_only_reads_and_keeps_nothing(scim_app, scim_server, directory):
    scim_server.reset_stats(scim_app.tenant_url)

    result = dry_run(scim_app)

    assert result.state == RunState.COMPLETED, result.error
    sent = scim_server.stats(scim_app.tenant_url)["by"]
    assert sent and all(endpoint.startswith("GET ") for endpoint in sent), sent
    summary = result.summary
    assert result.kind == "initial"
    assert summary["actions"]["create"] == {"success": 6}  # 5 users and the group
    assert summary["members_added"] == 3
    assert users_in_target(scim_app, scim_server.token) == {}
    assert not ExportState.objects.exists() and not ProvisioningLog.objects.exists()
    scim_app.refresh_from_db()
    assert scim_app.watermark is None and not scim_app.cycles.exists()
    assert result.entries.filter(object_type="user", action="create").count() == 5
    entry = result.entries.get(source_id=directory[0].object_id)
    assert {"name": "title", "old": None, "new": "Engineer"}.items() <= next(
        m for m in entry.modified_properties if m["name"] == "title").items()
    assert entry.target_id == ""


def test_after_a_cycle_it_shows_the_updates_by_attribute_and_changes_nothing(scim_app, scim_server, directory):
    assert run_cycle(start_provisioning(scim_app)).state == RunState.COMPLETED
    directory[1].job_title = "Astronaut"
    directory[1].save()

    result = dry_run(scim_app)

    assert result.kind == "incremental"
    assert result.summary["actions"] == {"update": {"success": 1}}
    assert result.summary["updated_attributes"] == {"title": 1}
    [entry] = result.entries.all()
    assert [m for m in entry.modified_properties if m["name"] == "title"][0]["new"] == "Astronaut"
    assert users_in_target(scim_app, scim_server.token)[directory[1].user_principal_name]["title"] == "Engineer"
    # The real cycle still sees the change: the dry run moved no watermark.
    cycle = run_cycle(start_provisioning(scim_app))
    assert ProvisioningLog.objects.filter(cycle=cycle, action="update", status="success").count() == 1


def test_it_evaluates_the_deletion_threshold_without_quarantining(scim_app, scim_server):
    scim_app.scope, scim_app.deletion_threshold = Application.Scope.ASSIGNED, 2
    scim_app.save()
    people = factories.DirectoryUserFactory.create_batch(3)
    for person in people:
        factories.AssignmentFactory(application=scim_app, user=person)
    assert run_cycle(start_provisioning(scim_app)).state == RunState.COMPLETED
    Assignment.objects.filter(application=scim_app).delete()

    result = dry_run(scim_app)

    assert result.summary["deletions"] == {"count": 3, "threshold": 2, "held": 3}
    assert result.entries.filter(action="staged").count() == 3
    assert not Quarantine.objects.exists()
    assert ExportState.objects.filter(application=scim_app, disabled=True).count() == 0


def test_a_dry_run_that_cannot_reach_the_target_says_why(scim_app, directory):
    scim_app.set_secret_token("wrong")
    scim_app.save()
    result = dry_run(scim_app)
    assert result.state == RunState.FAILED and "Test connection failed" in result.error
    assert not Quarantine.objects.exists()


def test_refused_while_a_cycle_is_active_or_another_dry_run_waits(scim_app):
    factories.ProvisioningCycleFactory(application=scim_app, state=RunState.RUNNING)
    with pytest.raises(DryRunRefused, match="cycle is queued or running"):
        request_dry_run(scim_app)
    other = factories.ApplicationFactory()
    request_dry_run(other)
    with pytest.raises(DryRunRefused, match="already queued or running"):
        request_dry_run(other)
