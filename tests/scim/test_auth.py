"""The three ways to authenticate (scim/auth.py, engine/credentials.py): the portal's JWT checked against the
keys its JWKS endpoint publishes, OAuth client credentials against a real token endpoint on 127.0.0.1 (cached,
shared, fetched again once after a 401, refused clients in words), and a cycle through a checking proxy in
front of the real scim2-server for each method."""

import time

import jwt
import pytest
from django.test import Client

from provisioning.engine.credentials import DatabaseTokenCache, authenticator, client_options, signing_key
from provisioning.engine.cycle import run_cycle, start_provisioning
from provisioning.models import AccessToken, Application, ProvisioningLog, SigningKey
from provisioning.scim import ScimClient
from provisioning.scim.auth import ClientCredentials, ClientCredentialsConfig, PortalJwt, TokenEndpointError
from provisioning.scim.auth import SigningKey as Key
from provisioning.scim.connection import check_connection
from provisioning.scim.errors import ScimAuthError
from tests import factories
from tests.auth_servers import CheckingProxy, TokenServer, jwt_checker, oauth_checker
from tests.servers import free_port

pytestmark = pytest.mark.django_db
Method = Application.AuthenticationMethod
AUDIENCE = "https://scim.example.com"


@pytest.fixture
def token_server():
    server = TokenServer()
    yield server
    server.stop()


@pytest.fixture
def proxies():
    started = []

    def start(upstream, check):
        proxy = CheckingProxy(upstream.port, upstream.token, check)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


def published_jwks():
    response = Client().get("/.well-known/jwks.json")  # anonymous, as a target fetches it
    assert response.status_code == 200
    return response.json()


def jwt_app(**kwargs):
    return factories.ApplicationFactory(authentication_method=Method.PORTAL_JWT, token_audience=AUDIENCE, secret_token="",
                                        **kwargs)


def oauth_app(token_server, **kwargs):
    app = factories.ApplicationFactory(authentication_method=Method.OAUTH, oauth_token_url=token_server.token_url,
                                       oauth_client_id=token_server.client_id, oauth_scope="scim", secret_token="", **kwargs)
    app.set_oauth_client_secret(token_server.client_secret)
    app.save()
    return app


def config(token_server, **changes):
    values = {"token_url": token_server.token_url, "client_id": token_server.client_id,
              "client_secret": token_server.client_secret, "scope": "scim", **changes}
    return ClientCredentialsConfig(**values)


# ---------------------------------------------------------------------------------------------- portal JWT


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_the_portal_token_carries_the_claims_and_validates_with_the_published_keys(settings, algorithm):
    settings.PORTAL_TOKEN_ALGORITHM = algorithm
    settings.PORTAL_BASE_URL = "https://portal.contoso.example"
    settings.PORTAL_TOKEN_ISSUER = "https://portal.contoso.example"
    app = jwt_app()

    header = authenticator(app).authorization()

    token = header.removeprefix("Bearer ")
    jwks = published_jwks()
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(jwt.PyJWK(k) for k in jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(token, key.key, algorithms=[algorithm], audience=AUDIENCE, issuer="https://portal.contoso.example")
    assert jwt.get_unverified_header(token)["alg"] == algorithm
    assert claims["sub"] == app.job_id
    assert claims["exp"] - claims["iat"] == 3600
    assert abs(claims["iat"] - time.time()) < 5
    # Signed by another key, or for another audience, it does not validate.
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, key.key, algorithms=[algorithm], audience="https://other.example")


def test_the_signing_key_is_made_once_and_stored_encrypted():
    first, second = signing_key(), signing_key()
    assert first.pk == second.pk and SigningKey.objects.count() == 1
    assert "PRIVATE KEY" not in first.private_key_encrypted
    assert first.private_pem().startswith("-----BEGIN PRIVATE KEY-----")
    assert "d" not in first.public_jwk  # only the public half is published
    assert published_jwks() == {"keys": [first.public_jwk]}


