"""Webhooks: events the engine emits, bodies in three formats, the HMAC signature, delivery to a real
receiver on 127.0.0.1 with retries and backoff, and the outbound rule."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command  # noqa: F401  (keeps the django_db fixtures importable here)

from provisioning import webhook_sender, webhooks
from provisioning.engine import quarantine
from provisioning.engine.cycle import run_cycle, start_provisioning
from provisioning.models import Application, Quarantine, RunState, WebhookDelivery, WebhookEndpoint
from tests import factories

pytestmark = pytest.mark.django_db
Event = WebhookEndpoint.Event


class Receiver:
    """An HTTP receiver on 127.0.0.1 that keeps what it gets and answers with the next status of `answers`."""

    def __init__(self):
        self.received, self.answers = [], []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append({"headers": dict(self.headers), "body": body, "path": self.path})
                status = receiver.answers.pop(0) if receiver.answers else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def app():
    return factories.ApplicationFactory(name="Slack")


def endpoint(app, url, events=None, secret="s3cret", **fields):
    hook = WebhookEndpoint(application=app, name="On-call", url=url, events=events or [e.value for e in Event], **fields)
    hook.set_secret(secret)
    hook.save()
    return hook


def deliver_all():
    for delivery in WebhookDelivery.objects.filter(state="pending"):
        webhook_sender.deliver(delivery.pk)


def test_a_delivery_is_signed_and_says_what_happened(app, receiver):
    endpoint(app, receiver.url)
    held = quarantine.enter(app, Quarantine.Reason.CREDENTIALS, "Slack refused the Secret Token.", "Paste a new token.")
    deliver_all()

    [request] = receiver.received
    body = request["body"]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert request["headers"]["X-Portal-Signature"] == expected
    event = json.loads(body)
    assert event["event"] == "quarantine.entered" and event["application"] == {"id": app.pk, "name": "Slack"}
    assert "Slack refused the Secret Token." in event["cause"] and "Paste a new token." in event["cause"]
    assert event["data"]["reason"] == held.reason and event["links"]["overview"].endswith(f"/apps/{app.pk}/")
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.response_code, delivery.attempts) == ("delivered", 204, 1)
    assert delivery.response_ms is not None


def test_only_subscribed_events_go_out(app, receiver):
    endpoint(app, receiver.url, events=[Event.QUARANTINE_LIFTED])
    quarantine.enter(app, Quarantine.Reason.CREDENTIALS, "refused", "fix")
    assert not WebhookDelivery.objects.exists()
    quarantine.lift(app, "Restart", by="ada")
    deliver_all()
    assert [json.loads(r["body"])["event"] for r in receiver.received] == ["quarantine.lifted"]
    assert "lifted: Restart by ada" in json.loads(receiver.received[0]["body"])["cause"]


def test_a_failed_delivery_is_tried_again_later_and_a_4xx_stops(app, receiver):
    endpoint(app, receiver.url)
    receiver.answers = [503, 204]
    delivery = webhooks.send_test_event(WebhookEndpoint.objects.get())
    assert webhook_sender.deliver(delivery.pk) == webhook_sender.BACKOFF_SECONDS[0]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.response_code, delivery.attempts) == ("pending", 503, 1) and delivery.next_attempt_at
    assert "answered 503" in delivery.error
    assert webhook_sender.deliver(delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.error) == ("delivered", 2, "")

    receiver.answers = [410]
    gone = webhooks.send_test_event(WebhookEndpoint.objects.get())
    assert webhook_sender.deliver(gone.pk) is None
    gone.refresh_from_db()
    assert (gone.state, gone.response_code) == ("failed", 410)


def test_an_unreachable_endpoint_gives_up_after_the_backoff(app):
    hook = endpoint(app, "http://127.0.0.1:9/nothing-listens")
    delivery = webhooks.send_test_event(hook)
    waits = [webhook_sender.deliver(delivery.pk) for _ in range(len(webhook_sender.BACKOFF_SECONDS) + 1)]
    assert waits == [*webhook_sender.BACKOFF_SECONDS, None]
    delivery.refresh_from_db()
    assert delivery.state == "failed" and "could not be reached" in delivery.error


def test_a_metadata_address_is_refused_without_a_request(app):
    hook = endpoint(app, "http://169.254.169.254/latest/meta-data/")
    delivery = webhooks.send_test_event(hook)
    assert webhook_sender.deliver(delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.state == "failed" and "169.254.169.254" in delivery.error and "PORTAL_OUTBOUND_ALLOW" in delivery.error


@pytest.mark.parametrize("fmt", ["slack", "teams"])
def test_slack_and_teams_bodies_carry_the_cause_and_the_links(app, receiver, fmt):
    hook = endpoint(app, receiver.url, format=fmt)
    webhook_sender.deliver(webhooks.send_test_event(hook).pk)
    message = json.loads(receiver.received[0]["body"])
    if fmt == "slack":
        assert message["text"].startswith("*Slack: test*\nA test event") and "|overview>" in message["text"]
    else:
        assert message["@type"] == "MessageCard" and message["text"].startswith("A test event")
        uris = [action["targets"][0]["uri"] for action in message["potentialAction"]]
        assert any(uri.endswith(f"/apps/{app.pk}/") for uri in uris)  # the Overview (jsonb keeps no key order)


def test_a_real_cycle_reports_its_counts_and_failures_over_the_threshold(scim_app, receiver):
    scim_app.scope = Application.Scope.ALL
    scim_app.save()
    endpoint(scim_app, receiver.url, failure_threshold=1)
    mapping = scim_app.object_mappings.get(object_type="user")
    mapping.attribute_mappings.filter(target_attribute="title").update(required=True)
    factories.DirectoryUserFactory(job_title="Engineer")
    factories.DirectoryUserFactory(job_title="")  # fails: title is required

    cycle = run_cycle(start_provisioning(scim_app))
    assert cycle.state == RunState.COMPLETED
    deliver_all()

    events = {json.loads(r["body"])["event"]: json.loads(r["body"]) for r in receiver.received}
    completed = events["cycle.completed"]
    assert completed["data"]["counts"]["create"] == {"success": 1, "failure": 1}
    assert "2 objects processed, 1 failed" in completed["cause"]
    assert completed["links"]["failures"].endswith(f"?cycle={cycle.cycle_id}&status=failure")
    assert events["provisioning.failures"]["data"]["failed"] == 1


def test_a_dry_run_emits_nothing(scim_app, receiver):
    from provisioning.engine.dry_run import request_dry_run, run_dry_run

    scim_app.scope = Application.Scope.ALL
    scim_app.save()
    endpoint(scim_app, receiver.url)
    factories.DirectoryUserFactory()
    assert run_dry_run(request_dry_run(scim_app).pk).state == RunState.COMPLETED
    assert not WebhookDelivery.objects.exists()
