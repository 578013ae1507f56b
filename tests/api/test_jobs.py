"""servicePrincipals and their synchronization job through the API: status in Graph's shape, start, pause,
restart with resetScope, provisionOnDemand against the real scim2-server, schema export/import."""

import json

import httpx
import pytest

from provisioning.engine.cycle import run_cycle
from provisioning.models import Application, AttributeMapping, Escrow, ProvisioningCycle, RunState
from tests import factories
from tests.api.conftest import graph_error

pytestmark = pytest.mark.django_db


def job_url(app, tail=""):
    return f"servicePrincipals/{app.pk}/synchronization/jobs/{app.job_id}{tail}"


@pytest.fixture
def app():
    return factories.ApplicationFactory(name="Slack")


def test_service_principals_list_and_get(reader_api, app):
    factories.ApplicationFactory(name="Asana")
    listed = reader_api.get("servicePrincipals").json()["value"]
    assert [sp["displayName"] for sp in listed] == ["Asana", "Slack"]
    one = reader_api.get(f"servicePrincipals/{app.pk}").json()
    assert one["id"] == str(app.pk) and one["appDisplayName"] == "Slack"


@pytest.mark.parametrize("path", ["servicePrincipals/999999", "servicePrincipals/abc/synchronization/jobs"])
def test_an_unknown_application_is_a_404_that_says_where_to_look(reader_api, path):
    error = graph_error(reader_api.get(path), 404)
    assert error["code"] == "Request_ResourceNotFound"
    assert "GET /api/v1/servicePrincipals lists the applications" in error["message"]


def test_an_unknown_job_names_the_right_one(reader_api, app):
    error = graph_error(reader_api.get(f"servicePrincipals/{app.pk}/synchronization/jobs/scim.other"), 404)
    assert app.job_id in error["message"]


def test_the_job_in_graphs_shape_before_any_cycle(reader_api, app):
    jobs = reader_api.get(f"servicePrincipals/{app.pk}/synchronization/jobs").json()["value"]
    assert [j["id"] for j in jobs] == [app.job_id]
    job = reader_api.get(job_url(app)).json()
    assert job["templateId"] == "scim"
    assert job["schedule"] == {"expiration": None, "interval": "PT40M", "state": "Disabled"}
    status = job["status"]
    assert status["code"] == "NotRun"
    assert status["lastExecution"] is None and status["quarantine"] is None and status["progress"] == []
    assert {"key": "user", "value": 0} in status["synchronizedEntryCountByType"]


def test_start_queues_a_cycle_and_turns_provisioning_on(admin_api, admin_user, app):
    response = admin_api.post(job_url(app, "/start"))
    assert response.status_code == 204, response.content
    app.refresh_from_db()
    assert app.provisioning_enabled
    cycle = app.cycles.get()
    assert (cycle.state, cycle.kind, cycle.requested_by) == (RunState.QUEUED, ProvisioningCycle.Kind.INITIAL, admin_user)
    assert admin_api.get(job_url(app)).json()["schedule"]["state"] == "Active"


def test_start_of_an_unconfigured_app_says_what_to_fix(admin_api):
    app = factories.ApplicationFactory(provisioning_mode=Application.Mode.MANUAL, tenant_url="")
    error = graph_error(admin_api.post(job_url(app, "/start")), 400)
    assert error["message"] == ("Provisioning cannot start yet: on the Provisioning page, set Provisioning Mode to "
                                "Automatic, enter the Tenant URL, then Save.")


def test_pause_stops_provisioning_and_the_queued_cycle(admin_api, app):
    admin_api.post(job_url(app, "/start"))
    assert admin_api.post(job_url(app, "/pause")).status_code == 204
    app.refresh_from_db()
    assert not app.provisioning_enabled and app.job_status == Application.JobStatus.PAUSED
    assert app.cycles.get().state == RunState.STOPPED
    assert admin_api.get(job_url(app)).json()["status"]["code"] == "Paused"


