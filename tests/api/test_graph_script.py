"""A Graph-style script over real HTTP (httpx against the live server, as `requests` or PowerShell would send
it): find the app, start, poll the status, provision on demand, restart with a resetScope, read the logs
with $filter and follow @odata.nextLink. A real Celery worker runs the cycles against the real scim2-server."""

import time

import httpx

from tests import factories


def test_a_graph_script_pointed_at_the_portal(live_server, celery_worker, scim_app):
    people = factories.DirectoryUserFactory.create_batch(4)
    for person in people[:3]:
        factories.AssignmentFactory(application=scim_app, user=person)
    token = factories.ApiTokenFactory(role="admin").text
    graph = httpx.Client(base_url=f"{live_server.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30)

    sp = graph.get("/servicePrincipals", params={"$filter": f"displayName eq '{scim_app.name}'"}).json()["value"][0]
    job = graph.get(f"/servicePrincipals/{sp['id']}/synchronization/jobs").json()["value"][0]
    base = f"/servicePrincipals/{sp['id']}/synchronization/jobs/{job['id']}"

    assert graph.post(f"{base}/start").status_code == 204  # no body, no Content-Type, as scripts send it
    deadline = time.monotonic() + 30
    while (status := graph.get(base).json()["status"])["lastExecution"] is None and time.monotonic() < deadline:
        time.sleep(0.3)
    assert status["lastExecution"]["state"] == "Succeeded", status
    first = status["lastExecution"]["activityIdentifier"]

    # The fourth person is assigned later and provisioned on demand.
    factories.AssignmentFactory(application=scim_app, user=people[3])
    body = {"parameters": [{"subjects": [{"objectId": str(people[3].object_id), "objectTypeName": "User"}], "ruleId": "x"}]}
    on_demand = graph.post(f"{base}/provisionOnDemand", json=body)
    assert on_demand.status_code == 200, on_demand.text
    assert '"result": "Success"' in on_demand.json()["key"]

    assert graph.post(f"{base}/restart", json={"criteria": {"resetScope": "Watermark, Escrows"}}).status_code == 204
    deadline = time.monotonic() + 30
    while (status := graph.get(base).json()["status"])["lastExecution"]["activityIdentifier"] == first and time.monotonic() < deadline:
        time.sleep(0.3)
    assert status["lastExecution"]["state"] == "Succeeded", status

    seen, url, params = [], "/auditLogs/provisioning", {"$filter": f"jobId eq '{job['id']}'", "$top": "2"}
    while url:
        page = graph.get(url, params=params)
        assert page.status_code == 200, page.text
        seen += page.json()["value"]
        url, params = page.json().get("@odata.nextLink"), None
    # Three created by the first cycle, one on demand (the admin's); the restarted cycle re-evaluated all four
    # and found them already matching (Other, skipped, as Entra logs it).
    assert sorted((e["provisioningAction"], e["provisioningStatusInfo"]["status"], e["initiatedBy"]["initiatorType"]) for e in seen) == (
        [("create", "success", "system")] * 3 + [("create", "success", "user")] + [("other", "skipped", "system")] * 4)
    created = {e["sourceIdentity"]["id"] for e in seen if e["provisioningAction"] == "create"}
    assert created == {str(p.object_id) for p in people}

    refused = graph.get("/auditLogs/provisioning", params={"$filter": "provisioningAction eq 'create' or provisioningAction eq 'update'"})
    assert refused.status_code == 400 and "not 'or'" in refused.json()["error"]["message"]
    assert refused.headers["request-id"] == refused.json()["error"]["innerError"]["request-id"]
