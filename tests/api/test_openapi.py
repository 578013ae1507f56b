"""The OpenAPI 3 document is valid and complete, and the docs page loads Swagger UI from this server."""

import re

import pytest
from django.test import Client
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


def test_the_schema_is_valid_openapi_3_with_every_resource():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    validate(schema)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    job = "/api/v1/servicePrincipals/{id}/synchronization/jobs/{jobId}"
    for path, methods in {
        "/api/v1/servicePrincipals": {"get"},
        job: {"get"},
        job + "/start": {"post"},
        job + "/pause": {"post"},
        job + "/restart": {"post"},
        job + "/provisionOnDemand": {"post"},
        job + "/schema": {"get", "put"},
        "/api/v1/auditLogs/provisioning": {"get"},
        "/api/v1/users": {"get", "post"},
        "/api/v1/users/{id}": {"get", "patch", "delete"},
        "/api/v1/groups/{id}/members/$ref": {"post"},
        "/api/v1/groups/{id}/members/{memberId}/$ref": {"delete"},
    }.items():
        assert methods <= set(paths[path]), path
    logs = {p["name"] for p in paths["/api/v1/auditLogs/provisioning"]["get"]["parameters"]}
    assert {"$filter", "$top", "$skiptoken"} <= logs
    assert schema["components"]["securitySchemes"]["TokenAuth"] == {"type": "http", "scheme": "bearer"}
    responses = paths[job]["get"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/SynchronizationJob"}
    for code in ("400", "401", "403", "404", "429"):
        assert responses[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/GraphError"}
    status = schema["components"]["schemas"]["SynchronizationStatus"]["properties"]
    assert {"code", "lastExecution", "progress", "quarantine", "synchronizedEntryCountByType"} <= set(status)


def test_the_docs_page_serves_swagger_ui_from_the_project_not_a_cdn():
    client = Client()
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
    bundle = next(s for s in sources if s.endswith("swagger-ui-bundle.js"))
    assert client.get(bundle).status_code == 200
