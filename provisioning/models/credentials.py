"""What the portal keeps to authenticate to targets beyond a Secret Token (scim/auth.py, engine/credentials.py)."""

from django.db import models

from provisioning import secrets


class SigningKey(models.Model):
    """The portal's key for the tokens it issues (the portal-issued JWT method). Generated once, on first use;
    the private key is encrypted with the same key as Secret Tokens, the public half is published at
    /.well-known/jwks.json. A retired key stays published for a token lifetime so tokens in flight validate."""

    kid = models.CharField("Key ID", max_length=64, unique=True)
    algorithm = models.CharField(max_length=8)  # RS256 or ES256
    private_key_encrypted = models.TextField(editable=False)
    public_jwk = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.algorithm} {self.kid}"

    def private_pem(self) -> str:
        return secrets.decrypt(self.private_key_encrypted)


class AccessToken(models.Model):
    """An app's OAuth access token, shared by every worker until it expires (scim/auth.TokenCache)."""

    application = models.OneToOneField("provisioning.Application", on_delete=models.CASCADE, related_name="access_token")
    # Which token endpoint, client, secret and scope it was fetched with: a change of any does not reuse it.
    cache_key = models.CharField(max_length=64)
    token_encrypted = models.TextField(editable=False)
    expires_at = models.DateTimeField()
    fetched_at = models.DateTimeField(auto_now=True)
