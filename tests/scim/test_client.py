"""ScimClient against the real scim2-server, and against misbehaving local servers for what it never does."""

import email.utils
import logging
import pickle
import time

import pytest

from provisioning.scim import (
    ScimAuthError,
    ScimBadRequest,
    ScimClient,
    ScimConflict,
    ScimConnectionError,
    ScimError,
    ScimNotFound,
    ScimProtocolError,
    ScimRateLimited,
    ScimServerError,
    filter_eq,
)
from provisioning.scim.errors import parse_retry_after
from tests.scim.misbehaving import Reply, list_response, scim_error
from tests.servers import free_port

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SECRET = "s3cr3t-token-value-0123456789"


def user(user_name, **extra):
    return {"schemas": [CORE_USER], "userName": user_name, "active": True, **extra}


@pytest.fixture
def client(scim_server, scim_tenant_url):
    with ScimClient(scim_tenant_url, scim_server.token) as c:
        yield c


# ---------------------------------------------------------------- real scim2-server: users


def test_it_creates_gets_and_deletes_a_user(client):
    created = client.create("Users", user("ada@example.com", externalId="ext-1"))
    assert created["id"] and created["userName"] == "ada@example.com"

    fetched = client.get("Users", created["id"])
    assert fetched["externalId"] == "ext-1"

    assert client.delete("Users", created["id"]) is None
    with pytest.raises(ScimNotFound) as caught:
        client.get("Users", created["id"])
    assert caught.value.status == 404
    assert caught.value.code == "NotFound"
    assert str(caught.value).startswith(f"Failed: GET /Users/{created['id']} returned 404 Not Found")


def test_it_finds_users_by_attribute(client):
    client.create("Users", user("grace@example.com"))
    client.create("Users", user("linus@example.com"))

    found = client.find_by("Users", "userName", "grace@example.com")

    assert [u["userName"] for u in found] == ["grace@example.com"]
    assert client.find_by("Users", "userName", "nobody@example.com") == []
    assert len(client.query("Users", 'userName sw "grace"')) == 1


@pytest.mark.parametrize("awkward", ['quote"inside', "back\\slash", 'both\\"mixed"', "ünïcødé ✓", "tab\tand\nnewline"])
def test_it_escapes_quotes_and_backslashes_in_filter_values(client, awkward):
    created = client.create("Users", user(awkward))
    near_miss = awkward.replace("\\", "").replace('"', "")
    if near_miss != awkward:
        client.create("Users", user(near_miss))  # must not match

    found = client.find_by("Users", "userName", awkward)

    assert [u["id"] for u in found] == [created["id"]]


def test_filter_values_are_json_string_literals():
    assert filter_eq("userName", 'a"b\\c') == r'userName eq "a\"b\\c"'
    assert filter_eq("active", True) == "active eq true"
    assert filter_eq('emails[type eq "work"].value', "x@y") == 'emails[type eq "work"].value eq "x@y"'
    with pytest.raises(ValueError):
        filter_eq("", "x")


def test_it_patches_a_user_and_returns_none_on_204(client):
    created = client.create("Users", user("edsger@example.com"))

    result = client.patch("Users", created["id"], [{"op": "replace", "path": "active", "value": False}])

    assert result is None  # scim2-server answers 204
    assert client.get("Users", created["id"])["active"] is False


def test_it_raises_conflict_with_the_servers_scim_type_on_duplicate_user_name(client):
    client.create("Users", user("dup@example.com"))

    with pytest.raises(ScimConflict) as caught:
        client.create("Users", user("dup@example.com"))

    error = caught.value
    assert (error.status, error.scim_type, error.code, error.method) == (409, "uniqueness", "EntryConflict", "POST")
    assert str(error) == (
        'Failed: POST /Users returned 409 Conflict (scimType uniqueness): '
        '"One or more of the attribute values are already in use or are reserved"'
    )
    assert "matching attribute" in error.recommended_fix


