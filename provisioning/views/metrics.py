"""/metrics for Prometheus, behind an API token (any role): scrape with `authorization: {credentials_file: …}`."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from provisioning.api_tokens import TokenRejected, authenticate
from provisioning.metrics import PortalCollector


@login_not_required
@require_GET
def metrics(request):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not token.strip():
            raise TokenRejected("Send an API token: 'Authorization: Bearer ppt_…' (an Administrator creates one on the "
                                "API tokens page).")
        authenticate(token.strip())
    except TokenRejected as exc:
        response = HttpResponse(f"{exc}\n", status=401, content_type="text/plain; charset=utf-8")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    # A registry per scrape: the collector reads the database now, nothing is kept between scrapes.
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PortalCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
