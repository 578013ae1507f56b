"""GET /auditLogs/provisioning: provisioningObjectSummary, $filter on the logs page's filters, $top, keyset
paging through @odata.nextLink."""

import datetime
from urllib.parse import quote

import pytest

from provisioning.models import ProvisioningLog
from tests import factories
from tests.api.conftest import graph_error

pytestmark = pytest.mark.django_db
T0 = datetime.datetime(2025, 11, 23, 9, 0, tzinfo=datetime.UTC)


def at(minutes):
    return T0 + datetime.timedelta(minutes=minutes)


@pytest.fixture
def entries():
    slack, asana = factories.ApplicationFactory(name="Slack"), factories.ApplicationFactory(name="Asana")
    cycle = factories.ProvisioningCycleFactory(application=slack)
    return {
        "slack": slack, "asana": asana, "cycle": cycle,
        "jane": factories.ProvisioningLogFactory(
            application=slack, cycle=cycle, created_at=at(0), source_display_name="Jane Doe", source_upn="jane@contoso.example",
            source_id="11111111-1111-1111-1111-111111111111", target_id="t-jane", action="create", status="success",
            steps=[{"key": "import", "name": "Import user", "status": "success", "description": "Retrieved User 'Jane Doe'",
                    "sections": [{"title": "Source", "columns": ["Attribute", "Value"], "rows": [["displayName", "Jane Doe"]]}]}],
            modified_properties=[{"name": "displayName", "old": None, "new": "Jane Doe"}], duration_ms=12),
        "bob": factories.ProvisioningLogFactory(
            application=slack, cycle=cycle, created_at=at(10), source_display_name="Bob Ray", action="update", status="failure",
            error_code="TooManyRequests", error_description="The target answered 429", recommended_fix="Wait"),
        "staged": factories.ProvisioningLogFactory(application=slack, created_at=at(20), action="staged", status="skipped"),
        "grace": factories.ProvisioningLogFactory(application=asana, created_at=at(30), action="create", status="success",
                                                  initiated_by="on_demand", initiated_by_user="grace"),
    }


def ids(response):
    assert response.status_code == 200, response.content
    return [entry["changeId"] for entry in response.json()["value"]]


def changes(*logs):
    return [str(log.change_id) for log in logs]


def query(text):
    return "auditLogs/provisioning?$filter=" + quote(text)


def test_every_app_newest_first_in_graphs_shape(reader_api, entries):
    response = reader_api.get("auditLogs/provisioning")
    assert ids(response) == changes(entries["grace"], entries["staged"], entries["bob"], entries["jane"])
    jane = response.json()["value"][-1]
    assert jane["activityDateTime"] == "2025-11-23T09:00:00Z"
    assert jane["cycleId"] == str(entries["cycle"].cycle_id) and jane["jobId"] == entries["slack"].job_id
    assert jane["provisioningAction"] == "create"
    assert jane["provisioningStatusInfo"] == {"status": "success", "errorInformation": None}
    assert jane["sourceIdentity"] == {"id": "11111111-1111-1111-1111-111111111111", "displayName": "Jane Doe",
                                      "identityType": "user", "details": {"userPrincipalName": "jane@contoso.example"}}
    assert jane["targetIdentity"]["id"] == "t-jane"
    assert jane["servicePrincipal"] == {"id": str(entries["slack"].pk), "displayName": "Slack"}
    assert jane["provisioningSteps"] == [{"name": "Import user", "provisioningStepType": "import", "status": "success",
                                          "description": "Retrieved User 'Jane Doe'", "details": {"displayName": "Jane Doe"}}]
    assert jane["modifiedProperties"] == [{"displayName": "displayName", "oldValue": None, "newValue": "Jane Doe"}]
    assert jane["initiatedBy"]["initiatorType"] == "system"
    bob = response.json()["value"][2]
    assert bob["provisioningStatusInfo"]["errorInformation"]["errorCode"] == "TooManyRequests"
    assert bob["provisioningStatusInfo"]["errorInformation"]["recommendedAction"] == "Wait"
    assert response.json()["value"][0]["initiatedBy"] == {"initiatorType": "user", "displayName": "grace", "id": "grace"}
    assert response.json()["value"][1]["provisioningAction"] == "stagedDelete"


