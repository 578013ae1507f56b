"""Import in the browser: upload → dry-run preview (nothing written) → Import of the stored file."""

import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from provisioning.forms.directory import IMPORT_MAX_BYTES
from provisioning.models import DirectoryGroup, DirectoryImportUpload, DirectoryUser
from tests import factories

pytestmark = pytest.mark.django_db

PAGE = "apps:directory_import"
RUN = "apps:directory_import_run"


@pytest.fixture
def jane():
    return factories.DirectoryUserFactory(display_name="Jane Doe", user_principal_name="jane@contoso.example", department="Sales",
                                          job_title="Engineer")


@pytest.fixture
def unchanged():
    return factories.DirectoryUserFactory(display_name="Same Person", user_principal_name="same@contoso.example")


def _json_file(jane, unchanged):
    new_id = uuid.uuid4()
    document = {
        "users": [
            {"objectId": str(new_id), "userPrincipalName": "zoe@contoso.example", "displayName": "Zoë Müller"},
            {"objectId": str(jane.object_id), "userPrincipalName": "jane@contoso.example", "department": "Engineering", "jobTitle": "Lead"},
            {"objectId": str(unchanged.object_id), "userPrincipalName": unchanged.user_principal_name},
            {"objectId": str(uuid.uuid4()), "userPrincipalName": "bob@"},
        ],
        "groups": [{"displayName": "Pilot", "members": [str(jane.object_id), str(new_id)]}],
    }
    return SimpleUploadedFile("directory.json", json.dumps(document).encode(), content_type="application/json")


def _upload(client, file, **extra):
    return client.post(reverse(PAGE), {"file": file, **extra})


def test_the_preview_counts_new_changed_unchanged_and_errors_and_writes_nothing(admin_client, jane, unchanged):
    response = _upload(admin_client, _json_file(jane, unchanged))
    assert response.status_code == 200
    preview = response.context["preview"]
    users, groups = preview.sections
    assert (users.created_count, users.updated_count, users.unchanged, users.failed) == (1, 1, 1, 1)
    assert users.created == ["zoe@contoso.example"]
    assert [(c.name, c.attributes) for c in users.updated] == [("jane@contoso.example", ["department", "jobTitle"])]
    assert (groups.created_count, groups.created) == (1, ["Pilot"])
    assert [(e.row.split(" ")[0], e.column) for e in preview.errors] == [("users[3]", "userPrincipalName")]
    body = response.text
    assert "A dry run: nothing has been written yet." in body
    assert "1 new" in body and "1 changed" in body and "1 unchanged" in body and "1 with errors" in body
    assert "department, jobTitle" in body and "is not a valid UPN" in body
    assert "Import the rows without errors" in body
    # Nothing written: the preview rolled back.
    assert not DirectoryUser.objects.filter(user_principal_name="zoe@contoso.example").exists()
    assert not DirectoryGroup.objects.exists()
    jane.refresh_from_db()
    assert jane.department == "Sales"


def test_import_writes_the_stored_file_through_the_same_code_path(admin_client, jane, unchanged):
    upload = _upload(admin_client, _json_file(jane, unchanged)).context["upload"]
    response = admin_client.post(reverse(RUN), {"upload": upload.pk})
    assert response.status_code == 200
    assert "directory.json was imported." in response.text
    assert "Users: 1 created, 1 updated, 1 unchanged, 1 failed" in response.text
    assert "The rows with errors below were not imported" in response.text
    jane.refresh_from_db()
    assert (jane.department, jane.job_title) == ("Engineering", "Lead")
    pilot = DirectoryGroup.objects.get(display_name="Pilot")
    assert set(pilot.members.values_list("user_principal_name", flat=True)) == {"jane@contoso.example", "zoe@contoso.example"}
    # Imported once: the stored file is gone, so a second Import (a double click, a replayed form) does nothing.
    assert not DirectoryImportUpload.objects.exists()
    again = admin_client.post(reverse(RUN), {"upload": upload.pk})
    assert again.status_code == 409 and "upload the file again" in again.text
    assert DirectoryUser.objects.filter(user_principal_name="zoe@contoso.example").count() == 1


