"""A per-app CA certificate (scim/tls.py): checked at Save, trusted for that app's requests, and TLS failures
that name the target's certificate, against a real TLS server on 127.0.0.1 with a CA made in the test."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provisioning.engine.credentials import client_options
from provisioning.scim import ScimClient, tls
from provisioning.scim.connection import check_connection
from tests import factories
from tests.scim.misbehaving import Reply, list_response, make_certificates, misbehaving_server  # noqa: F401

SECRET = "tls-test-token"


def tls_server(misbehaving_server, certificates):
    return misbehaving_server(lambda r: Reply(200, list_response()), tls=certificates.server_context())


def test_the_app_s_ca_certificate_is_the_trust_anchor(misbehaving_server, tmp_path):
    certificates = make_certificates(tmp_path)
    server = tls_server(misbehaving_server, certificates)

    result = check_connection(server.url + "/scim", SECRET, ca_certificate=certificates.ca_file.read_text())

    assert result.ok, result.message


def test_without_it_the_failure_names_the_certificate_and_says_to_paste_the_ca(misbehaving_server, tmp_path):
    certificates = make_certificates(tmp_path)
    server = tls_server(misbehaving_server, certificates)

    result = check_connection(server.url + "/scim", SECRET)

    assert not result.ok and result.code == "TlsHandshakeFailure"
    assert "certificate not trusted: unable to get local issuer certificate" in result.message
    assert "The target presented subject CN=127.0.0.1, issued by CN=Test CA, valid until" in result.message
    assert "paste that CA's certificate (CN=Test CA, PEM) under Admin Credentials > CA certificate" in result.fix
    assert ("Certificate issuer", "CN=Test CA") in result.details


def test_a_ca_that_did_not_issue_the_certificate_is_named(misbehaving_server, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    certificates = make_certificates(tmp_path / "a")
    other = make_certificates(tmp_path / "b")
    server = tls_server(misbehaving_server, certificates)

    result = check_connection(server.url + "/scim", SECRET, ca_certificate=other.ca_file.read_text())

    assert not result.ok
    assert "The CA certificate saved for this app is subject CN=Test CA" in result.message
    assert "the saved CA certificate did not issue it" in result.fix


def test_an_expired_certificate_says_when_it_expired(misbehaving_server, tmp_path):
    certificates = make_certificates(tmp_path, expired=True)
    server = tls_server(misbehaving_server, certificates)

    result = check_connection(server.url + "/scim", SECRET, ca_certificate=certificates.ca_file.read_text())

    assert "certificate has expired" in result.message and "subject CN=127.0.0.1, issued by CN=Test CA" in result.message
    expired_on = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)).strftime("%Y-%m-%d")
    assert result.fix.startswith(f"The target's certificate has expired on {expired_on}")


def test_a_certificate_for_another_host_names_the_hosts_it_is_for(misbehaving_server, tmp_path):
    certificates = make_certificates(tmp_path, host="scim.example.com")
    server = tls_server(misbehaving_server, certificates)

    result = check_connection(server.url + "/scim", SECRET, ca_certificate=certificates.ca_file.read_text())

    assert "IP address mismatch" in result.message and ".." not in result.message
    assert result.fix.startswith("The target's certificate is not issued for 127.0.0.1. It is issued for scim.example.com.")


def test_the_engine_uses_the_saved_ca_certificate(db, misbehaving_server, tmp_path):
    certificates = make_certificates(tmp_path)
    server = tls_server(misbehaving_server, certificates)
    app = factories.ApplicationFactory(tenant_url=server.url + "/scim", secret_token=SECRET,
                                       ca_certificate=certificates.ca_file.read_text(), default_mappings=False)

    with ScimClient(app.tenant_url, timeout=5, **client_options(app)) as client:
        assert client.query("Users", 'userName eq "x"') == []


# ---------------------------------------------------------------------------------------------- Save's check


def _ca(tmp_path, *, days):
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Old CA")])
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(now - datetime.timedelta(days=400))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key


def test_a_valid_ca_certificate_is_described(tmp_path):
    certificates = make_certificates(tmp_path)
    pem = certificates.ca_file.read_text()
    assert tls.ca_problem(pem) is None
    [details] = tls.describe(pem)
    assert details.subject == details.issuer == "CN=Test CA" and details.is_ca


@pytest.mark.parametrize(("text", "says"), [
    ("not a certificate", "it is not a PEM certificate"),
    ("MIIBszCCAVmgAwIBAgIU", "base64 without the PEM lines"),
    ("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----", "cannot be read"),
    ("x" * 70_000, "characters long"),
])
def test_save_refuses_what_is_not_a_pem_certificate_with_the_reason(text, says):
    problem = tls.ca_problem(text)
    assert problem.startswith("CA certificate is not usable: ") and says in problem


def test_save_refuses_a_private_key(tmp_path):
    certificates = make_certificates(tmp_path)
    problem = tls.ca_problem(certificates.key_file.read_text())
    assert "it contains a private key" in problem


def test_save_refuses_an_expired_ca(tmp_path):
    pem, _ = _ca(tmp_path, days=-3)
    assert "CA certificate CN=Old CA expired on" in tls.ca_problem(pem)


def test_the_app_s_ca_certificate_also_serves_its_token_endpoint(db, tmp_path):
    from provisioning.engine.credentials import authenticator
    from tests.auth_servers import TokenServer

    certificates = make_certificates(tmp_path)
    server = TokenServer(tls=certificates.server_context())
    try:
        app = factories.ApplicationFactory(authentication_method="oauth_client_credentials", oauth_token_url=server.token_url,
                                           oauth_client_id=server.client_id, secret_token="", default_mappings=False,
                                           ca_certificate=certificates.ca_file.read_text())
        app.set_oauth_client_secret(server.client_secret)
        assert authenticator(app, shared_cache=False).authorization().startswith("Bearer at-")
        app.ca_certificate = ""
        with pytest.raises(Exception, match="TLS handshake failed .certificate not trusted: unable to get local issuer"):
            authenticator(app, shared_cache=False).authorization()
    finally:
        server.stop()
