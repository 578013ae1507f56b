"""Test Connection: Entra's check, with one specific message and fix per way it can fail."""

import logging

import httpx
import pytest

from provisioning.scim.connection import SUCCESS_MESSAGE, ConnectionResult, check_connection
from tests.scim.misbehaving import Reply, list_response, make_certificates, scim_error
from tests.servers import free_port

SECRET = "tok-5ecret-0123456789abcdef"
SPC = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
       "patch": {"supported": False}, "filter": {"supported": True, "maxResults": 200}}


def not_found(request):
    return Reply(404, "<html><title>404</title>Not here</html>", content_type="text/html")


def only_under(prefix, respond):
    """A target whose SCIM endpoint lives under `prefix`; everything else is a 404 web page."""
    def route(request):
        if not request.path.startswith(prefix + "/"):
            return not_found(request)
        return respond(request.path.removeprefix(prefix), request)
    return route


def compliant(path, request):
    if path == "/ServiceProviderConfig":
        return Reply(200, SPC)
    return Reply(200, list_response())


def assert_no_secret(result: ConnectionResult, secret=SECRET):
    assert secret not in repr(result)


# ---------------------------------------------------------------- success


def test_it_succeeds_against_scim2_server_with_entras_message(scim_server, scim_tenant_url):
    result = check_connection(scim_tenant_url, scim_server.token)

    assert result.ok, result
    assert result.message == "The supplied credentials are authorized to enable provisioning" == SUCCESS_MESSAGE
    assert (result.fix, result.code, result.warnings) == ("", "", ())
    assert result.checked_url.startswith(scim_tenant_url + "/Users?filter=userName+eq+")
    details = dict(result.details)
    assert details["HTTP status"] == "200 OK"
    assert details["Server features"] == "PATCH, filter (max 1000 results), bulk, ETag, sort, change password"
    assert details["Groups endpoint"] == "answers"
    assert details["Elapsed"].endswith(" ms")


def test_it_queries_users_by_a_random_guid_as_entra_does(misbehaving_server):
    server = misbehaving_server(only_under("/scim/v2", compliant))

    result = check_connection(server.url + "/scim/v2", SECRET)

    assert result.ok
    first = server.requests[0]
    assert (first.method, first.path) == ("GET", "/scim/v2/Users")
    assert first.headers["authorization"] == f"Bearer {SECRET}"
    [query] = first.query["filter"]
    assert query.startswith('userName eq "') and len(query) == len('userName eq ""') + 36
    assert dict(result.details)["Server features"] == "filter (max 200 results)"
    assert any("does not support PATCH" in w for w in result.warnings)


def test_a_trailing_slash_is_normalised_with_a_warning(scim_server, scim_tenant_url):
    result = check_connection(scim_tenant_url + "/", scim_server.token)

    assert result.ok and result.message == SUCCESS_MESSAGE
    assert result.checked_url.startswith(scim_tenant_url + "/Users?")
    [warning] = result.warnings
    assert warning.startswith("The Tenant URL ends with '/'.")
    assert f"{scim_tenant_url}/Users" in warning


def test_a_target_without_groups_gets_a_warning(misbehaving_server):
    def no_groups(path, request):
        return not_found(request) if path.startswith("/Groups") else compliant(path, request)

    result = check_connection(misbehaving_server(only_under("/scim", no_groups)).url + "/scim", SECRET)

    assert result.ok
    assert dict(result.details)["Groups endpoint"] == "not usable: returned 404 Not Found"
    assert any("turn off group provisioning" in w for w in result.warnings)


# ---------------------------------------------------------------- what the admin typed


@pytest.mark.parametrize("url, words", [
    ("", "The Tenant URL is empty."),
    ("   ", "The Tenant URL is empty."),
    ("ftp://scim.example.com/scim", "must start with https:// (or http://), not ftp://"),
    ("scim.example.com/scim/v2", "no scheme: it must start with https://, for example https://scim.example.com/scim/v2"),
    ("https:///scim", "has no host name"),
    ("https://scim.example.com/scim?aadOptscim062020", "contains a query string"),
    ("https://admin:pw@scim.example.com/scim", "contains a user name or password"),
])
def test_an_invalid_tenant_url_fails_before_any_request(url, words):
    result = check_connection(url, SECRET)
    assert not result.ok
    assert words in result.message
    assert result.code == "InvalidTenantUrl"
    assert "Tenant URL" in result.fix


