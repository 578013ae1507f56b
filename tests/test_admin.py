"""The directory in the Django admin: Administrators browse and edit it, Helpdesk cannot."""

import pytest

from provisioning.models import DirectoryUser
from tests import factories

pytestmark = pytest.mark.django_db


def test_administrators_browse_and_create_directory_users(admin_client):
    factories.DirectoryUserFactory(display_name="Zoë Müller")
    response = admin_client.get("/admin/provisioning/directoryuser/")
    assert response.status_code == 200 and "Zoë Müller" in response.content.decode()

    response = admin_client.post("/admin/provisioning/directoryuser/add/", {
        "user_principal_name": "new.person@contoso.example", "display_name": "New Person", "account_enabled": "on",
        "extension_attributes": "{}",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    assert DirectoryUser.objects.filter(user_principal_name="new.person@contoso.example").exists()


def test_administrators_edit_groups(admin_client):
    group = factories.DirectoryGroupFactory()
    assert admin_client.get(f"/admin/provisioning/directorygroup/{group.pk}/change/").status_code == 200


def test_helpdesk_cannot_reach_the_directory_admin(helpdesk_client):
    response = helpdesk_client.get("/admin/provisioning/directoryuser/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
