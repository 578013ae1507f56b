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