def test_entras_url_flags_are_explained_with_the_url_to_use_instead():
    result = check_connection("https://scim.example.com/scim/?aadOptscim062020", SECRET)
    assert "'Entra-compatible requests' setting" in result.message
    assert result.fix == "Use https://scim.example.com/scim as the Tenant URL."


@pytest.mark.parametrize("token, code, words", [
    ("", "MissingSecretToken", "The Secret Token is empty."),
    (None, "MissingSecretToken", "The Secret Token is empty."),
    ("Bearer abc", "InvalidSecretToken", "starts with 'Bearer '"),
    ("abc def", "InvalidSecretToken", "contains spaces or line breaks"),
])
def test_an_unusable_token_fails_before_any_request(token, code, words):
    result = check_connection("https://scim.example.com/scim", token)
    assert (result.ok, result.code) == (False, code)
    assert words in result.message


# ---------------------------------------------------------------- the target says no


def test_a_wrong_token_is_rejected_with_the_realm(scim_tenant_url):
    result = check_connection(scim_tenant_url, SECRET)

    assert not result.ok
    assert result.message == 'The target rejected the Secret Token (HTTP 401 Unauthorized, realm "SCIM").'
    assert result.code == "Unauthorized"
    assert "paste only the token" in result.fix
    assert dict(result.details)["HTTP status"] == "401 Unauthorized"
    assert_no_secret(result)


def test_a_token_without_permission_is_forbidden(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(403, scim_error(403, "scope users.read missing")))
    result = check_connection(server.url, SECRET)
    assert result.message == ('The target accepted the Secret Token but refused access to its users '
                              '(HTTP 403 Forbidden): "scope users.read missing".')
    assert result.code == "InsufficientRights"


def test_a_wrong_path_on_scim2_server_suggests_the_right_base(scim_server, scim_tenant_url):
    result = check_connection(scim_tenant_url + "/scim", scim_server.token)

    assert not result.ok and result.code == "NotFound"
    assert result.message == (f"There is no SCIM Users endpoint at {scim_tenant_url}/scim/Users (HTTP 404). "
                              f"Did you mean {scim_tenant_url}?")
    assert result.fix == f"Change the Tenant URL to {scim_tenant_url} and test again."


@pytest.mark.parametrize("endpoint", ["/Users", "/Schemas", "/groups/", "/ServiceProviderConfig", "/ResourceTypes"])
def test_a_tenant_url_ending_in_an_endpoint_is_refused_before_any_request(scim_server, scim_tenant_url, endpoint):
    before = scim_server.stats(scim_tenant_url)["requests"]
    result = check_connection(scim_tenant_url + endpoint, scim_server.token)
    assert (result.ok, result.code) == (False, "InvalidTenantUrl")
    name = endpoint.strip("/")
    assert result.message.lower() == f"The Tenant URL is the SCIM base address, without /{name}: use {scim_tenant_url}.".lower()
    assert scim_server.stats(scim_tenant_url)["requests"] == before


def test_a_missing_scim_v2_suffix_is_found(misbehaving_server):
    server = misbehaving_server(only_under("/scim/v2", compliant))

    result = check_connection(server.url, SECRET)

    assert result.message == (f"There is no SCIM Users endpoint at {server.url}/Users (HTTP 404). "
                              f"Did you mean {server.url}/scim/v2?")
    assert dict(result.details)["SCIM endpoint found at"] == f"{server.url}/scim/v2"


def test_a_404_with_no_scim_endpoint_nearby_says_so(misbehaving_server):
    server = misbehaving_server(not_found)

    result = check_connection(server.url + "/api", SECRET)

    assert result.message == f"There is no SCIM Users endpoint at {server.url}/api/Users (HTTP 404 Not Found)."
    assert "/ServiceProviderConfig" in result.fix
    assert dict(result.details)["Response"] == "404 Not here"


def test_a_404_for_the_filter_query_on_a_live_endpoint_is_non_compliant_filtering(misbehaving_server):
    def no_filters(path, request):
        if path == "/Users" and "filter" in request.query:
            return Reply(404, scim_error(404, "Unknown query"))
        return Reply(200, list_response([{"id": "1", "userName": "someone"}]))

    server = misbehaving_server(only_under("/scim", no_filters))
    result = check_connection(server.url + "/scim", SECRET)

    assert result.message.startswith(f"The SCIM endpoint at {server.url}/scim answers, but the user query with a "
                                     "filter returned 404 Not Found")
    assert result.code == "SystemForCrossDomainIdentityManagementServiceIncompatible"
    assert "userName eq" in result.fix