def test_import_uses_the_bytes_stored_at_upload_not_a_second_upload(admin_client, jane, unchanged):
    upload = _upload(admin_client, _json_file(jane, unchanged)).context["upload"]
    # The browser cannot swap the file: Import takes only the upload's id, and a stored file that changed is refused.
    other = json.dumps({"users": [{"userPrincipalName": "mallory@contoso.example"}]}).encode()
    admin_client.post(reverse(RUN), {"upload": upload.pk, "file": SimpleUploadedFile("x.json", other)})
    assert not DirectoryUser.objects.filter(user_principal_name="mallory@contoso.example").exists()

    tampered = _upload(admin_client, _json_file(jane, unchanged)).context["upload"]
    DirectoryImportUpload.objects.filter(pk=tampered.pk).update(data=other)
    response = admin_client.post(reverse(RUN), {"upload": tampered.pk})
    assert response.status_code == 409 and "does not match what was previewed" in response.text
    assert not DirectoryUser.objects.filter(user_principal_name="mallory@contoso.example").exists()


def test_only_the_uploader_can_import_it(admin_client, client, jane, unchanged):
    upload = _upload(admin_client, _json_file(jane, unchanged)).context["upload"]
    client.force_login(factories.AdministratorFactory())
    response = client.post(reverse(RUN), {"upload": upload.pk})
    assert response.status_code == 409
    assert not DirectoryUser.objects.filter(user_principal_name="zoe@contoso.example").exists()


def test_a_csv_file_is_previewed_and_imported_as_import_users_does(admin_client, jane):
    csv = ("userPrincipalName,displayName,department,accountEnabled\n"
           "jane@contoso.example,Jane Doe,Marketing,true\n"
           "new@contoso.example,New Person,Sales,true\n"
           "bad@contoso.example,Bad,Sales,perhaps\n").encode()
    response = _upload(admin_client, SimpleUploadedFile("users.csv", csv, content_type="text/csv"))
    preview = response.context["preview"]
    assert preview.format == "CSV"
    (users,) = preview.sections
    assert (users.created_count, users.updated_count, users.unchanged, users.failed) == (1, 1, 0, 1)
    assert [(c.name, c.attributes) for c in users.updated] == [("jane@contoso.example", ["department"])]
    assert [(e.row, e.column) for e in preview.errors] == [("row 4", "accountEnabled")]
    assert "perhaps" in response.text
    admin_client.post(reverse(RUN), {"upload": response.context["upload"].pk})
    jane.refresh_from_db()
    assert jane.department == "Marketing"
    assert DirectoryUser.objects.filter(user_principal_name="new@contoso.example").exists()


def test_a_broken_file_is_explained_and_offers_no_import(admin_client):
    response = _upload(admin_client, SimpleUploadedFile("d.json", b'{"users": [{"userPrincipalName": "a@b.example",}]}'))
    assert response.status_code == 200
    assert "The file cannot be imported:" in response.text and "line 1, column" in response.text
    assert 'name="upload"' not in response.text


def test_upload_errors_say_what_to_do(admin_client):
    response = admin_client.post(reverse(PAGE), {})
    assert response.status_code == 400 and "Choose a .json or .csv file to import." in response.text
    big = SimpleUploadedFile("big.json", b" " * (IMPORT_MAX_BYTES + 1))
    response = _upload(admin_client, big)
    assert response.status_code == 400 and "the browser import takes up to 10 MB" in response.text
    assert not DirectoryImportUpload.objects.exists()


def test_a_bad_upload_id_is_a_400(admin_client):
    assert admin_client.post(reverse(RUN), {"upload": "x"}).status_code == 400


def test_prune_soft_deletes_what_the_file_lacks(admin_client, jane, unchanged):
    document = {"users": [{"objectId": str(jane.object_id), "userPrincipalName": jane.user_principal_name}]}
    response = _upload(admin_client, SimpleUploadedFile("d.json", json.dumps(document).encode()), prune="on")
    (users, _groups) = response.context["preview"].sections
    assert users.pruned == ["same@contoso.example"]
    admin_client.post(reverse(RUN), {"upload": response.context["upload"].pk})
    unchanged.refresh_from_db()
    assert unchanged.deleted_at is not None


def test_helpdesk_cannot_import(helpdesk_client, jane, unchanged, admin_client):
    assert helpdesk_client.get(reverse(PAGE)).status_code == 403
    upload = _upload(admin_client, _json_file(jane, unchanged)).context["upload"]
    assert helpdesk_client.post(reverse(RUN), {"upload": upload.pk}).status_code == 403
