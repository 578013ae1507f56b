"""Every API operation, from the OpenAPI document (so a new one is covered), with real and wrong ids, hostile
query strings and bodies: never a 500, always Graph's error shape."""

import json

import pytest
from django.test import Client

from tests import factories
from tests.api.conftest import ApiClient

pytestmark = pytest.mark.django_db
HOSTILE_QUERIES = ["", "?$filter=((((&$top=-1&$skiptoken=zz", "?$filter=cycleId%20eq%20'x'%20and%20activityDateTime%20ge%20"
                   "2025-99-99&$top=abc&$skiptoken=99999999999999999999999", "?$top=1&$skiptoken=1", "?x=%00"]
BODIES = [None, "{}", "[]", "null", '"text"', "{not json", json.dumps({"parameters": [{"subjects": [None]}]}),
          json.dumps({"criteria": {"resetScope": ["x"]}}), json.dumps({"@odata.id": None}),
          json.dumps({"userPrincipalName": "x" * 5000, "displayName": {"a": 1}}), json.dumps({"objectMappings": "x"})]


def operations():
    schema = Client().get("/api/v1/openapi.json").json()
    return [(path, method) for path, methods in schema["paths"].items() for method in methods]


@pytest.fixture
def ids():
    app = factories.ApplicationFactory()
    user = factories.DirectoryUserFactory()
    group = factories.DirectoryGroupFactory(members=[user])
    return [
        {"id": str(app.pk), "jobId": app.job_id, "memberId": str(user.object_id)},
        {"id": "987654", "jobId": "scim.nope", "memberId": "not-a-guid"},
        {"id": str(user.object_id), "jobId": "x" * 300, "memberId": str(group.object_id)},
        {"id": str(group.object_id), "jobId": app.job_id, "memberId": str(user.object_id)},
    ]


def test_no_operation_answers_500(django_db_setup, admin_token, ids):
    api = ApiClient(admin_token.text)
    found = operations()
    assert len(found) > 20, found
    for path, method in found:
        for values in ids:
            url = path.format(**values)
            for suffix in HOSTILE_QUERIES:
                for body in (BODIES if method in ("post", "put", "patch") else [None]):
                    response = api._call(method, url + suffix, body)
                    assert response.status_code < 500, f"{method.upper()} {url + suffix} {body!r} → {response.status_code}: {response.content[:300]}"
                    if response.status_code >= 400:
                        assert "error" in response.json(), (method, url, response.content)
