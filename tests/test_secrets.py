import pytest

from provisioning import secrets
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
