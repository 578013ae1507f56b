"""Enterprise applications: the list for both roles, and + New application for Administrators."""

import pytest
from django.urls import reverse

from provisioning.models import Application, ProvisioningCycle
from tests import factories

pytestmark = pytest.mark.django_db


def test_it_lists_apps_with_mode_status_job_status_and_last_cycle(admin_client):
    app = factories.ApplicationFactory(name="Contoso HR", provisioning_enabled=True, job_status=Application.JobStatus.ACTIVE)
    factories.ProvisioningCycleFactory(application=app, kind=ProvisioningCycle.Kind.INCREMENTAL, state=ProvisioningCycle.State.COMPLETED)
    factories.ApplicationFactory(name="Fabrikam Wiki", provisioning_mode=Application.Mode.MANUAL)
    response = admin_client.get(reverse("apps:list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Contoso HR" in body and "Fabrikam Wiki" in body
    assert "Incremental cycle · completed" in body
    assert "Never run" in body
    assert "Manual" in body and "Automatic" in body
    assert '<span class="pill pill-success">On</span>' in body
    assert "Active" in body
    assert "2 applications" in body


def test_it_filters_the_list_by_name(admin_client):
    factories.ApplicationFactory(name="Contoso HR")
    factories.ApplicationFactory(name="Fabrikam Wiki")
    body = admin_client.get(reverse("apps:list"), {"q": "wiki"}).content.decode()
    assert "Fabrikam Wiki" in body and "Contoso HR" not in body


def test_it_explains_an_empty_list(admin_client):
    body = admin_client.get(reverse("apps:list")).content.decode()
    assert "No applications yet" in body


def test_helpdesk_sees_the_list_without_new_application(helpdesk_client):
    factories.ApplicationFactory(name="Contoso HR")
    response = helpdesk_client.get(reverse("apps:list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Contoso HR" in body
    assert reverse("apps:create") not in body


def test_administrators_see_new_application(admin_client):
    assert reverse("apps:create") in admin_client.get(reverse("apps:list")).content.decode()


def test_helpdesk_cannot_open_or_post_new_application(helpdesk_client):
    assert helpdesk_client.get(reverse("apps:create")).status_code == 403
    assert helpdesk_client.post(reverse("apps:create"), {"name": "Sneaky"}).status_code == 403
    assert not Application.objects.filter(name="Sneaky").exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("apps:create"))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_it_shows_the_new_application_form(admin_client):
    response = admin_client.get(reverse("apps:create"))
    assert response.status_code == 200
    assert "What's the name of your app?" in response.content.decode()


def test_it_creates_an_app_with_the_default_mappings(admin_client):
    response = admin_client.post(reverse("apps:create"), {"name": "  Contoso HR  "})
    app = Application.objects.get(name="Contoso HR")
    assert response.status_code == 302
    assert response["Location"] == reverse("apps:provisioning", args=[app.id])
    assert app.provisioning_mode == Application.Mode.MANUAL
    assert sorted(app.object_mappings.values_list("object_type", flat=True)) == ["group", "user"]
    assert app.object_mappings.get(object_type="user").attribute_mappings.count() > 0


def test_it_refuses_a_duplicate_name_clearly(admin_client):
    factories.ApplicationFactory(name="Contoso HR")
    response = admin_client.post(reverse("apps:create"), {"name": "contoso hr"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "An application named “contoso hr” already exists. Choose another name" in body
    assert Application.objects.count() == 1


def test_it_requires_a_name(admin_client):
    response = admin_client.post(reverse("apps:create"), {"name": "   "})
    assert response.status_code == 200
    assert "Name is required: enter a name for the application." in response.content.decode()


def test_it_refuses_a_name_that_is_too_long(admin_client):
    response = admin_client.post(reverse("apps:create"), {"name": "x" * 129})
    assert "Name is too long: use at most 128 characters (it has 129)." in response.content.decode()