@pytest.mark.parametrize("body, words", [
    ({"id": "1", "userName": "x"}, "with a single resource instead of a ListResponse"),
    ([], "with a JSON array instead of a ListResponse"),
    ({"ok": True}, "with a JSON object instead of a ListResponse"),
])
def test_a_non_list_response_for_the_filter_query_is_non_compliant(misbehaving_server, body, words):
    server = misbehaving_server(lambda r: Reply(200, body))
    result = check_connection(server.url, SECRET)
    assert result.message == f"The target answered the user query {words}."
    assert result.code == "SystemForCrossDomainIdentityManagementServiceIncompatible"


def test_a_target_that_ignores_the_filter_fails(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(200, list_response([{"id": "1"}, {"id": "2"}])))
    result = check_connection(server.url, SECRET)
    assert result.message.startswith("The target returned 2 user(s) for a filter that matches no one")


def test_a_rejected_filter_quotes_the_servers_detail(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(400, scim_error(400, "filter not supported", "invalidFilter")))
    result = check_connection(server.url, SECRET)
    assert result.message.startswith("The target rejected the user query userName eq ")
    assert result.message.endswith('with HTTP 400 Bad Request (scimType invalidFilter): "filter not supported".')


def test_an_html_login_page_is_called_out_with_an_excerpt(misbehaving_server):
    page = ("<!doctype html><html><head><title>Contoso – Sign in</title><script>var x=1;</script></head>"
            "<body><form>Email address <input name=u></form></body></html>")
    server = misbehaving_server(lambda r: Reply(200, page, content_type="text/html"))

    result = check_connection(server.url, SECRET)

    assert result.message == 'The Tenant URL answers with a web page (HTML), not SCIM JSON: "Contoso – Sign in — Email address".'
    assert "sign-in page" in result.fix


def test_other_non_json_bodies_are_quoted(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(200, "OK", content_type="text/plain"))
    result = check_connection(server.url, SECRET)
    assert result.message == 'The target answered with text/plain that is not JSON: "OK".'


def test_a_redirect_from_http_to_https_suggests_https(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(301, "", headers={"Location": f"https://127.0.0.1:{free_port()}{r.path}"}))
    result = check_connection(server.url + "/scim", SECRET)
    assert result.message.startswith("The Tenant URL redirects (HTTP 301 Moved Permanently) to https://")
    assert result.fix.startswith("Did you mean https://127.0.0.1:")


def test_a_redirect_to_a_login_page_is_explained(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(302, "", headers={"Location": "/login?next=/scim/Users"}))
    result = check_connection(server.url + "/scim", SECRET)
    assert f"to {server.url}/login?next=/scim/Users instead of answering" in result.message
    assert "sign-in page" in result.fix


def test_a_server_error_is_reported_with_its_detail(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(500, scim_error(500, "database unavailable")))
    result = check_connection(server.url, SECRET)
    assert result.message == ('The target failed while answering the user query '
                              '(HTTP 500 Internal Server Error): "database unavailable".')
    assert result.code == "InternalServerError"


def test_throttling_says_when_to_retry(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(429, "", headers={"Retry-After": "30"}, content_type=None))
    result = check_connection(server.url, SECRET)
    assert result.message == "The target is throttling requests (HTTP 429 Too Many Requests); it asks to retry after 30 seconds."


def test_a_target_that_cannot_query_users_says_so(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(501, scim_error(501, "Not implemented")))
    result = check_connection(server.url, SECRET)
    assert result.message == 'The target does not support querying users (HTTP 501 Not Implemented): "Not implemented".'
    assert result.code == "NotImplemented"


# ---------------------------------------------------------------- no answer at all


def test_an_unknown_host_is_a_dns_failure():
    result = check_connection("http://nonexistent.invalid/scim", SECRET)
    assert result.message == "The host name nonexistent.invalid in the Tenant URL does not resolve (DNS lookup failed)."
    assert result.code == "NameResolutionFailure"
    # Plain http to another machine sends the token in clear: warned even when the check fails.
    assert any("travels unencrypted" in w for w in result.warnings)


