import stat

import pytest
from cryptography.fernet import InvalidToken
from django.core.management import CommandError, call_command

from provisioning import secrets
from provisioning.models import Application
from tests import factories


def test_round_trip_and_ciphertext_hides_the_token():
    ciphertext = secrets.encrypt("s3cret-token")
    assert "s3cret-token" not in ciphertext
    assert secrets.decrypt(ciphertext) == "s3cret-token"


def test_a_changed_key_gives_a_message_with_the_fix(settings):
    ciphertext = secrets.encrypt("s3cret-token")
    settings.PORTAL_ENCRYPTION_KEY = "another key"
    with pytest.raises(secrets.SecretUnreadable, match="Enter the Secret Token again"):
        secrets.decrypt(ciphertext)


def test_redact_replaces_every_occurrence():
    assert secrets.redact("Bearer abc; again abc", "abc") == "Bearer [redacted]; again [redacted]"
    assert secrets.redact("nothing", "") == "nothing"


@pytest.mark.django_db
def test_the_application_stores_only_ciphertext():
    app = factories.ApplicationFactory(secret_token="s3cret-token")
    app.refresh_from_db()
    assert app.secret_token_encrypted and "s3cret-token" not in app.secret_token_encrypted
    assert app.get_secret_token() == "s3cret-token"
    app.set_secret_token("")
    assert not app.has_secret_token and app.get_secret_token() == ""


# ---- The key: a file of its own, rotation ---------------------------------------------------------------


@pytest.fixture
def key_file(settings, tmp_path):
    settings.PORTAL_ENCRYPTION_KEY = ""
    settings.PORTAL_ENCRYPTION_KEY_FILE = tmp_path / "encryption_key"
    secrets.write_key_file(settings.PORTAL_ENCRYPTION_KEY_FILE)
    return settings.PORTAL_ENCRYPTION_KEY_FILE


def test_make_runs_key_is_a_file_only_its_owner_reads_apart_from_the_database():
    from django.conf import settings

    path = settings.PORTAL_ENCRYPTION_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.parent == settings.VAR_DIR and path.read_text().strip()
    assert str(path) != settings.DATABASES["default"]["NAME"]


def test_the_key_file_encrypts_and_changing_secret_key_does_not_lose_tokens(key_file, settings):
    ciphertext = secrets.encrypt("s3cret-token")
    assert secrets._derive(key_file.read_text().strip()).decrypt(ciphertext.encode()) == b"s3cret-token"
    settings.SECRET_KEY = "a rotated SECRET_KEY"
    assert secrets.decrypt(ciphertext) == "s3cret-token"


def test_tokens_saved_before_the_key_file_still_open(key_file, settings):
    legacy = secrets._derive(settings.SECRET_KEY).encrypt(b"old-token").decode()
    assert secrets.decrypt(legacy) == "old-token"


@pytest.mark.django_db
def test_rotation_re_encrypts_every_token_with_a_new_key_file(key_file, settings, capsys):
    old_key = key_file.read_text().strip()
    apps = [factories.ApplicationFactory(secret_token=f"token-{n}") for n in range(3)]
    legacy = factories.ApplicationFactory()
    Application.objects.filter(pk=legacy.pk).update(
        secret_token_encrypted=secrets._derive(settings.SECRET_KEY).encrypt(b"legacy-token").decode())
    before = dict(Application.objects.values_list("pk", "secret_token_encrypted"))
    expected = {**{app.pk: f"token-{n}" for n, app in enumerate(apps)}, legacy.pk: "legacy-token"}

    call_command("rotate_encryption_key")
    assert "4 Secret Tokens re-encrypted with the new key." in capsys.readouterr().out

    new_key = key_file.read_text().strip()
    assert new_key != old_key and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not key_file.with_name("encryption_key.next").exists()
    for app in Application.objects.all():
        assert app.secret_token_encrypted != before[app.pk]
        plaintext = secrets._derive(new_key).decrypt(app.secret_token_encrypted.encode()).decode()  # the new key alone
        assert plaintext == expected[app.pk]
        with pytest.raises(InvalidToken):
            secrets._derive(old_key).decrypt(app.secret_token_encrypted.encode())


def test_while_a_rotation_runs_both_keys_open_tokens_and_the_new_one_encrypts(key_file):
    saved_before = secrets.encrypt("before")
    next_key = secrets.write_key_file(key_file.with_name("encryption_key.next"))
    assert secrets.decrypt(saved_before) == "before"  # the old key is still accepted
    saved_during = secrets.encrypt("during")
    assert secrets._derive(next_key).decrypt(saved_during.encode()) == b"during"


@pytest.mark.django_db
def test_rotation_with_environment_keys(settings, capsys):
    settings.PORTAL_ENCRYPTION_KEY = "the old production key"
    app = factories.ApplicationFactory(secret_token="prod-token")
    settings.PORTAL_ENCRYPTION_KEY, settings.PORTAL_ENCRYPTION_OLD_KEYS = "the new production key", ["the old production key"]
    call_command("rotate_encryption_key")
    assert "Remove PORTAL_ENCRYPTION_OLD_KEYS now" in capsys.readouterr().out
    settings.PORTAL_ENCRYPTION_OLD_KEYS = []
    app.refresh_from_db()
    assert app.get_secret_token() == "prod-token"
    assert secrets._derive("the new production key").decrypt(app.secret_token_encrypted.encode()) == b"prod-token"


@pytest.mark.django_db
def test_a_token_no_key_opens_stops_the_rotation_and_names_the_app(key_file):
    good = factories.ApplicationFactory(name="Good", secret_token="fine")
    bad = factories.ApplicationFactory(name="Broken")
    Application.objects.filter(pk=bad.pk).update(secret_token_encrypted=secrets._derive("a lost key").encrypt(b"x").decode())
    old_key, good_before = key_file.read_text(), Application.objects.get(pk=good.pk).secret_token_encrypted
    with pytest.raises(CommandError, match="The Secret Token of 'Broken' opens with none of the keys"):
        call_command("rotate_encryption_key")
    assert key_file.read_text() == old_key and not key_file.with_name("encryption_key.next").exists()
    assert Application.objects.get(pk=good.pk).secret_token_encrypted == good_before