def test_restart_applies_graphs_reset_scopes(admin_api, app):
    factories.EscrowFactory(application=app)
    response = admin_api.post(job_url(app, "/restart"), body={"criteria": {"resetScope": "Watermark, Escrows"}})
    assert response.status_code == 204, response.content
    cycle = app.cycles.get()
    assert cycle.restart_scopes == "Watermark,Escrows"
    assert not Escrow.objects.filter(application=app).exists()


def test_restart_without_criteria_is_the_blades_restart(admin_api, app):
    assert admin_api.post(job_url(app, "/restart")).status_code == 204
    assert app.cycles.get().restart_scopes == "Watermark,Escrows,QuarantineState"


def test_restart_with_an_unknown_scope_is_a_400_listing_the_valid_ones(admin_api, app):
    error = graph_error(admin_api.post(job_url(app, "/restart"), body={"criteria": {"resetScope": "Everything"}}), 400)
    assert error["message"] == ("Unknown reset scope Everything: use any of Watermark, Escrows, QuarantineState, "
                                "ForceDeletes, ConnectorDataStore, Full (comma-separated).")
    assert not app.cycles.exists()


def on_demand(object_id, kind="User", **extra):
    return {"parameters": [{"ruleId": "any", "subjects": [{"objectId": str(object_id), "objectTypeName": kind, **extra}]}]}


def test_provision_on_demand_creates_the_user_in_the_real_target_and_returns_the_steps(admin_api, scim_app, scim_server):
    user = factories.DirectoryUserFactory(display_name="Jane Doe", user_principal_name="jane@contoso.example")
    factories.AssignmentFactory(application=scim_app, user=user)

    response = admin_api.post(job_url(scim_app, "/provisionOnDemand"), body=on_demand(user.object_id))

    assert response.status_code == 200, response.content
    answer = response.json()
    assert json.loads(answer["key"]) == {"result": "Success", "details": {}}
    value = json.loads(answer["value"])
    assert value["provisioningAction"] == "create"
    assert value["sourceIdentity"]["id"] == str(user.object_id)
    assert [s["provisioningStepType"] for s in value["provisioningSteps"]] == ["import", "scoping", "matching", "export"]
    assert all(s["status"] == "success" for s in value["provisioningSteps"])
    assert answer["synchronizationStepDetails"] == [value]
    target_id = value["targetIdentity"]["id"]
    found = httpx.get(f"{scim_app.tenant_url}/Users/{target_id}", headers={"Authorization": f"Bearer {scim_server.token}"})
    assert found.json()["userName"] == "jane@contoso.example"


def test_provision_on_demand_of_a_group_with_members(admin_api, scim_app):
    members = factories.DirectoryUserFactory.create_batch(2)
    group = factories.DirectoryGroupFactory(display_name="Pilot", members=members)
    factories.AssignmentFactory(application=scim_app, user=None, group=group)
    links = {"links": {"members": [{"objectId": str(m.object_id), "objectTypeName": "User"} for m in members]}}

    answer = admin_api.post(job_url(scim_app, "/provisionOnDemand"), body=on_demand(group.object_id, "Group", **links)).json()

    details = answer["synchronizationStepDetails"]
    assert [d["sourceIdentity"]["identityType"] for d in details] == ["user", "user", "group"]
    assert json.loads(answer["value"])["sourceIdentity"]["id"] == str(group.object_id)
    assert json.loads(answer["key"])["result"] == "Success"


def test_provision_on_demand_of_an_unassigned_user_is_skipped_with_the_reason(admin_api, scim_app):
    user = factories.DirectoryUserFactory()
    answer = admin_api.post(job_url(scim_app, "/provisionOnDemand"), body=on_demand(user.object_id)).json()
    assert json.loads(answer["key"])["result"] == "Skipped"
    scoping = json.loads(answer["value"])["provisioningSteps"][-1]
    assert scoping["provisioningStepType"] == "scoping" and scoping["status"] == "skipped"
    assert "out of scope" in scoping["description"]


