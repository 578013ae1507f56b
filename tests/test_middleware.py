import pytest

pytestmark = pytest.mark.django_db


def test_a_nul_character_in_the_query_is_a_400_that_says_so(admin_client):
    response = admin_client.get("/", {"q": "Zo\x00ë"})
    assert response.status_code == 400
    assert "“q” contains a NUL character" in response.content.decode()


def test_a_nul_character_in_a_form_is_a_400(admin_client):
    response = admin_client.post("/apps/new/", {"name": "bad\x00name"})
    assert response.status_code == 400
    assert "form field “name”" in response.content.decode()


def test_ordinary_requests_pass(admin_client):
    assert admin_client.get("/", {"q": "Zoë"}).status_code == 200


def test_an_htmx_form_with_a_nul_gets_a_400_whose_message_the_page_shows(admin_client):
    # static/js/errors.js shows the [data-error-message] paragraph of a refused htmx request.
    response = admin_client.post("/apps/new/", {"name": "bad\x00name"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert '<p data-error-message>The form field “name” contains a NUL character' in response.content.decode()


def test_an_expired_csrf_token_is_a_403_that_says_what_happened_and_what_to_do(db):
    from django.test import Client

    from tests import factories

    client = Client(enforce_csrf_checks=True)
    client.force_login(factories.AdministratorFactory())
    response = client.post("/apps/new/", {"name": "Slack"}, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN="stale" * 8)
    assert response.status_code == 403
    body = response.content.decode()
    assert "<p data-error-message>The page's security token (CSRF) has expired or is missing, so nothing was saved." in body
    assert "Reload the page and try again" in body


def test_base_loads_the_one_error_handler_without_inline_script(admin_client):
    page = admin_client.get("/").content.decode()
    assert '<script src="/static/js/errors.js" defer></script>' in page
