"""API tokens: the text exists once, only its hash is stored; revoked and expired tokens are refused."""

import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.api_tokens import TokenRejected, authenticate, create_token, revoke
from provisioning.models import ApiToken

pytestmark = pytest.mark.django_db


def test_the_token_is_stored_only_as_a_hash():
    token, text = create_token(name="HR sync", role=ApiToken.Role.ADMIN, expires_in_days=30)
    assert text.startswith(f"ppt_{token.prefix}_") and len(text) > 40
    row = ApiToken.objects.get(pk=token.pk)
    assert row.token_hash == hashlib.sha256(text.encode()).hexdigest()
    assert text not in str([getattr(row, f.attname) for f in ApiToken._meta.concrete_fields])
    assert timedelta(days=29) < row.expires_at - timezone.now() <= timedelta(days=30)


def test_authenticate_finds_the_token_and_notes_its_use():
    token, text = create_token(name="HR sync", role=ApiToken.Role.READ_ONLY)
    assert authenticate(text) == token
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


def test_two_tokens_never_share_a_prefix_or_text():
    made = [create_token(name=f"t{i}", role=ApiToken.Role.READ_ONLY) for i in range(20)]
    assert len({t.prefix for t, _ in made}) == 20 and len({text for _, text in made}) == 20


@pytest.mark.parametrize("change,words", [
    ({"revoked_at": timezone.now()}, "was revoked"),
    ({"expires_at": timezone.now() - timedelta(seconds=1)}, "expired on"),
])
def test_revoked_and_expired_tokens_are_refused(change, words):
    token, text = create_token(name="old", role=ApiToken.Role.ADMIN)
    ApiToken.objects.filter(pk=token.pk).update(**change)
    with pytest.raises(TokenRejected, match=words):
        authenticate(text)


def test_revoke_keeps_the_first_time():
    token, text = create_token(name="x", role=ApiToken.Role.ADMIN)
    revoke(token, by="grace")
    first = token.revoked_at
    revoke(token, by="alan")
    token.refresh_from_db()
    assert (token.revoked_at, token.revoked_by, token.state()) == (first, "grace", "Revoked")


@pytest.mark.parametrize("kwargs,words", [({"name": " ", "role": "admin"}, "Enter a name"), ({"name": "x", "role": "root"}, "Choose a role")])
def test_create_needs_a_name_and_a_role(kwargs, words):
    with pytest.raises(ValueError, match=words):
        create_token(**kwargs)