def test_provision_on_demand_that_fails_reports_the_error(admin_api):
    app = factories.ApplicationFactory(tenant_url="http://127.0.0.1:9/scim/v2")  # nothing listens there
    user = factories.DirectoryUserFactory()
    factories.AssignmentFactory(application=app, user=user)
    answer = admin_api.post(job_url(app, "/provisionOnDemand"), body=on_demand(user.object_id)).json()
    key = json.loads(answer["key"])
    assert key["result"] == "Failure" and key["details"]["errorCode"]


@pytest.mark.parametrize("body,status,words", [
    (on_demand("not-a-guid"), 400, "is not an objectId"),
    (on_demand("3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f"), 404, "No user with objectId"),
    ({"parameters": []}, 400, "parameters"),
    ({"parameters": [{"subjects": [{"objectId": "x", "objectTypeName": "Device"}]}]}, 400, "objectTypeName"),
])
def test_provision_on_demand_bad_requests(admin_api, app, body, status, words):
    error = graph_error(admin_api.post(job_url(app, "/provisionOnDemand"), body=body), status)
    assert words in error["message"]


def test_provision_on_demand_refuses_a_group_without_members_in_the_pages_words(admin_api, app):
    group = factories.DirectoryGroupFactory(display_name="Pilot")
    error = graph_error(admin_api.post(job_url(app, "/provisionOnDemand"), body=on_demand(group.object_id, "Group")), 400)
    assert error["message"] == "Select the members of 'Pilot' to provision (up to 5)."


def test_schema_round_trip_export_then_import(admin_api, app):
    document = admin_api.get(job_url(app, "/schema")).json()
    assert document["application"] == "Slack" and document["objectMappings"]
    user_mapping = next(m for m in document["objectMappings"] if m["objectType"] == "user")
    user_mapping["attributeMappings"] = [a for a in user_mapping["attributeMappings"] if a["targetAttribute"] != "title"]
    before = AttributeMapping.objects.filter(object_mapping__application=app).count()

    response = admin_api.put(job_url(app, "/schema"), body=document)

    assert response.status_code == 204, response.content
    assert AttributeMapping.objects.filter(object_mapping__application=app).count() == before - 1
    assert admin_api.get(job_url(app, "/schema")).json() == document


def test_schema_import_with_problems_changes_nothing_and_lists_them(admin_api, app):
    document = admin_api.get(job_url(app, "/schema")).json()
    document["objectMappings"][0]["attributeMappings"][0]["expression"] = "Join(, "
    document["objectMappings"][0]["attributeMappings"][0]["mappingType"] = "expression"
    error = graph_error(admin_api.put(job_url(app, "/schema"), body=document), 400)
    assert error["message"].startswith("The configuration was not imported: ")
    assert error["details"] and all(d["target"].startswith("objectMappings[") for d in error["details"])
    assert admin_api.get(job_url(app, "/schema")).json() != document


def test_schema_import_of_something_that_is_not_json(admin_api, app):
    error = graph_error(admin_api.put(job_url(app, "/schema"), body="{oops"), 400)
    assert error["message"].startswith("The configuration is not valid JSON: ")


def test_status_after_a_completed_cycle(reader_api, scim_app):
    users = factories.DirectoryUserFactory.create_batch(3)
    for user in users:
        factories.AssignmentFactory(application=scim_app, user=user)
    from provisioning.engine.cycle import start_provisioning

    cycle = run_cycle(start_provisioning(scim_app))
    status = reader_api.get(job_url(scim_app)).json()["status"]
    assert status["code"] == "Active"
    execution = status["lastExecution"]
    assert execution["activityIdentifier"] == str(cycle.cycle_id)
    assert (execution["state"], execution["countExported"]) == ("Succeeded", 3)
    assert {"key": "user", "value": 3} in status["synchronizedEntryCountByType"]


def test_find_an_application_by_display_name(reader_api, app):
    factories.ApplicationFactory(name="Asana")
    found = reader_api.get("servicePrincipals?$filter=displayName eq 'slack'").json()["value"]
    assert [sp["id"] for sp in found] == [str(app.pk)]