def test_the_discovery_document_names_the_issuer_and_the_keys(settings):
    settings.PORTAL_BASE_URL = "https://portal.contoso.example"
    settings.PORTAL_TOKEN_ISSUER = "https://portal.contoso.example"
    document = Client().get("/.well-known/openid-configuration").json()
    assert document["issuer"] == "https://portal.contoso.example"
    assert document["jwks_uri"] == "https://portal.contoso.example/.well-known/jwks.json"


def test_the_portal_token_is_signed_again_before_it_expires():
    key = signing_key()
    now = [1_000_000.0]
    auth = PortalJwt(Key(key.kid, key.algorithm, key.private_pem()), issuer="https://p", audience="a", subject="s",
                     lifetime=3600, clock=lambda: now[0])
    first = auth.authorization()
    now[0] += 3000  # 10 minutes left: still used
    assert auth.authorization() == first
    now[0] += 400  # within the refresh margin (5 minutes before exp): a new one
    second = auth.authorization()
    assert second != first
    claims = jwt.decode(second.removeprefix("Bearer "), options={"verify_signature": False})
    assert claims["iat"] == 1_003_400 and claims["exp"] == 1_007_000


def test_test_connection_says_the_target_refused_the_audience(scim_server, scim_tenant_url, proxies):
    app = jwt_app()
    auth = authenticator(app)
    proxy = proxies(scim_server, jwt_checker(published_jwks(), issuer=auth.issuer, audience="https://expected.example"))

    result = check_connection(proxy.tenant_url(scim_tenant_url), auth=auth)

    assert not result.ok
    assert result.message.startswith("The target refused the token this portal issued (HTTP 401 Unauthorized): "
                                     '"The audience is invalid.": the audience "https://scim.example.com" is not the one it expects.')
    assert "Set Audience under Admin Credentials" in result.fix
    assert auth.issuer in result.fix and "/.well-known/jwks.json" in result.fix
    assert ("Audience (aud)", AUDIENCE) in result.details


def test_test_connection_with_the_portal_token_succeeds_where_the_target_trusts_it(scim_server, scim_tenant_url, proxies):
    app = jwt_app()
    auth = authenticator(app)
    proxy = proxies(scim_server, jwt_checker(published_jwks(), issuer=auth.issuer, audience=AUDIENCE))

    result = check_connection(proxy.tenant_url(scim_tenant_url), auth=auth)

    assert result.ok, result.message
    assert proxy.refused == 0 and all(h.startswith("Bearer ey") for h in proxy.seen)


# ---------------------------------------------------------------------------------------------- OAuth


def test_the_access_token_is_fetched_once_and_reused_until_it_expires(token_server):
    auth = ClientCredentials(config(token_server))
    first = auth.authorization()
    assert auth.authorization() == first
    assert len(token_server.requests) == 1
    request = token_server.requests[0]
    assert request["form"] == {"grant_type": "client_credentials", "scope": "scim"}
    assert request["authorization"].startswith("Basic ")  # client_secret_basic by default


def test_an_access_token_close_to_expiry_is_fetched_again(token_server):
    token_server.expires_in = 200  # less than the refresh margin: every use fetches a new one
    auth = ClientCredentials(config(token_server))
    assert auth.authorization() != auth.authorization()
    assert len(token_server.requests) == 2


def test_workers_share_one_access_token_through_the_database(token_server):
    app = oauth_app(token_server)
    first = ClientCredentials(config(token_server), DatabaseTokenCache(app.pk)).authorization()
    second = ClientCredentials(config(token_server), DatabaseTokenCache(app.pk)).authorization()
    assert first == second and len(token_server.requests) == 1
    row = AccessToken.objects.get(application=app)
    assert first.removeprefix("Bearer ") not in row.token_encrypted  # encrypted at rest
    # Another secret (or scope, or endpoint) does not reuse it.
    ClientCredentials(config(token_server, scope=""), DatabaseTokenCache(app.pk)).authorization()
    assert len(token_server.requests) == 2


