"""The outbound rule: no SCIM request reaches link-local or cloud-metadata addresses unless the operator allows it.

No test here sends a packet anywhere but 127.0.0.1: a tripwire on socket.create_connection records every
connection attempt to another address and refuses it before any packet leaves, so "nothing was sent" is
proved by address, and "ALLOW lets it through" by the attempt the tripwire saw.
"""

import ipaddress
import socket
import threading

import pytest

from provisioning.scim import ScimClient, ScimConnectionError
from provisioning.scim.connection import check_connection
from provisioning.scim.errors import BROKEN, error_kind
from provisioning.scim.outbound import OutboundRefused, SettingProblem, parse_entries, policy, url_refusal
from tests.scim.misbehaving import Reply, list_response

METADATA_URL = "http://169.254.169.254/latest/meta-data/"


@pytest.fixture(autouse=True)
def default_rule(settings):
    settings.PORTAL_OUTBOUND_DENY = ""
    settings.PORTAL_OUTBOUND_ALLOW = ""
    return settings


@pytest.fixture
def tripwire(monkeypatch):
    """Every attempted connection to a non-loopback address, refused before it is made."""
    attempts = []
    original = socket.create_connection

    def guarded(address, *args, **kwargs):
        host = address[0]
        if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            attempts.append(address)
            raise ConnectionRefusedError(f"tripwire: no connection to {host} from the tests")
        return original(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    return attempts


@pytest.fixture
def resolves_to(monkeypatch):
    """Make a test host name resolve to chosen addresses (no DNS query leaves the machine)."""
    names = {}
    original = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in names:
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in names[host]]
        return original(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.mark.parametrize("address", [
    "169.254.169.254", "169.254.0.1", "fe80::1", "fd00:ec2::254", "::ffff:169.254.169.254", "100.100.100.200", "168.63.129.16",
])
def test_link_local_and_metadata_addresses_are_refused_by_default(address):
    with pytest.raises(OutboundRefused) as caught:
        policy().check("target", [address])
    assert "PORTAL_OUTBOUND_ALLOW" in str(caught.value) and "nothing was sent (no connection was opened)" in str(caught.value)


@pytest.mark.parametrize("host", ["metadata.google.internal", "METADATA.google.internal.", "metadata.goog", "instance-data"])
def test_metadata_host_names_are_refused_before_any_lookup(host):
    with pytest.raises(OutboundRefused, match="metadata service"):
        policy().check_name(host)


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.1.10", "203.0.113.7", "2001:db8::1"])
def test_other_addresses_and_loopback_are_allowed_by_default(address):
    policy().check("target", [address])


def test_deny_refuses_more_and_names_the_setting(default_rule):
    default_rule.PORTAL_OUTBOUND_DENY = "127.0.0.0/8, ::1/128, 10.0.0.0/8, internal.example"
    for address in ("127.0.0.1", "::1", "10.9.9.9"):
        with pytest.raises(OutboundRefused) as caught:
            policy().check("target", [address])
        assert "PORTAL_OUTBOUND_DENY" in str(caught.value) and address in str(caught.value)
    with pytest.raises(OutboundRefused, match="PORTAL_OUTBOUND_DENY"):
        policy().check_name("internal.example")


def test_allow_overrides_the_defaults_and_the_most_specific_entry_wins(default_rule):
    default_rule.PORTAL_OUTBOUND_ALLOW = "169.254.169.254/32, 10.1.2.3/32, metadata.google.internal"
    default_rule.PORTAL_OUTBOUND_DENY = "10.0.0.0/8"
    policy().check("target", ["169.254.169.254", "10.1.2.3"])
    assert policy().check_name("metadata.google.internal") is True
    with pytest.raises(OutboundRefused):
        policy().check("target", ["169.254.1.1"])  # only the one address was allowed
    with pytest.raises(OutboundRefused, match="PORTAL_OUTBOUND_DENY"):
        policy().check("target", ["10.1.2.4"])


def test_an_operator_allow_of_the_same_range_beats_the_default():
    from provisioning.scim import outbound

    outbound._policy("", "169.254.0.0/16").check("target", ["169.254.169.254"])


def test_a_setting_entry_that_is_neither_cidr_nor_name_is_refused_with_its_name():
    with pytest.raises(SettingProblem, match="PORTAL_OUTBOUND_DENY: 'http://x/' is neither a CIDR"):
        parse_entries("10.0.0.0/8, http://x/", "PORTAL_OUTBOUND_DENY")


def test_a_broken_setting_refuses_with_its_name_instead_of_crashing(default_rule, misbehaving_server):
    default_rule.PORTAL_OUTBOUND_DENY = "10.0.0.0/33"
    assert "PORTAL_OUTBOUND_DENY: '10.0.0.0/33' is neither a CIDR" in url_refusal("http://127.0.0.1:9/scim/v2")
    server = misbehaving_server(lambda request: Reply(200, list_response()))
    with pytest.raises(ScimConnectionError) as caught:
        ScimClient(server.url, "t")
    assert caught.value.reason == "blocked" and "PORTAL_OUTBOUND_DENY" in str(caught.value)
    result = check_connection(server.url, "t")
    assert result.code == "OutboundAddressBlocked" and "PORTAL_OUTBOUND_DENY" in result.message
    assert server.requests == []


def test_save_refuses_a_literal_metadata_address_before_any_lookup():
    refusal = url_refusal(METADATA_URL)
    assert refusal.startswith("The Tenant URL is refused: 169.254.169.254 is a link-local address")
    assert "PORTAL_OUTBOUND_ALLOW=169.254.169.254/32" in refusal
    assert url_refusal("https://metadata.google.internal/computeMetadata/v1") is not None
    assert url_refusal("http://127.0.0.1:8081/scim/v2") is None


def test_test_connection_to_the_metadata_address_sends_nothing_and_says_why(tripwire):
    result = check_connection(METADATA_URL, "secret-token-123")
    assert (result.ok, result.code) == (False, "OutboundAddressBlocked")
    assert "169.254.169.254" in result.message and "PORTAL_OUTBOUND_ALLOW" in result.message
    assert "nothing was sent" in result.message and "PORTAL_OUTBOUND_ALLOW" in result.fix
    assert tripwire == []


def test_a_name_that_resolves_to_a_metadata_address_is_refused_at_connect(tripwire, resolves_to):
    # Save cannot know where a name points; the connect step checks the resolved address.
    resolves_to["imds.test"] = ["169.254.169.254"]
    assert url_refusal("http://imds.test/scim/v2") is None
    result = check_connection("http://imds.test/scim/v2", "secret-token-123")
    assert (result.ok, result.code) == (False, "OutboundAddressBlocked")
    assert "imds.test (169.254.169.254)" in result.message and "PORTAL_OUTBOUND_ALLOW" in result.message
    assert tripwire == []


def test_a_name_with_one_good_and_one_refused_address_is_refused(tripwire, resolves_to):
    resolves_to["mixed.test"] = ["127.0.0.1", "169.254.169.254"]
    with ScimClient("http://mixed.test:9/scim/v2", "t") as client, pytest.raises(ScimConnectionError) as caught:
        client.send("GET", "/Users")
    assert caught.value.reason == "blocked" and caught.value.code == "OutboundAddressBlocked"
    assert error_kind(caught.value) == BROKEN  # not retried as a passing fault
    assert tripwire == []


def test_allow_lets_the_metadata_address_through(default_rule, tripwire):
    default_rule.PORTAL_OUTBOUND_ALLOW = "169.254.169.254/32"
    result = check_connection(METADATA_URL, "secret-token-123")
    # The rule let the connection go ahead; the tripwire stopped it before a packet left.
    assert tripwire and tripwire[0][:2] == ("169.254.169.254", 80)
    assert result.code != "OutboundAddressBlocked"


def test_denied_loopback_never_reaches_a_listener(default_rule):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        accepted = []

        def accept():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass

        default_rule.PORTAL_OUTBOUND_DENY = "127.0.0.0/8"
        thread = threading.Thread(target=accept)
        thread.start()
        result = check_connection(f"http://127.0.0.1:{port}/scim/v2", "secret-token-123")
        thread.join()
        for connection in accepted:
            connection.close()
    assert (result.ok, result.code) == (False, "OutboundAddressBlocked") and "PORTAL_OUTBOUND_DENY" in result.message
    assert accepted == []


def test_every_new_connection_is_checked_not_only_the_first(default_rule, misbehaving_server):
    server = misbehaving_server(lambda request: Reply(200, list_response()))
    with ScimClient(server.url, "t") as client:
        assert client.send("GET", "/Users").status_code == 200
        default_rule.PORTAL_OUTBOUND_DENY = "127.0.0.0/8"
        client.close()  # drop the pooled connection: the next request opens a new one
    with ScimClient(server.url.replace("127.0.0.1", "localhost"), "t") as client, pytest.raises(ScimConnectionError) as caught:
        client.send("GET", "/Users")
    assert caught.value.reason == "blocked"
    assert len(server.requests) == 1


def test_a_redirect_to_the_metadata_address_is_not_followed(misbehaving_server, tripwire):
    server = misbehaving_server(lambda request: Reply(302, "", headers={"Location": METADATA_URL}))
    result = check_connection(server.url, "secret-token-123")
    assert not result.ok and "SCIM requests do not follow redirects" in result.message
    assert len(server.requests) == 1 and tripwire == []
