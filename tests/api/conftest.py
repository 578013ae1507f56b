"""The API's callers: a Django test client per token, sending `Authorization: Bearer <token>`."""

import json

import pytest
from django.core.cache import cache
from django.test import Client

from provisioning.models import ApiToken
from tests import factories


@pytest.fixture(autouse=True)
def fresh_throttle():
    # Ninja counts requests per token in the cache: each test starts with a full budget.
    cache.clear()
    yield
    cache.clear()


class ApiClient:
    def __init__(self, text=None):
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {text}"} if text else {}

    def _call(self, method, path, body=None, headers=None):
        url = path if path.startswith(("/", "http")) else f"/api/v1/{path}"
        kwargs = {"headers": {**self.headers, **(headers or {})}}
        if body is not None:
            kwargs.update(data=body if isinstance(body, (str, bytes)) else json.dumps(body), content_type="application/json")
        elif method in ("post", "put", "patch"):
            kwargs.update(content_type="application/json")  # as Graph clients send it, even without a body
        return getattr(self.client, method)(url, **kwargs)

    def get(self, path, **kwargs):
        return self._call("get", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self._call("post", path, body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self._call("put", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self._call("patch", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self._call("delete", path, **kwargs)


@pytest.fixture
def admin_token(db, admin_user):
    return factories.ApiTokenFactory(name="automation", role=ApiToken.Role.ADMIN, created_by=admin_user)


@pytest.fixture
def reader_token(db):
    return factories.ApiTokenFactory(name="helpdesk report", role=ApiToken.Role.READ_ONLY)


@pytest.fixture
def admin_api(admin_token):
    return ApiClient(admin_token.text)


@pytest.fixture
def reader_api(reader_token):
    return ApiClient(reader_token.text)


@pytest.fixture
def anonymous_api(db):
    return ApiClient()


def graph_error(response, status):
    """The body of a Graph-shaped error answer, after checking its shape."""
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) >= {"code", "message", "innerError"}
    assert error["innerError"]["request-id"] == response["request-id"]
    assert error["innerError"]["date"].endswith("Z")
    return error