def test_it_raises_bad_request_for_an_invalid_filter(client):
    with pytest.raises(ScimBadRequest) as caught:
        client.query("Users", 'userName eq "unterminated')
    assert caught.value.scim_type == "invalidFilter"
    assert caught.value.code == "SystemForCrossDomainIdentityManagementBadRequest"
    assert "filter" in caught.value.recommended_fix


def test_a_wrong_token_raises_auth_error_without_leaking_it(scim_tenant_url):
    with ScimClient(scim_tenant_url, SECRET) as c:
        with pytest.raises(ScimAuthError) as caught:
            c.find_by("Users", "userName", "x")
        assert SECRET not in repr(c)
    error = caught.value
    assert (error.status, error.code, error.realm) == (401, "Unauthorized", "SCIM")
    assert "Secret Token" in error.recommended_fix
    for text in (str(error), repr(error), error.url, error.detail, repr(error.__dict__)):
        assert SECRET not in text


# ---------------------------------------------------------------- real scim2-server: groups and discovery


def test_it_manages_groups_and_excludes_members_when_asked(client):
    member = client.create("Users", user("member@example.com"))
    group = client.create("Groups", {"schemas": [CORE_GROUP], "displayName": 'Eng "core" \\ team'})

    client.patch("Groups", group["id"], [{"op": "add", "path": "members", "value": [{"value": member["id"]}]}])

    assert [m["value"] for m in client.get("Groups", group["id"])["members"]] == [member["id"]]
    assert "members" not in client.get("Groups", group["id"], excluded_attributes=["members"])
    found = client.find_by("Groups", "displayName", 'Eng "core" \\ team', excluded_attributes=["members"])
    assert [g["id"] for g in found] == [group["id"]] and "members" not in found[0]

    client.patch("Groups", group["id"], [{"op": "remove", "path": f'members[value eq "{member["id"]}"]'}])
    assert not client.get("Groups", group["id"]).get("members")
    client.delete("Groups", group["id"])
    assert client.find_by("Groups", "displayName", 'Eng "core" \\ team') == []


def test_it_reads_and_caches_the_service_provider_config(client):
    config = client.service_provider_config()

    assert (config.patch, config.filter, config.bulk, config.etag, config.sort, config.change_password) == (
        True, True, True, True, True, True)
    assert config.filter_max_results == 1000 and config.bulk_max_operations == 1000
    assert config.discovered
    sent = client.requests_sent
    assert client.service_provider_config() is config
    assert client.requests_sent == sent


@pytest.mark.parametrize("reply", [
    Reply(404, scim_error(404, "no such endpoint")),
    Reply(501, ""),
    Reply(200, "<html>app shell</html>", content_type="text/html"),
    Reply(200, ["not", "an", "object"]),
])
def test_a_target_without_a_usable_service_provider_config_gets_entras_assumptions(misbehaving_server, reply):
    server = misbehaving_server(lambda r: reply)
    with ScimClient(server.url, SECRET) as c:
        config = c.service_provider_config()
    assert (config.discovered, config.patch, config.filter, config.bulk) == (False, True, True, False)


def test_service_provider_config_raises_when_the_token_is_rejected(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(401, scim_error(401, "no")))
    with ScimClient(server.url, SECRET) as c, pytest.raises(ScimAuthError):
        c.service_provider_config()


def test_it_counts_requests(client):
    assert client.requests_sent == 0
    created = client.create("Users", user("count@example.com"))
    client.get("Users", created["id"])
    client.find_by("Users", "userName", "count@example.com")
    assert client.requests_sent == 3


def test_a_trailing_slash_on_the_base_url_is_ignored(scim_server, scim_tenant_url):
    with ScimClient(scim_tenant_url + "/", scim_server.token) as c:
        assert c.base_url == scim_tenant_url
        assert c.find_by("Users", "userName", "x") == []


# ---------------------------------------------------------------- what goes on the wire