def test_a_closed_port_is_refused():
    port = free_port()
    result = check_connection(f"http://127.0.0.1:{port}/scim", SECRET)
    assert result.message == f"Nothing accepts connections at 127.0.0.1:{port}: the connection was refused."
    assert result.code == "ConnectionRefused"
    assert result.warnings == ()  # loopback http is fine


def test_a_slow_target_times_out_and_says_the_timeout(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(200, list_response(), delay=2))
    result = check_connection(server.url, SECRET, timeout=0.3)
    assert result.message == "The target at 127.0.0.1 did not answer within 0.3 seconds."
    assert result.code == "Timeout"


def test_a_self_signed_certificate_is_a_tls_failure(misbehaving_server, tmp_path):
    certificates = make_certificates(tmp_path, self_signed=True)
    server = misbehaving_server(lambda r: Reply(200, list_response()), tls=certificates.server_context())

    result = check_connection(server.url + "/scim", SECRET)

    assert result.message.startswith("The secure (TLS) connection to 127.0.0.1 failed: certificate not trusted: self")
    assert result.code == "TlsHandshakeFailure"
    assert "self-signed" in result.fix


def test_an_expired_certificate_is_a_tls_failure(misbehaving_server, tmp_path):
    certificates = make_certificates(tmp_path, expired=True)
    server = misbehaving_server(lambda r: Reply(200, list_response()), tls=certificates.server_context())
    trusting = httpx.HTTPTransport(verify=certificates.client_context())

    result = check_connection(server.url + "/scim", SECRET, transport=trusting)

    assert result.message.startswith("The secure (TLS) connection to 127.0.0.1 failed: certificate not trusted: "
                                     "certificate has expired. The target presented subject CN=127.0.0.1, issued by CN=Test CA")
    assert "has expired" in result.fix


def test_a_certificate_for_another_host_is_a_tls_failure(misbehaving_server, tmp_path):
    certificates = make_certificates(tmp_path, host="scim.example.com")
    server = misbehaving_server(lambda r: Reply(200, list_response()), tls=certificates.server_context())
    trusting = httpx.HTTPTransport(verify=certificates.client_context())

    result = check_connection(server.url + "/scim", SECRET, transport=trusting)

    assert "mismatch" in result.message
    assert result.fix.startswith("The target's certificate is not issued for 127.0.0.1.")


def test_a_trusted_certificate_succeeds(misbehaving_server, tmp_path):
    certificates = make_certificates(tmp_path)
    server = misbehaving_server(lambda r: Reply(200, list_response()), tls=certificates.server_context())
    result = check_connection(server.url, SECRET, transport=httpx.HTTPTransport(verify=certificates.client_context()))
    assert result.ok


def test_https_to_a_plain_http_port_says_to_use_http(misbehaving_server):
    server = misbehaving_server(lambda r: Reply(200, list_response()))
    result = check_connection(server.url.replace("http://", "https://"), SECRET)
    assert result.code == "TlsHandshakeFailure"
    assert result.fix.startswith("The server on this port does not use TLS. Use http://")


# ---------------------------------------------------------------- the secret stays secret


def test_the_token_never_appears_in_results_or_logs(misbehaving_server, caplog):
    caplog.set_level(logging.DEBUG)

    def echo(request):
        return Reply(401, scim_error(401, f"got {request.headers['authorization']}"),
                     headers={"WWW-Authenticate": 'Bearer realm="x"'})

    def echo_html(request):
        return Reply(200, f"<html><body>Hello {request.headers['authorization']}</body></html>", content_type="text/html")

    def echo_redirect(request):
        return Reply(302, "", headers={"Location": f"/login?token={SECRET}"})

    results = [check_connection(misbehaving_server(respond).url, SECRET) for respond in (echo, echo_html, echo_redirect)]
    results.append(check_connection(f"https://127.0.0.1:{free_port()}/?t={SECRET}", SECRET))
    results.append(check_connection(f"http://127.0.0.1:{free_port()}/", SECRET))

    assert [r.ok for r in results] == [False] * 5
    assert "[redacted]" in dict(results[0].details)["Response"]
    for result in results:
        assert_no_secret(result)
    assert SECRET not in caplog.text
