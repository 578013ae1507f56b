"""The API tokens page: Administrators create (shown once) and revoke tokens; Helpdesk cannot see it."""

import pytest

from provisioning.models import ApiToken
from tests import factories

pytestmark = pytest.mark.django_db


def test_create_shows_the_token_once_and_it_works(admin_client, admin_user):
    response = admin_client.post("/api-tokens/", {"name": "Nightly HR sync", "role": "admin", "expires_in_days": "30"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    text = response.context["created"]["text"]
    assert text in response.content.decode() and "it is shown only once" in response.content.decode()
    token = ApiToken.objects.get()
    assert (token.name, token.role, token.created_by) == ("Nightly HR sync", "admin", admin_user)

    again = admin_client.get("/api-tokens/")
    assert text not in again.content.decode()
    assert f"ppt_{token.prefix}_…" in again.content.decode()

    from tests.api.conftest import ApiClient

    assert ApiClient(text).get("servicePrincipals").status_code == 200


def test_a_form_without_name_is_a_400_that_says_so(admin_client):
    response = admin_client.post("/api-tokens/", {"name": "", "role": "admin", "expires_in_days": "30"})
    assert response.status_code == 400
    assert "Enter a name for the token" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoke(admin_client, admin_user):
    token = factories.ApiTokenFactory(name="leaked")
    response = admin_client.post(f"/api-tokens/{token.pk}/revoke/", follow=True)
    assert "The token &#x27;leaked&#x27; is revoked" in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at and token.revoked_by == admin_user.username

    from tests.api.conftest import ApiClient

    assert ApiClient(token.text).get("servicePrincipals").status_code == 401


def test_the_page_lists_recent_calls(admin_client):
    factories.ApiCallFactory(token_name="report script", path="/api/v1/auditLogs/provisioning", status_code=429)
    html = admin_client.get("/api-tokens/").content.decode()
    assert "report script" in html and "/api/v1/auditLogs/provisioning" in html


def test_helpdesk_cannot_see_or_create_tokens(helpdesk_client):
    assert helpdesk_client.get("/api-tokens/").status_code == 403
    assert helpdesk_client.post("/api-tokens/", {"name": "x", "role": "admin", "expires_in_days": "30"}).status_code == 403
    assert not ApiToken.objects.exists()
