"""A Graph script's round trip through a real Celery worker and the real scim2-server: start, poll the
status until the cycle ends, read its entries in the logs with $filter, then restart with a resetScope."""

import time
from urllib.parse import quote

import httpx

from tests import factories
from tests.api.conftest import ApiClient


def poll_until_done(api, job, after=None, timeout=30):
    """The status once a cycle other than `after` has ended (lastExecution is the last cycle that ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = api.get(job).json()["status"]
        execution = status["lastExecution"]
        if execution and execution["activityIdentifier"] != after:
            return status
        time.sleep(0.2)
    raise AssertionError(f"the cycle did not end within {timeout} s: {status}")


def test_start_status_logs_restart(celery_worker, scim_app, scim_server):
    users = factories.DirectoryUserFactory.create_batch(3)
    for user in users:
        factories.AssignmentFactory(application=scim_app, user=user)
    api = ApiClient(factories.ApiTokenFactory(role="admin").text)
    job = f"servicePrincipals/{scim_app.pk}/synchronization/jobs/{scim_app.job_id}"

    assert api.post(job + "/start").status_code == 204
    status = poll_until_done(api, job)

    assert status["code"] == "Active"
    execution = status["lastExecution"]
    assert (execution["state"], execution["countExported"], execution["countEscrowed"]) == ("Succeeded", 3, 0)
    cycle_id = execution["activityIdentifier"]
    text = f"cycleId eq {cycle_id} and jobId eq '{scim_app.job_id}' and provisioningStatusInfo/status eq 'success'"
    logs = api.get("auditLogs/provisioning?$filter=" + quote(text)).json()["value"]
    assert sorted(entry["sourceIdentity"]["id"] for entry in logs) == sorted(str(u.object_id) for u in users)
    assert {entry["provisioningAction"] for entry in logs} == {"create"}
    in_target = httpx.get(f"{scim_app.tenant_url}/Users", headers={"Authorization": f"Bearer {scim_server.token}"}).json()
    assert sorted(u["id"] for u in in_target["Resources"]) == sorted(entry["targetIdentity"]["id"] for entry in logs)

    assert api.post(job + "/restart", body={"criteria": {"resetScope": "Watermark"}}).status_code == 204
    second = poll_until_done(api, job, after=cycle_id)
    assert second["lastExecution"]["activityIdentifier"] != cycle_id
    assert second["lastExecution"]["state"] == "Succeeded"
