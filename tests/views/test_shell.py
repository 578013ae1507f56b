"""The portal shell: sign in/out, the top bar, the blade menu per role, and the error pages."""

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


def test_it_redirects_anonymous_visitors_to_sign_in(client):
    response = client.get(reverse("apps:list"))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/")


def test_it_shows_the_sign_in_card(client):
    response = client.get("/login/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Sign in" in body
    assert 'name="username"' in body and 'name="password"' in body
    assert "Sign out" not in body


def test_it_explains_a_wrong_password(client):
    factories.UserFactory(username="alice")
    response = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "correct username and password" in body
    assert "Check your user name and password" in body


def test_it_signs_in_and_lands_on_enterprise_applications(client):
    factories.AdministratorFactory(username="alice")
    response = client.post("/login/", {"username": "alice", "password": "correct horse battery staple"})
    assert response.status_code == 302
    assert response["Location"] == reverse("apps:list")


def test_it_signs_out_with_a_post(admin_client):
    response = admin_client.post("/logout/")
    assert response.status_code == 302
    assert admin_client.get(reverse("apps:list")).status_code == 302


def test_the_top_bar_shows_the_user_role_and_directory_link_for_administrators(admin_client, admin_user):
    body = admin_client.get(reverse("apps:list")).content.decode()
    assert "Provisioning Portal" in body
    assert admin_user.username in body
    assert "Administrator" in body
    assert f'href="{reverse("apps:directory_users")}"' in body and f'href="{reverse("apps:directory_groups")}"' in body
    assert 'hx-headers=\'{"X-CSRFToken": "' in body
    assert "js/htmx.min.js" in body and "css/portal.css" in body


def test_the_top_bar_links_the_read_only_directory_for_helpdesk(helpdesk_client):
    body = helpdesk_client.get(reverse("apps:list")).content.decode()
    assert "Helpdesk" in body
    assert f'href="{reverse("apps:directory_users")}"' in body
    assert "/admin/" not in body


def _render_blade(user, tab="overview"):
    request = RequestFactory().get("/")
    request.user = user
    app = factories.ApplicationFactory(name="Contoso HR")
    return render_to_string("apps/blade.html", {"app": app, "blade_tab": tab}, request=request), app


def test_the_blade_menu_for_administrators_has_every_page_routed_so_far(admin_user):
    body, app = _render_blade(admin_user, tab="provisioning")
    assert "Enterprise applications" in body and "Contoso HR" in body
    assert f'href="{reverse("apps:provisioning", args=[app.id])}" class="active"' in body
    assert reverse("apps:users_groups", args=[app.id]) in body


def test_the_blade_menu_for_helpdesk_hides_administrator_pages(helpdesk_user):
    body, app = _render_blade(helpdesk_user)
    assert reverse("apps:provisioning", args=[app.id]) not in body
    assert reverse("apps:users_groups", args=[app.id]) not in body
    assert "Users and groups" not in body


def test_the_403_page_names_the_role_needed(helpdesk_client):
    app = factories.ApplicationFactory()
    response = helpdesk_client.get(reverse("apps:provisioning", args=[app.id]))
    assert response.status_code == 403
    body = response.content.decode()
    assert "Only Administrators can do this." in body
    assert "needs the <strong>Administrators</strong> role" in body
    assert "Helpdesk" in body


def test_the_403_page_for_an_account_without_a_role(db):
    client = Client()
    client.force_login(factories.UserFactory())
    response = client.get(reverse("apps:list"))
    assert response.status_code == 403
    body = response.content.decode()
    assert "no portal role" in body
    assert "Helpdesk" in body


def test_the_404_page_keeps_the_shell(admin_client):
    response = admin_client.get("/apps/999999/provisioning/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "This page doesn't exist" in body
    assert "Provisioning Portal" in body


def test_the_500_page_renders_without_a_request_context():
    body = render_to_string("500.html")
    assert "Something went wrong" in body
    assert "css/portal.css" in body