def test_it_sends_scim_headers_and_the_patch_envelope(misbehaving_server):
    server = misbehaving_server(lambda request: Reply(204, content_type=None))
    with ScimClient(server.url + "/scim/v2", SECRET) as c:
        c.patch("Users", "a/b c", [{"op": "replace", "path": "active", "value": False}])

    [request] = server.requests
    assert request.method == "PATCH"
    assert request.path == "/scim/v2/Users/a%2Fb%20c"
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.headers["accept"] == request.headers["content-type"] == "application/scim+json"
    assert request.json() == {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                              "Operations": [{"op": "replace", "path": "active", "value": False}]}


def test_groups_query_sends_excluded_attributes(misbehaving_server):
    server = misbehaving_server(lambda request: Reply(200, list_response()))
    with ScimClient(server.url, SECRET) as c:
        c.find_by("Groups", "displayName", "Sales", excluded_attributes=["members"])
    assert server.requests[0].query == {"filter": ['displayName eq "Sales"'], "excludedAttributes": ["members"]}


def test_patch_returns_the_resource_when_the_target_sends_one(misbehaving_server):
    server = misbehaving_server(lambda request: Reply(200, {"id": "7", "active": False}))
    with ScimClient(server.url, SECRET) as c:
        assert c.patch("Users", "7", [{"op": "replace", "path": "active", "value": False}]) == {"id": "7", "active": False}


def test_it_follows_pages_and_stops_when_the_target_ignores_start_index(misbehaving_server):
    people = [{"id": str(i), "userName": f"u{i}"} for i in range(5)]

    def paged(request):
        start = int(request.query.get("startIndex", ["1"])[0])
        return Reply(200, list_response(people[start - 1:start + 1], total=5))

    stuck = misbehaving_server(lambda request: Reply(200, list_response(people[:2], total=5)))
    with ScimClient(misbehaving_server(paged).url, SECRET) as c:
        assert [p["id"] for p in c.query("Users", 'userName sw "u"')] == ["0", "1", "2", "3", "4"]
    with ScimClient(stuck.url, SECRET) as c:
        assert [p["id"] for p in c.query("Users", 'userName sw "u"')] == ["0", "1"]
        assert c.requests_sent == 2


# ---------------------------------------------------------------- misbehaving targets


def test_429_carries_retry_after_in_seconds(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(429, scim_error(429, "slow down"), headers={"Retry-After": "7"}))
    with ScimClient(server.url, SECRET) as c, pytest.raises(ScimRateLimited) as caught:
        c.find_by("Users", "userName", "x")
    assert (caught.value.retry_after, caught.value.code, caught.value.status) == (7.0, "TooManyRequests", 429)
    assert "waited the 7 seconds it asked for (Retry-After)" in caught.value.recommended_fix


def test_429_carries_retry_after_given_as_an_http_date(misbehaving_server):
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    server = misbehaving_server(lambda r: Reply(429, "", headers={"Retry-After": when}, content_type=None))
    with ScimClient(server.url, SECRET) as c, pytest.raises(ScimRateLimited) as caught:
        c.create("Users", user("x"))
    assert 100 < caught.value.retry_after <= 120


def test_retry_after_parsing():
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: retry now


def test_500_with_an_html_page_gives_a_server_error_with_a_readable_excerpt(misbehaving_server):
    page = "<html><head><title>502 Bad Gateway</title><style>b{}</style></head><body><h1>Upstream down</h1></body></html>"
    server = misbehaving_server(lambda r: Reply(500, page, content_type="text/html"))
    with ScimClient(server.url, SECRET) as c, pytest.raises(ScimServerError) as caught:
        c.get("Users", "1")
    assert caught.value.code == "InternalServerError"
    assert caught.value.detail == "502 Bad Gateway — Upstream down"
    assert str(caught.value) == 'Failed: GET /Users/1 returned 500 Internal Server Error: "502 Bad Gateway — Upstream down"'


