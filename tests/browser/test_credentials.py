"""The Provisioning page's authentication methods in real Chromium: each method shows its own fields, Test
Connection sends what is typed and shows the token endpoint's refusal, Save's refusal names the field.

Saves screenshots under test-artifacts/screenshots/ (look at them)."""

import pytest

from tests import factories
from tests.auth_servers import TokenServer
from tests.browser.test_admin_path import open_page, shot  # noqa: F401  (open_page is a fixture)
from tests.browser.test_compliance_checklist import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_each_method_shows_its_fields_and_its_own_messages(live_server, open_page):
    app = factories.ApplicationFactory(name="Contoso SCIM", tenant_url="http://127.0.0.1:9/scim/v2", secret_token="t0ken")
    server = TokenServer()
    try:
        page = open_page()
        sign_in(page, live_server)
        page.goto(f"{live_server.url}/apps/{app.pk}/provisioning/")
        assert page.locator("#id_secret_token").is_visible() and not page.locator("#id_token_audience").is_visible()

        page.get_by_label("Token issued by this portal (signed JWT)").check()
        assert page.locator("#id_token_audience").is_visible() and not page.locator("#id_secret_token").is_visible()
        assert page.get_by_text("/.well-known/jwks.json").first.is_visible()
        shot(page, "21-credentials-portal-jwt")
        page.get_by_role("button", name="Save").first.click()
        page.get_by_text("Audience is required when the portal issues the token").first.wait_for()
        shot(page, "22-credentials-audience-required")

        page.get_by_label("OAuth 2.0 client credentials grant").check()
        page.fill("#id_oauth_token_url", server.token_url)
        page.fill("#id_oauth_client_id", "portal")
        page.fill("#id_oauth_client_secret", "not-the-secret")
        page.fill("#id_oauth_scope", "scim")
        page.get_by_role("button", name="Test Connection", exact=True).click()
        page.get_by_text("The token endpoint refused to issue a token (HTTP 401): invalid_client").wait_for()
        shot(page, "23-credentials-oauth-refused")
        assert "not-the-secret" not in page.locator("#test-result").inner_text()
        assert server.requests and server.requests[0]["form"]["scope"] == "scim"
    finally:
        server.stop()