def test_client_secret_post_sends_the_credentials_in_the_body(token_server):
    auth = ClientCredentials(config(token_server, client_authentication="client_secret_post"))
    auth.authorization()
    request = token_server.requests[0]
    assert request["authorization"] == ""
    assert request["form"]["client_id"] == "portal" and request["form"]["client_secret"] == token_server.client_secret


def test_a_revoked_access_token_is_fetched_again_once_on_401(scim_server, scim_tenant_url, token_server, proxies):
    proxy = proxies(scim_server, oauth_checker(token_server))
    auth = ClientCredentials(config(token_server))
    with ScimClient(proxy.tenant_url(scim_tenant_url), "", auth=auth) as client:
        assert client.query("Users", 'userName eq "nobody"') == []
        token_server.revoke_all()
        assert client.query("Users", 'userName eq "nobody"') == []

    assert len(token_server.requests) == 2
    assert proxy.refused == 1 and len(proxy.seen) == 3


def test_a_token_the_target_never_accepts_is_retried_once_and_then_a_credential_failure(scim_server, scim_tenant_url,
                                                                                          token_server, proxies):
    proxy = proxies(scim_server, lambda token: ("invalid_token", "The audience is invalid."))
    auth = ClientCredentials(config(token_server))
    with ScimClient(proxy.tenant_url(scim_tenant_url), "", auth=auth) as client:
        with pytest.raises(ScimAuthError):
            client.query("Users", 'userName eq "nobody"')
    assert len(proxy.seen) == 2 and len(token_server.requests) == 2


@pytest.mark.parametrize(("changes", "error", "said", "fix"), [
    ({"client_secret": "not-the-secret"}, "invalid_client", "Client 'portal' is unknown or its secret is wrong.",
     "paste a current Client secret under Admin Credentials"),
    ({"client_id": "nobody"}, "invalid_client", "Client 'nobody' is unknown", "check the Client ID"),
    ({"scope": "admin"}, "invalid_scope", "Scope admin is not granted to this client.", "correct Scope under Admin Credentials"),
])
def test_test_connection_says_why_the_token_endpoint_refused_the_client(scim_server, scim_tenant_url, token_server,
                                                                         changes, error, said, fix):
    before = scim_server.stats(scim_tenant_url)["requests"]
    auth = ClientCredentials(config(token_server, **changes))

    result = check_connection(scim_tenant_url, auth=auth)

    assert not result.ok and result.code == "TokenEndpointRefused"
    assert result.message.startswith("The token endpoint refused to issue a token (HTTP ")
    assert f": {error}" in result.message and said in result.message
    assert result.message.endswith("Nothing was sent to the target.")
    assert fix in result.fix
    assert ("error_description", said) in [(n, v[:len(said)]) for n, v in result.details]
    assert "not-the-secret" not in str(result)  # the secret is never shown
    assert scim_server.stats(scim_tenant_url)["requests"] == before


def test_test_connection_says_the_token_endpoint_is_unreachable(scim_tenant_url):
    auth = ClientCredentials(ClientCredentialsConfig(f"http://127.0.0.1:{free_port()}/oauth2/token", "portal", "secret"))
    result = check_connection(scim_tenant_url, auth=auth)
    assert not result.ok and result.code == "TokenEndpointUnreachable"
    assert "is unreachable: the connection was refused." in result.message
    assert "Token endpoint URL under Admin Credentials" in result.fix


def test_test_connection_says_the_target_refused_the_access_token(scim_server, scim_tenant_url, token_server, proxies):
    proxy = proxies(scim_server, lambda token: ("invalid_token", "Wrong audience."))
    result = check_connection(proxy.tenant_url(scim_tenant_url), auth=ClientCredentials(config(token_server)))
    assert not result.ok and result.code == "Unauthorized"
    assert result.message == ('The target refused the access token issued by 127.0.0.1 (HTTP 401 Unauthorized): '
                              '"Wrong audience.", also after a new one was fetched.')
    assert "Scope under Admin Credentials" in result.fix


