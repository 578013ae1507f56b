"""API tokens (Administrators): create one (its text is shown once), revoke, see the recent API calls."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from provisioning.api_tokens import create_token, revoke
from provisioning.forms.api_tokens import ApiTokenForm
from provisioning.models import ApiCall, ApiToken
from provisioning.roles import administrators_only

RECENT_CALLS = 50


def _context(form, created=None):
    return {
        "form": form,
        "tokens": ApiToken.objects.select_related("created_by"),
        "calls": ApiCall.objects.all()[:RECENT_CALLS],
        "created": created,
    }


@require_http_methods(["GET", "POST"])
@administrators_only
def token_page(request):
    form = ApiTokenForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        token, raw = create_token(created_by=request.user, **form.cleaned_data)
        # Rendered, not redirected: the text exists only in this answer (the database keeps its hash).
        created = {"token": token, "text": raw}
        form = ApiTokenForm()
    response = render(request, "api_tokens/page.html", _context(form, created), status=400 if form.errors else 200)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@administrators_only
def revoke_token(request, token_id):
    token = get_object_or_404(ApiToken, pk=token_id)
    if token.revoked_at:
        messages.info(request, f"The token '{token.name}' was already revoked.")
    else:
        revoke(token, by=request.user.get_username())
        messages.success(request, f"The token '{token.name}' is revoked: calls with it are refused from now on.")
    return redirect("apps:api_tokens")


urlpatterns = [
    path("api-tokens/", token_page, name="api_tokens"),
    path("api-tokens/<int:token_id>/revoke/", revoke_token, name="api_token_revoke"),
]
