"""The portal's public signing keys, for targets that validate the tokens it issues (no login: targets fetch them)."""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import path
from django.views.decorators.http import require_GET

from provisioning.engine.credentials import issuer, jwks_url, published_keys, signing_key


@login_not_required
@require_GET
def jwks(request):
    # A target that has never seen a token may fetch the keys first: make the key now rather than publish none.
    signing_key()
    response = JsonResponse(published_keys())
    response["Cache-Control"] = "public, max-age=300"
    return response


@login_not_required
@require_GET
def openid_configuration(request):
    """The discovery document JWT libraries read from the issuer (e.g. ASP.NET's Authority), pointing at the keys."""
    return JsonResponse({"issuer": issuer(), "jwks_uri": jwks_url(),
                         "id_token_signing_alg_values_supported": ["RS256", "ES256"]})


urlpatterns = [
    path(".well-known/jwks.json", jwks, name="jwks"),
    path(".well-known/openid-configuration", openid_configuration, name="openid_configuration"),
]
