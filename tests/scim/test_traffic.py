"""The traffic record: what the client keeps of each request and answer, masked and bounded."""

import json

from provisioning.scim import ScimBadRequest, ScimClient
from provisioning.scim.traffic import (
    BODY_LIMIT,
    FAILED_BODY_LIMIT,
    HEAD_EXCHANGES,
    TAIL_EXCHANGES,
    Traffic,
    pretty_body,
)
from tests.scim.misbehaving import Reply, scim_error

import pytest

SECRET = "s3cr3t-token-value-0123456789"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_it_records_method_url_status_headers_and_bodies_without_the_token(scim_server, scim_tenant_url):
    traffic = Traffic()
    with ScimClient(scim_tenant_url, scim_server.token) as client, client.recording(traffic):
        created = client.create("Users", {"schemas": [CORE_USER], "userName": "ada@example.com"})
        client.find_by("Users", "userName", "nobody@example.com")
    post, query = traffic.as_json()
    assert (post["method"], post["status"]) == ("POST", 201)
    assert post["url"] == f"{scim_tenant_url}/Users"
    assert json.loads(post["request_body"])["userName"] == "ada@example.com"
    assert json.loads(post["response_body"])["id"] == created["id"]
    names = [name.lower() for name, _ in post["request_headers"]]
    assert "authorization" not in names and "content-type" in names
    assert scim_server.token not in json.dumps(traffic.as_json())
    assert query["method"] == "GET" and "filter=" in query["url"] and query["status"] == 200
    assert "request_body" not in query  # a GET has none


def test_requests_outside_a_recording_are_not_kept(scim_server, scim_tenant_url):
    traffic = Traffic()
    with ScimClient(scim_tenant_url, scim_server.token) as client:
        client.find_by("Users", "userName", "x@example.com")
    assert traffic.as_json() == []


def test_cookies_and_the_token_echoed_by_the_target_are_masked(misbehaving_server):
    def respond(request):
        body = {"schemas": [CORE_USER], "id": "1", "userName": "a", "echo": request.headers["authorization"],
                "password": "hunter2-secret"}
        return Reply(201, body, headers={"Set-Cookie": "session=abc123"})

    server = misbehaving_server(respond)
    traffic = Traffic()
    with ScimClient(server.url, SECRET) as client, client.recording(traffic):
        client.create("Users", {"schemas": [CORE_USER], "userName": "a", "password": "Pa55word!"})
    [exchange] = traffic.as_json()
    stored = json.dumps(exchange)
    assert SECRET not in stored and "Pa55word!" not in stored and "hunter2-secret" not in stored
    assert "abc123" not in stored
    assert [n for n, _ in exchange["response_headers"] if n.lower() == "set-cookie"] == []
    assert json.loads(exchange["request_body"])["password"] == "[redacted]"


def test_values_of_redacted_mappings_are_masked():
    traffic = Traffic()
    traffic.mask(["4111-1111-1111-1111", None, True])
    traffic.record(method="POST", url="https://t/Users", status=201, request_body=b'{"card": "4111-1111-1111-1111"}')
    assert "4111" not in json.dumps(traffic.as_json())


def test_a_large_body_is_cut_and_says_how_much_was_left_out():
    traffic = Traffic()
    body = json.dumps({"x": "a" * (BODY_LIMIT * 2)}).encode()
    traffic.record(method="POST", url="https://t/Users", status=201, request_body=body)
    [exchange] = traffic.as_json()
    assert len(exchange["request_body"]) == BODY_LIMIT
    assert exchange["request_body_omitted"] == len(body) - BODY_LIMIT


def test_a_failed_patch_keeps_its_operations_whole(misbehaving_server):
    """A PATCH of 500 members (about 25,000 characters) is kept whole when the target refuses it."""
    server = misbehaving_server(lambda request: Reply(400, scim_error(400, "members not supported", "invalidPath")))
    operations = [{"op": "add", "path": "members", "value": [{"value": f"user-{n:05d}-0000-0000-000000000000"} for n in range(500)]}]
    traffic = Traffic()
    with ScimClient(server.url, SECRET) as client, client.recording(traffic), pytest.raises(ScimBadRequest):
        client.patch("Groups", "g1", operations)
    [exchange] = traffic.as_json()
    assert exchange["status"] == 400
    assert BODY_LIMIT < len(exchange["request_body"]) < FAILED_BODY_LIMIT
    assert "request_body_omitted" not in exchange
    assert json.loads(exchange["request_body"])["Operations"] == operations
    assert "members not supported" in exchange["response_body"]


def test_no_answer_is_recorded_with_the_reason():
    traffic = Traffic()
    with ScimClient("http://127.0.0.1:9", SECRET, timeout=2) as client, client.recording(traffic), pytest.raises(Exception):
        client.get("Users", "1")
    [exchange] = traffic.as_json()
    assert exchange["status"] is None and "refused" in exchange["error"]


def test_only_the_first_and_last_requests_are_kept_with_a_count_between():
    traffic = Traffic()
    total = HEAD_EXCHANGES + TAIL_EXCHANGES + 7
    for n in range(total):
        traffic.record(method="PATCH", url=f"https://t/Groups/g?n={n}", status=204)
    kept = traffic.as_json()
    assert kept[HEAD_EXCHANGES] == {"omitted": 7}
    assert kept[0]["url"].endswith("n=0") and kept[-1]["url"].endswith(f"n={total - 1}")
    assert len(kept) == HEAD_EXCHANGES + TAIL_EXCHANGES + 1


def test_bulk_operations_are_recorded_as_their_own_request():
    traffic = Traffic()
    operation = {"method": "POST", "path": "/Users", "bulkId": "b1", "data": {"userName": "a"}}
    traffic.record_operation("https://t", operation, {"status": "409", "response": {"detail": "exists"}})
    [exchange] = traffic.as_json()
    assert (exchange["method"], exchange["url"], exchange["status"], exchange["via"]) == ("POST", "https://t/Users", 409, "POST /Bulk")
    assert json.loads(exchange["response_body"]) == {"detail": "exists"}


def test_pretty_body_indents_whole_json_and_leaves_a_cut_body_alone():
    assert pretty_body('{"a": 1}') == '{\n  "a": 1\n}'
    assert pretty_body('{"a": 1') == '{"a": 1'


def test_a_targets_headers_are_kept_cut_and_counted():
    from provisioning.scim.traffic import shown_headers

    headers = {"X-Long": "v" * 5000, **{f"X-{n}": str(n) for n in range(100)}, "Set-Cookie": "session=secret"}
    shown = shown_headers(headers)
    assert shown[0] == ["X-Long", "v" * 500 + "… (4,500 more characters left out)"]
    assert len(shown) == 41 and shown[-1] == ["…", "61 more headers left out"]
    assert all(name != "Set-Cookie" for name, _ in shown)