def test_test_connection_with_client_credentials_succeeds_where_the_target_accepts_the_token(
        scim_server, scim_tenant_url, token_server, proxies):
    proxy = proxies(scim_server, oauth_checker(token_server))
    result = check_connection(proxy.tenant_url(scim_tenant_url), auth=ClientCredentials(config(token_server)))
    assert result.ok, result.message
    assert proxy.refused == 0 and len(token_server.requests) == 1


def test_the_outbound_rule_applies_to_the_token_endpoint(settings, token_server):
    auth = ClientCredentials(ClientCredentialsConfig("http://169.254.169.254/oauth2/token", "portal", "secret"))
    with pytest.raises(TokenEndpointError) as refused:
        auth.authorization()
    assert refused.value.kind == "blocked" and "169.254.169.254" in str(refused.value)

    # Checked after DNS resolution too: a denied range refuses the connection, and the endpoint hears nothing.
    settings.PORTAL_OUTBOUND_DENY = "127.0.0.0/8"
    auth = ClientCredentials(config(token_server, token_url=token_server.token_url.replace("127.0.0.1", "localhost")))
    with pytest.raises(TokenEndpointError) as refused:
        auth.authorization()
    assert refused.value.kind == "blocked" and "PORTAL_OUTBOUND_DENY" in str(refused.value)
    assert token_server.requests == []


# ---------------------------------------------------------------------------------------------- end to end


def bearer_check(expected):
    return lambda token: None if token == expected else ("invalid_token", "Unknown token.")


@pytest.mark.parametrize("method", [Method.BEARER, Method.PORTAL_JWT, Method.OAUTH])
def test_a_cycle_authenticates_with_each_method(scim_server, scim_tenant_url, token_server, proxies, method):
    if method == Method.BEARER:
        app = factories.ApplicationFactory(secret_token="long-lived-portal-token")
        check = bearer_check("long-lived-portal-token")
    elif method == Method.PORTAL_JWT:
        app = jwt_app()
        check = jwt_checker(published_jwks(), issuer=authenticator(app).issuer, audience=AUDIENCE)
    else:
        app = oauth_app(token_server)
        check = oauth_checker(token_server)
    proxy = proxies(scim_server, check)
    app.tenant_url = proxy.tenant_url(scim_tenant_url)
    app.use_bulk = False
    app.save()
    users = factories.DirectoryUserFactory.create_batch(4)
    for user in users:
        factories.AssignmentFactory(application=app, user=user)

    cycle = run_cycle(start_provisioning(app))

    assert cycle.state == "completed", cycle.error
    assert ProvisioningLog.objects.filter(cycle=cycle, action="create", status="success").count() == 4
    assert proxy.refused == 0 and len(proxy.seen) >= 5
    if method == Method.OAUTH:
        # One token for the whole cycle, shared by its chunks through the database.
        assert len(token_server.requests) == 1
        assert len(set(proxy.seen)) == 1
    options = client_options(app)
    assert (options["auth"] is None) == (method == Method.BEARER)


def test_a_signing_key_the_encryption_key_no_longer_opens_is_retired_and_replaced(settings):
    old = signing_key()
    settings.PORTAL_ENCRYPTION_KEY = "another-key"
    app = jwt_app()

    header = authenticator(app).authorization()

    new = SigningKey.objects.get(retired_at=None)
    assert new.kid != old.kid
    assert jwt.get_unverified_header(header.removeprefix("Bearer "))["kid"] == new.kid
    # The old key stays published for a token lifetime, so tokens signed with it still validate.
    assert {k["kid"] for k in published_jwks()["keys"]} == {old.kid, new.kid}