@pytest.mark.parametrize("text,expected", [
    ("provisioningStatusInfo/status eq 'failure'", ["bob"]),
    ("provisioningAction eq 'create'", ["grace", "jane"]),
    ("provisioningAction eq 'stagedDelete'", ["staged"]),
    ("activityDateTime ge 2025-11-23T09:05:00Z and activityDateTime le 2025-11-23T09:25:00Z", ["staged", "bob"]),
    ("activityDateTime ge 2025-11-23T09:15:00Z", ["grace", "staged"]),
    ("sourceIdentity/displayName eq 'Jane Doe'", ["jane"]),
    ("sourceIdentity/id eq '11111111-1111-1111-1111-111111111111'", ["jane"]),
    ("targetIdentity/id eq 't-jane'", ["jane"]),
    ("provisioningStatusInfo/errorInformation/errorCode eq 'TooManyRequests'", ["bob"]),
    ("(provisioningAction eq 'create') and provisioningStatusInfo/status eq 'success'", ["grace", "jane"]),
])
def test_filters(reader_api, entries, text, expected):
    assert ids(reader_api.get(query(text))) == changes(*(entries[name] for name in expected))


def test_filter_by_job_cycle_change_and_application(reader_api, entries):
    assert ids(reader_api.get(query(f"jobId eq '{entries['asana'].job_id}'"))) == changes(entries["grace"])
    assert ids(reader_api.get(query(f"cycleId eq {entries['cycle'].cycle_id}"))) == changes(entries["bob"], entries["jane"])
    assert ids(reader_api.get(query(f"changeId eq '{entries['bob'].change_id}'"))) == changes(entries["bob"])
    assert ids(reader_api.get(query(f"servicePrincipal/id eq '{entries['slack'].pk}'"))) == changes(entries["staged"], entries["bob"], entries["jane"])
    assert ids(reader_api.get(query("jobId eq 'scim.nothing'"))) == []


@pytest.mark.parametrize("text,message", [
    ("provisioningStatusInfo/status eq 'broken'", "provisioningStatusInfo/status: Status must be Success, Failure, Skipped or Warning (broken is not one)."),
    ("cycleId eq 'abc'", "cycleId: A Cycle ID is a GUID like 3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f."),
    ("activityDateTime ge yesterday", "activityDateTime ge: Enter the start as a date and time, e.g. 2025-11-23T09:00."),
    ("activityDateTime ge 2025-11-24T00:00:00Z and activityDateTime le 2025-11-23T00:00:00Z", "activityDateTime le: The end must be after the start."),
])
def test_bad_values_get_the_logs_pages_words(reader_api, entries, text, message):
    error = graph_error(reader_api.get(query(text)), 400)
    assert error["message"] == f"The $filter is not valid: {message}"


@pytest.mark.parametrize("text,words", [
    ("provisioningAction eq 'create' or provisioningAction eq 'update'", "not 'or'"),
    ("userPrincipalName eq 'x'", "cannot filter on 'userPrincipalName'"),
    ("provisioningAction eq 'create' and provisioningAction eq 'update'", "appears twice"),
    ("sourceIdentity/displayName eq 'Jane' and sourceIdentity/id eq 'x'", "cannot be combined"),
])
def test_unsupported_filters_are_a_400(reader_api, entries, text, words):
    assert words in graph_error(reader_api.get(query(text)), 400)["message"]


def test_keyset_paging_through_next_link_sees_every_entry_once(reader_api):
    app = factories.ApplicationFactory()
    logs = [factories.ProvisioningLogFactory(application=app, created_at=at(i // 3), status="failure") for i in range(11)]
    factories.ProvisioningLogFactory(application=app, created_at=at(1), status="success")  # filtered out
    seen, url, pages = [], query("provisioningStatusInfo/status eq 'failure'") + "&$top=4", 0
    while url:
        answer = reader_api.get(url).json()
        seen += [entry["changeId"] for entry in answer["value"]]
        url = answer.get("@odata.nextLink")
        pages += 1
        if url:
            assert url.startswith("http://testserver/api/v1/auditLogs/provisioning?") and "%24filter=" in url
    expected = sorted(logs, key=lambda log: (log.created_at, log.pk), reverse=True)
    assert seen == changes(*expected)
    assert pages == 3


def test_top_bounds_and_a_stale_skiptoken(reader_api, entries):
    assert len(ids(reader_api.get("auditLogs/provisioning?$top=2"))) == 2
    error = graph_error(reader_api.get("auditLogs/provisioning?$top=5000"), 400)
    assert "$top" in error["message"]
    error = graph_error(reader_api.get("auditLogs/provisioning?$skiptoken=999999999"), 400)
    assert error["message"].startswith("That page no longer exists")


def test_the_first_page_is_a_fixed_number_of_queries(reader_api, entries, django_assert_max_num_queries):
    for _ in range(30):
        factories.ProvisioningLogFactory(application=entries["slack"], cycle=entries["cycle"])
    # Token lookup, the audit row, the page (with app and cycle joined): not one query per entry.
    with django_assert_max_num_queries(6):
        assert len(ids(reader_api.get("auditLogs/provisioning?$top=30"))) == 30
    assert ProvisioningLog.objects.count() == 34
