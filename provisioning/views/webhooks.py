"""Webhooks of an application: endpoints, their recent deliveries, Send test event."""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from provisioning import webhooks
from provisioning.forms.webhooks import WebhookEndpointForm
from provisioning.models import Application, WebhookDelivery, WebhookEndpoint
from provisioning.roles import administrators_only

RECENT_DELIVERIES = 50


@require_http_methods(["GET", "POST"])
@administrators_only
def webhooks_page(request, app_id, endpoint_id=None):
    app = get_object_or_404(Application, pk=app_id)
    editing = get_object_or_404(WebhookEndpoint, pk=endpoint_id, application=app) if endpoint_id else None
    form = WebhookEndpointForm(request.POST if request.method == "POST" else None,
                               instance=editing or WebhookEndpoint(application=app))
    if request.method == "POST" and form.is_valid():
        endpoint = form.save()
        messages.success(request, f"Webhook '{endpoint.name}' saved. Send a test event to check that it arrives.")
        return redirect("apps:webhooks", app.id)
    context = {
        "app": app, "blade_tab": "webhooks", "form": form, "editing": editing,
        "endpoints": app.webhooks.all(),
        "deliveries": WebhookDelivery.objects.filter(endpoint__application=app).select_related("endpoint")[:RECENT_DELIVERIES],
    }
    return render(request, "webhooks/webhooks.html", context, status=400 if form.errors else 200)


@require_POST
@administrators_only
def send_test_event(request, app_id, endpoint_id):
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id, application_id=app_id)
    with transaction.atomic():
        webhooks.send_test_event(endpoint)
    messages.success(request, f"A test event is on its way to '{endpoint.name}': its delivery appears below within seconds.")
    return redirect("apps:webhooks", app_id)


@require_POST
@administrators_only
def delete_webhook(request, app_id, endpoint_id):
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id, application_id=app_id)
    endpoint.delete()
    messages.success(request, f"Webhook '{endpoint.name}' deleted: it gets no more events.")
    return redirect("apps:webhooks", app_id)


urlpatterns = [
    path("apps/<int:app_id>/webhooks/", webhooks_page, name="webhooks"),
    path("apps/<int:app_id>/webhooks/<int:endpoint_id>/", webhooks_page, name="edit_webhook"),
    path("apps/<int:app_id>/webhooks/<int:endpoint_id>/test/", send_test_event, name="test_webhook"),
    path("apps/<int:app_id>/webhooks/<int:endpoint_id>/delete/", delete_webhook, name="delete_webhook"),
]
