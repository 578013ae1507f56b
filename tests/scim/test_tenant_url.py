"""The one Tenant URL and Secret Token check that Save, Test Connection, create_app and the SCIM client share."""

import pytest

from provisioning.scim import ScimAuthError, ScimClient, ScimConnectionError
from provisioning.scim.tenant_url import tenant_url_problem, token_problem, without_userinfo


@pytest.mark.parametrize("url", [
    "https://scim.example.com/scim/v2",
    "https://scim.example.com/scim/v2/",  # a trailing slash is warned about by Test Connection, not refused
    "http://scim-target/scim/v2",  # single-label hosts: container and /etc/hosts names
    "http://scim_target:8080/v2",
    "http://127.0.0.1:8081/scim/v2",
    "http://[::1]:8081/scim/v2",
    "https://bücher.example/scim/v2",  # internationalised names are converted (xn--bcher-kva)
    "https://xn--bcher-kva.example/scim/v2",
    "https://scim.example.com:443/tenants/users-eu/scim/v2",  # "users" inside the path is fine
    "  https://scim.example.com/scim/v2\n",  # surrounding spaces are ignored (the form strips them too)
])
def test_usable_tenant_urls(url):
    assert tenant_url_problem(url) is None


@pytest.mark.parametrize("url, words", [
    ("", "is empty"),
    ("scim.example.com/scim/v2", "has no scheme: it must start with https://, for example https://scim.example.com/scim/v2"),
    ("ftp://scim.example.com/scim/v2", "must start with https:// (or http://), not ftp://"),
    ("javascript://scim.example.com/%0aalert(1)", "not javascript://"),
    ("file:///etc/passwd", "not file://"),
    ("https://admin:pw@scim.example.com/v2", "contains a user name or password (user:password@host)"),
    ("https://token@scim.example.com/v2", "contains a user name or password"),
    ("https://scim.example.com:0/v2", "port 0 is out of range: a port is a number from 1 to 65535"),
    ("https://scim.example.com:70000/v2", "port 70000 is out of range"),
    ("https://scim.example.com:http/v2", "is not a valid URL"),
    ("https:///scim/v2", "has no host name"),
    ("https://scim..example.com/v2", "is not a host name"),
    ("https://-scim.example.com/v2", "is not a host name"),
    ("https://scim.exa mple.com/v2", "contains a space"),
    ("https://scim.example.com/\nv2", "contains a line break"),
    ("https://scim.example.com/v2\x00", "contains a NUL character"),
    ("https://scim.example.com/\u202ev2", "U+202E"),
    ("https://scim.example.com/scim/v2/Users", "is the SCIM base address, without /Users: use https://scim.example.com/scim/v2."),
    ("https://scim.example.com/scim/v2/Schemas", "without /Schemas: use https://scim.example.com/scim/v2."),
    ("https://scim.example.com/scim/v2/groups/", "without /Groups: use https://scim.example.com/scim/v2."),
    ("https://scim.example.com/scim/v2/ServiceProviderConfig", "without /ServiceProviderConfig"),
    ("https://scim.example.com/scim/v2/ResourceTypes", "without /ResourceTypes"),
    ("https://scim.example.com/scim/v2?aadOptscim062020", "contains a query string"),
    ("https://scim.example.com/scim/v2#top", "contains a '#' fragment"),
    ("https://scim.example.com/" + "a" * 600, "use at most 512"),
])
def test_refused_tenant_urls_say_why(url, words):
    problem = tenant_url_problem(url)
    assert problem is not None and words in problem, problem


def test_a_password_in_the_url_is_never_repeated():
    problem = tenant_url_problem("https://admin:hunter2@scim.example.com/v2")
    assert "hunter2" not in problem and "admin" not in problem
    assert without_userinfo("https://admin:hunter2@scim.example.com/v2") == "https://scim.example.com/v2"
    assert without_userinfo("https://scim.example.com/v2") == "https://scim.example.com/v2"


@pytest.mark.parametrize("token", ["abc", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_", "s3cr3t-T0ken_value.0123456789"])
def test_usable_tokens(token):
    assert token_problem(token) is None


@pytest.mark.parametrize("token, words", [
    ("", "is empty"),
    ("   ", "only spaces or line breaks"),
    ("Bearer abc", "starts with 'Bearer '"),
    ("bearer abc", "starts with 'Bearer '"),
    (" abc", "starts with a space"),
    ("abc\n", "ends with a line break"),
    ("abc\r\n", "contains a line break at character 4"),
    ("ab c", "contains a space at character 3"),
    ("ab\tc", "contains a tab at character 3"),
    ("abc\u00a0", "ends with the invisible character U+00A0"),
    ("********", "masked placeholder"),
    ("••••••••", "masked placeholder"),
    ("****1a2b", "masked placeholder"),
    ("xxxxxxxxxxxx", "masked placeholder"),
    ("<your-token>", "is a placeholder"),
    ("tökén", "cannot be sent in an HTTP header"),
    ("abc\x00def", "cannot be sent in an HTTP header"),
    ("a" * 9000, "at most 8,192 fit in a request header"),
])
def test_refused_tokens_say_why_and_are_not_trimmed(token, words):
    problem = token_problem(token)
    assert problem is not None and words in problem, problem


def test_the_client_refuses_what_the_check_refuses_before_any_request():
    with pytest.raises(ScimConnectionError) as caught:
        ScimClient("https://admin:pw@scim.example.com/v2", "abc")
    assert caught.value.code == "InvalidTenantUrl" and "pw" not in str(caught.value)
    with pytest.raises(ScimConnectionError, match="without /Schemas"):
        ScimClient("https://scim.example.com/v2/Schemas", "abc")
    with pytest.raises(ScimAuthError, match="masked placeholder"):
        ScimClient("https://scim.example.com/v2", "********")