@pytest.mark.parametrize("status, error_class, code", [
    (409, ScimConflict, "Conflict"), (400, ScimBadRequest, "SystemForCrossDomainIdentityManagementBadRequest"),
    (403, ScimAuthError, "InsufficientRights"), (503, ScimServerError, "ServiceUnavailable"),
    (501, ScimServerError, "NotImplemented"), (422, ScimError, "UnprocessableEntity"),
])
def test_error_bodies_with_an_integer_status_and_no_scim_type(misbehaving_server, status, error_class, code):
    body = scim_error(status, "User with this username already exists", status_as_int=True)  # django-scim2's shape
    server = misbehaving_server(lambda r: Reply(status, body, content_type="application/json"))
    with ScimClient(server.url, SECRET) as c, pytest.raises(error_class) as caught:
        c.create("Users", user("x"))
    assert (caught.value.status, caught.value.scim_type, caught.value.code) == (status, None, code)
    assert caught.value.detail == "User with this username already exists"


def test_scim_1_1_and_oauth_style_error_bodies_give_their_text(misbehaving_server):
    bodies = iter([{"Errors": [{"description": "old style", "code": 400}]}, {"error": "invalid_token"}, [1, 2]])
    server = misbehaving_server(lambda r: Reply(400, next(bodies)))
    with ScimClient(server.url, SECRET) as c:
        details = []
        for _ in range(3):
            with pytest.raises(ScimBadRequest) as caught:
                c.get("Users", "1")
            details.append(caught.value.detail)
    assert details == ["old style", "invalid_token", "[1, 2]"]


def test_an_html_login_page_instead_of_a_list_response_is_a_protocol_error(misbehaving_server):
    page = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Please sign in</body></html>"
    server = misbehaving_server(lambda r: Reply(200, page, content_type="text/html; charset=utf-8"))
    with ScimClient(server.url, SECRET) as c, pytest.raises(ScimProtocolError) as caught:
        c.find_by("Users", "userName", "x")
    assert caught.value.code == "SystemForCrossDomainIdentityManagementServiceIncompatible"
    assert "not JSON (text/html)" in str(caught.value)
    assert caught.value.detail == "Sign in — Please sign in"


@pytest.mark.parametrize("body, words", [
    ({"id": "1", "userName": "x"}, "a single resource instead of a ListResponse"),
    ([{"id": "1"}], "a JSON array instead of a ListResponse"),
    ({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 2}, "a ListResponse with totalResults 2 but no Resources"),
    ({"totalResults": "many", "Resources": []}, "totalResults is 'many'"),
    ({"totalResults": 1, "Resources": ["x"]}, "Resources is not a list of objects"),
    ({"totalResults": True, "Resources": []}, "totalResults is True"),
])
def test_a_query_answer_that_is_not_a_list_response_is_a_protocol_error(misbehaving_server, body, words):
    server = misbehaving_server(lambda r: Reply(200, body))
    with ScimClient(server.url, SECRET) as c, pytest.raises(ScimProtocolError) as caught:
        c.query("Users", 'userName eq "x"')
    assert words in str(caught.value)


