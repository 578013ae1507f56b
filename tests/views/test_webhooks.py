"""Webhooks page: Administrators add, edit, test and delete endpoints; bad input is refused with the reason."""

import pytest
from django.urls import reverse

from provisioning import tasks
from provisioning.models import WebhookDelivery, WebhookEndpoint
from tests.factories import ApplicationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def app():
    return ApplicationFactory(default_mappings=False)


@pytest.fixture
def sent(monkeypatch):
    ids = []
    monkeypatch.setattr(tasks.deliver_webhook, "delay", lambda delivery_id: ids.append(delivery_id))
    return ids


def url(name, app, *args):
    return reverse(f"apps:{name}", args=[app.id, *args])


GOOD = {"name": "On-call", "url": "https://hooks.example.com/provisioning", "events": ["cycle.failed", "quarantine.entered"],
        "format": "json", "failure_threshold": "10", "enabled": "on", "secret": "s3cret"}


def test_an_administrator_adds_one_and_the_secret_is_never_shown(admin_client, app):
    response = admin_client.post(url("webhooks", app), GOOD)
    assert response.status_code == 302
    hook = WebhookEndpoint.objects.get()
    assert (hook.name, hook.events, hook.get_secret()) == ("On-call", ["cycle.failed", "quarantine.entered"], "s3cret")
    page = admin_client.get(url("webhooks", app)).content.decode()
    assert "On-call" in page and "s3cret" not in page and "signed" in page


def test_editing_with_a_blank_secret_keeps_it(admin_client, app):
    admin_client.post(url("webhooks", app), GOOD)
    hook = WebhookEndpoint.objects.get()
    admin_client.post(url("edit_webhook", app, hook.id), {**GOOD, "name": "Pager", "secret": ""})
    hook.refresh_from_db()
    assert (hook.name, hook.get_secret()) == ("Pager", "s3cret")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("url", "ftp://hooks.example.com/x", "URL must start with https://"),
    ("url", "https://user:pw@hooks.example.com/x", "must not contain a user name or password"),
    ("url", "http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
    ("url", "https://hooks.example.com:99999/x", "port 99999 does not exist"),
    ("events", [], "Choose at least one event"),
    ("secret", " padded ", "must not start or end with spaces"),
])
def test_bad_input_is_refused_with_the_reason(admin_client, app, field, value, message):
    response = admin_client.post(url("webhooks", app), {**GOOD, field: value})
    assert response.status_code == 400 and message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
    assert "pw@" not in response.content.decode() or field != "url"


def test_send_test_event_queues_a_delivery(admin_client, app, sent, django_capture_on_commit_callbacks):
    admin_client.post(url("webhooks", app), GOOD)
    hook = WebhookEndpoint.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url("test_webhook", app, hook.id), follow=True)
    delivery = WebhookDelivery.objects.get()
    assert sent == [delivery.pk] and delivery.event == "test"
    assert "A test event is on its way" in response.content.decode()


def test_delete(admin_client, app):
    admin_client.post(url("webhooks", app), GOOD)
    hook = WebhookEndpoint.objects.get()
    admin_client.post(url("delete_webhook", app, hook.id))
    assert not WebhookEndpoint.objects.exists()


def test_helpdesk_is_refused(helpdesk_client, app):
    assert helpdesk_client.get(url("webhooks", app)).status_code == 403
    assert helpdesk_client.post(url("webhooks", app), GOOD).status_code == 403