def test_lenient_list_responses_are_accepted(misbehaving_server):
    # No schemas, lower-case "resources", and Resources left out when there are none (RFC 7644 §3.4.2).
    bodies = iter([{"totalResults": "1", "resources": [{"id": "1"}]}, {"schemas": [
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0}])
    server = misbehaving_server(lambda r: Reply(200, next(bodies), content_type="application/json"))
    with ScimClient(server.url, SECRET) as c:
        assert c.query("Users", 'userName eq "x"') == [{"id": "1"}]
        assert c.query("Users", 'userName eq "y"') == []


def test_a_created_resource_without_an_id_is_a_protocol_error(misbehaving_server):
    replies = iter([Reply(201, {"userName": "x"}), Reply(204, content_type=None), Reply(201, "created", content_type="text/plain")])
    server = misbehaving_server(lambda r: next(replies))
    with ScimClient(server.url, SECRET) as c:
        messages = []
        for _ in range(3):
            with pytest.raises(ScimProtocolError) as caught:
                c.create("Users", user("x"))
            messages.append(str(caught.value))
    assert "without an id" in messages[0]
    assert "204 No Content with an empty body" in messages[1]
    assert 'not JSON (text/plain): "created"' in messages[2]


@pytest.mark.parametrize("bad_id, words", [
    ({"value": "1"}, "id is an object, not a string"),
    (["1"], "id is a list, not a string"),
    (True, "id is a boolean, not a string"),
    (1.5, "id is a number with a fraction, not a string"),
    ("   ", "id is only spaces"),
    ("x" * 257, "id is 257 characters long (at most 256 are accepted)"),
    ("a\x00b", "id contains control characters"),
    ("a\udc80b", "id contains control characters or text that is not valid Unicode"),
])
def test_an_unusable_id_from_the_target_is_refused_with_the_reason(misbehaving_server, bad_id, words):
    server = misbehaving_server(lambda r: Reply(201, {"id": bad_id, "userName": "x"}))
    with ScimClient(server.url, SECRET) as c, pytest.raises(ScimProtocolError) as caught:
        c.create("Users", user("x"))
    assert f"returned a resource whose {words}" in str(caught.value)
    assert "{'value'" not in str(caught.value)  # never a Python repr


def test_an_unusable_id_in_a_list_fails_the_whole_answer(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(200, list_response([{"id": "1"}, {"id": {"nested": True}}])))
    with ScimClient(server.url, SECRET) as c, pytest.raises(ScimProtocolError, match="id is an object"):
        c.query("Users", 'userName eq "x"')


def test_ids_are_read_case_insensitively_and_numbers_become_text(misbehaving_server):
    replies = iter([Reply(201, {"ID": "abc", "userName": "x"}), Reply(201, {"Id": 42, "userName": "y"}),
                    Reply(200, list_response([{"ID": "z1", "userName": "z"}]))])
    server = misbehaving_server(lambda r: next(replies))
    with ScimClient(server.url, SECRET) as c:
        assert c.create("Users", user("x"))["id"] == "abc"
        assert c.create("Users", user("y"))["id"] == "42"
        assert [r["id"] for r in c.query("Users", 'userName eq "z"')] == ["z1"]


@pytest.mark.parametrize("target_id, sent_path", [
    ("..", "/Users/%2E%2E"),
    (".", "/Users/%2E"),
    ("a/b", "/Users/a%2Fb"),
    ("a?b#c", "/Users/a%3Fb%23c"),
    ("x y", "/Users/x%20y"),
])
def test_an_id_never_changes_the_path(misbehaving_server, target_id, sent_path):
    server = misbehaving_server(lambda r: Reply(200, {"id": target_id, "userName": "x"}))
    with ScimClient(server.url + "/scim/v2", SECRET) as c:
        c.get("Users", target_id)
        c.delete("Users", target_id)
    paths = [r.path for r in server.requests]  # as sent, still percent-encoded
    assert paths == ["/scim/v2" + sent_path] * 2, paths


def test_json_with_the_wrong_content_type_is_accepted(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(201, {"id": "9", "userName": "x"}, content_type="text/plain"))
    with ScimClient(server.url, SECRET) as c:
        assert c.create("Users", user("x"))["id"] == "9"


def test_a_redirect_is_not_followed(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(302, "", headers={"Location": "https://login.example.com/?next=x"}))
    with ScimClient(server.url, SECRET) as c, pytest.raises(ScimProtocolError) as caught:
        c.get("Users", "1")
    assert "a redirect to https://login.example.com/" in str(caught.value)
    assert len(server.requests) == 1


def test_a_slow_target_times_out_with_the_timeout_in_the_message(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(200, list_response(), delay=2))
    with ScimClient(server.url, SECRET, timeout=0.2) as c, pytest.raises(ScimConnectionError) as caught:
        c.find_by("Users", "userName", "x")
    assert (caught.value.reason, caught.value.code) == ("timeout", "Timeout")
    assert "within 0.2 seconds" in str(caught.value)


def test_a_closed_port_is_connection_refused():
    with ScimClient(f"http://127.0.0.1:{free_port()}/scim", SECRET) as c, pytest.raises(ScimConnectionError) as caught:
        c.get("Users", "1")
    assert (caught.value.reason, caught.value.code) == ("refused", "ConnectionRefused")
    assert str(caught.value).startswith("Failed: GET /Users/1 could not be sent: nothing accepts connections at 127.0.0.1:")


def test_an_unknown_host_is_a_dns_failure():
    with ScimClient("http://nonexistent.invalid/scim", SECRET) as c, pytest.raises(ScimConnectionError) as caught:
        c.get("Users", "1")
    assert caught.value.reason == "dns"
    assert "the host name nonexistent.invalid does not resolve" in str(caught.value)


def test_the_token_echoed_by_a_server_is_redacted(misbehaving_server, caplog):
    def echo(request):
        return Reply(401, scim_error(401, f"bad header: {request.headers['authorization']}"),
                     headers={"WWW-Authenticate": 'Bearer realm="corp"'})

    server = misbehaving_server(echo)
    caplog.set_level(logging.DEBUG)
    with ScimClient(server.url, SECRET) as c, pytest.raises(ScimAuthError) as caught:
        c.get("Users", "1")
    assert caught.value.detail == "bad header: Bearer [redacted]"
    assert caught.value.realm == "corp"
    assert SECRET not in caplog.text


# ---------------------------------------------------------------- answers checked against the request


def test_a_list_answered_with_a_group_for_users_is_refused(misbehaving_server):
    group = {"schemas": [CORE_GROUP], "id": "g1", "displayName": "Staff"}
    typed = {"id": "g2", "displayName": "Staff", "meta": {"resourceType": "Group"}}
    replies = iter([Reply(200, list_response([group])), Reply(200, list_response([typed])), Reply(200, typed)])
    server = misbehaving_server(lambda r: next(replies))
    with ScimClient(server.url, SECRET) as c:
        with pytest.raises(ScimProtocolError, match="returned a Group .its schemas name .*Group. where a User was asked for .id g1."):
            c.find_by("Users", "userName", "x")
        with pytest.raises(ScimProtocolError, match=r"returned a Group \(meta.resourceType\) where a User was asked for"):
            c.find_by("Users", "userName", "x")
        with pytest.raises(ScimProtocolError, match="where a User was asked for"):
            c.get("Users", "g2")


def test_a_resource_of_both_kinds_or_of_no_stated_kind_is_taken_as_asked(misbehaving_server):
    both = {"schemas": [CORE_USER, CORE_GROUP], "id": "1", "userName": "x"}
    server = misbehaving_server(lambda r: Reply(200, list_response([both, {"id": "2", "userName": "y"}])))
    with ScimClient(server.url, SECRET) as c:
        assert [r["id"] for r in c.query("Users", 'userName sw "x"')] == ["1", "2"]


def test_an_answer_about_another_resource_is_refused(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(200, {"schemas": [CORE_USER], "id": "someone-else", "active": False}))
    with ScimClient(server.url, SECRET) as c:
        with pytest.raises(ScimProtocolError, match=r"returned another resource \(id someone-else\) instead of 7"):
            c.patch("Users", "7", [{"op": "replace", "path": "active", "value": False}])
        with pytest.raises(ScimProtocolError, match="returned another resource"):
            c.get("Users", "7")
    same_but_case = misbehaving_server(lambda r: Reply(200, {"id": "ABC-1", "active": False}))
    with ScimClient(same_but_case.url, SECRET) as c:
        assert c.get("Users", "abc-1")["id"] == "ABC-1"


@pytest.mark.parametrize("body, words", [
    ({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 5, "Resources": []},
     "totalResults 5 but no Resources: the answer contradicts itself"),
    ({"totalResults": 0, "itemsPerPage": 3}, "itemsPerPage 3 but no Resources"),
])
def test_a_list_that_contradicts_itself_is_a_failure_never_no_match(misbehaving_server, body, words):
    server = misbehaving_server(lambda r: Reply(200, body))
    with ScimClient(server.url, SECRET) as c, pytest.raises(ScimProtocolError) as caught:
        c.find_by("Users", "userName", "x")
    assert words in str(caught.value)


@pytest.mark.parametrize("body, words", [
    (b"null", "JSON null instead of a ListResponse"),
    (b'"text"', "JSON string instead of a ListResponse"),
    (b"42", "JSON number instead of a ListResponse"),
])
def test_json_that_is_not_an_object_is_named(misbehaving_server, body, words):
    server = misbehaving_server(lambda r: Reply(200, body))
    with ScimClient(server.url, SECRET) as c, pytest.raises(ScimProtocolError, match=words):
        c.find_by("Users", "userName", "x")


# ---------------------------------------------------------------- answers read within bounds


def test_deeply_nested_json_is_a_protocol_error_not_a_recursion_error(misbehaving_server):
    deep = b'{"id": "1", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    just_deep = b'{"id": "1", "x": ' + b"[" * 70 + b"]" * 70 + b"}"
    replies = iter([Reply(201, deep), Reply(201, just_deep), Reply(400, deep)])
    server = misbehaving_server(lambda r: next(replies))
    with ScimClient(server.url, SECRET) as c:
        for _ in range(2):
            with pytest.raises(ScimProtocolError, match="JSON nested deeper than 64 levels"):
                c.create("Users", user("x"))
        with pytest.raises(ScimBadRequest):  # an error body that deep is shown as an excerpt
            c.create("Users", user("x"))


def test_a_gzip_answer_is_read_and_a_false_gzip_header_is_explained(misbehaving_server):
    import gzip
    import json as jsonlib
    import zlib

    body = jsonlib.dumps({"id": "9", "userName": "x"}).encode()
    deflated = zlib.compress(body)
    replies = iter([Reply(201, gzip.compress(body), headers={"Content-Encoding": "gzip"}),
                    Reply(201, deflated, headers={"Content-Encoding": "deflate"}),
                    Reply(201, body, headers={"Content-Encoding": "gzip"}),
                    Reply(201, gzip.compress(body)[:-12], headers={"Content-Encoding": "gzip"}),
                    Reply(201, body, headers={"Content-Encoding": "br"})])
    server = misbehaving_server(lambda r: next(replies))
    with ScimClient(server.url, SECRET) as c:
        assert c.create("Users", user("x"))["id"] == "9"
        assert c.create("Users", user("x"))["id"] == "9"
        errors = []
        for _ in range(3):
            with pytest.raises(ScimConnectionError) as caught:
                c.create("Users", user("x"))
            errors.append(caught.value)
    assert {(e.reason, e.code) for e in errors} == {("unusable", "UnusableResponse")}
    assert "said its body is gzip-compressed (Content-Encoding: gzip), but it is not" in str(errors[0])
    assert "ends before its end (truncated)" in str(errors[1])
    assert "Content-Encoding 'br', which was not asked for" in str(errors[2])
    assert "SCIM_MAX_RESPONSE_BYTES" in errors[0].recommended_fix


def test_answers_are_capped_before_and_after_decompression(misbehaving_server, settings):
    import gzip

    settings.SCIM_MAX_RESPONSE_BYTES = 64 * 1024
    bomb = gzip.compress(b'{"id": "1", "userName": "' + b"A" * (8 * 1024 * 1024) + b'"}')
    assert len(bomb) < 64 * 1024
    replies = iter([Reply(200, bomb, headers={"Content-Encoding": "gzip"}), Reply(200, b" " * (65 * 1024))])
    server = misbehaving_server(lambda r: next(replies))
    with ScimClient(server.url, SECRET) as c:
        with pytest.raises(ScimConnectionError, match="inflates to more than 64 KiB"):
            c.get("Users", "1")
        with pytest.raises(ScimConnectionError, match=r"announced a body of 65 KiB \(Content-Length\), more than the 64 KiB"):
            c.get("Users", "1")


def test_an_endless_body_is_read_only_up_to_the_cap(settings):
    from tests.hostile_target import HostileTarget

    settings.SCIM_MAX_RESPONSE_BYTES = 256 * 1024
    with HostileTarget() as target, ScimClient(target.tenant_url("endless"), target.token) as c:
        with pytest.raises(ScimConnectionError, match="sent more than 256 KiB.*the rest was not read"):
            c.find_by("Users", "userName", "x")


def test_a_trickling_answer_ends_at_the_total_deadline_not_the_read_timeout(settings):
    from tests.hostile_target import HostileTarget

    settings.SCIM_DEADLINE_SECONDS = 1.5
    with HostileTarget() as target, ScimClient(target.tenant_url("trickle"), target.token, timeout=10) as c:
        started = time.monotonic()
        with pytest.raises(ScimConnectionError) as caught:
            c.find_by("Users", "userName", "x")
        assert time.monotonic() - started < 3
        # The next request has a deadline of its own.
        started = time.monotonic()
        with pytest.raises(ScimConnectionError):
            c.get("Users", "1")
        assert time.monotonic() - started < 3
    assert caught.value.reason == "timeout"
    assert "within 1.5 seconds, the most one request may take (SCIM_DEADLINE_SECONDS)" in str(caught.value)


def test_nul_and_lone_surrogates_in_answers_are_replaced(misbehaving_server):
    body = b'{"id": "1", "displayName": "a\\u0000b\\ud800c", "t\\udfffitle": "\\u001b[31m"}'
    server = misbehaving_server(lambda r: Reply(200, body))
    with ScimClient(server.url, SECRET) as c:
        resource = c.get("Users", "1")
    assert resource["displayName"] == "a\ufffdb\ufffdc"
    assert resource["t\ufffditle"] == "\x1b[31m"  # kept as it is in the data; escaped where it is shown


# ---------------------------------------------------------------- construction and errors as values


@pytest.mark.parametrize("url", ["", "ftp://host/scim", "host/scim", "https://host/scim?aadOptscim062020"])
def test_an_unusable_base_url_raises_before_sending(url):
    with pytest.raises(ScimConnectionError) as caught:
        ScimClient(url, SECRET)
    assert caught.value.code == "InvalidTenantUrl"
    assert "Tenant URL" in str(caught.value)


@pytest.mark.parametrize("token", ["", "   ", "Bearer abc", "two words"])
def test_an_unusable_token_raises_before_sending(token):
    with pytest.raises(ScimAuthError) as caught:
        ScimClient("https://host/scim", token)
    assert "Secret Token" in str(caught.value)


def test_errors_survive_pickling():
    original = ScimRateLimited("returned 429 Too Many Requests", retry_after=3.0, method="GET", url="http://h/Users",
                               path="/Users", status=429, detail="slow")
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is ScimRateLimited
    assert (str(copy), copy.retry_after, copy.code, copy.recommended_fix) == (
        str(original), 3.0, "TooManyRequests", original.recommended_fix)


def test_a_bulk_patch_answered_with_another_resource_is_refused():
    with ScimClient("http://127.0.0.1:9/scim", SECRET) as c:
        operation = {"method": "PATCH", "path": "/Users/7", "data": {}}
        with pytest.raises(ScimProtocolError, match="returned another resource"):
            c.bulk_result(operation, {"status": "200", "response": {"id": "8", "userName": "x"}})
        assert c.bulk_result(operation, {"status": "200", "response": {"id": "7", "userName": "x"}})["id"] == "7"
