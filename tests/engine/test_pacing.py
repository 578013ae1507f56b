"""A 429 or 503 slows the whole app's traffic: every thread of a worker at once, and the other workers
through the database; Retry-After is honoured; the driver retries what is safe to send again."""

import threading
import time

import httpx
import pytest

from provisioning.engine import calls
from provisioning.engine.calls import Driver
from provisioning.engine.pacing import Pacer
from provisioning.scim import ScimClient
from tests import factories

pytestmark = pytest.mark.django_db


class ThrottlingTarget:
    """A MockTransport that answers the first `throttled` creates with 429 (Retry-After) and notes every request's time."""

    def __init__(self, throttled=1, retry_after="1", status=429):
        self.throttled, self.retry_after, self.status = throttled, retry_after, status
        self.lock = threading.Lock()
        self.sent = []  # (time, method)
        self.refused_at = []

    def __call__(self, request):
        now = time.monotonic()
        with self.lock:
            self.sent.append(now)
            if self.throttled:
                self.throttled -= 1
                self.refused_at.append(now)
                return httpx.Response(self.status, headers={"Retry-After": self.retry_after},
                                      json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "detail": "slow down"})
        return httpx.Response(201, json={"id": f"id-{len(self.sent)}", "userName": "x"})


def create(n):
    result = yield calls.create("Users", {"userName": f"user{n}"})
    return result


def drive(target, objects, pacer=None, concurrency=4):
    client = ScimClient("https://scim.example.com/v2", "token", transport=httpx.MockTransport(target), max_connections=concurrency)
    results = {}
    Driver(client, concurrency=concurrency, pacer=pacer or Pacer()).run(
        range(objects), start=create, finish=lambda n, result: results.__setitem__(n, result))
    return results


def test_retry_after_holds_every_request_to_the_target():
    target = ThrottlingTarget(throttled=1, retry_after="1")
    results = drive(target, 12)

    assert len(results) == 12 and all(r["id"] for r in results.values())  # the refused create was sent again
    refused = target.refused_at[0]
    later = [t for t in target.sent if t > refused + 0.05]  # not the ones already in flight
    assert later and min(later) >= refused + 1.0, "a request went out before Retry-After allowed it"


def test_a_503_without_retry_after_backs_off_and_is_retried():
    target = ThrottlingTarget(throttled=2, retry_after="", status=503)
    results = drive(target, 3, concurrency=1)
    assert len(results) == 3
    assert len(target.sent) == 5  # two refusals, each sent again


def test_a_pause_reaches_the_other_workers_through_the_database():
    app = factories.ApplicationFactory(default_mappings=False)
    here, elsewhere = Pacer(app.pk), Pacer(app.pk)
    here.throttle(retry_after=30, attempt=1)
    here.sync()  # this worker's write
    elsewhere.sync()  # the other worker's next read
    assert elsewhere.until >= here.until - 0.01
    app.refresh_from_db()
    assert app.throttled_until is not None

    started = time.monotonic()
    elsewhere.wait(stop=lambda: time.monotonic() - started > 0.3)  # Stop cuts a wait short
    assert 0.25 < time.monotonic() - started < 2


def test_a_lost_create_is_not_sent_again_blindly():
    """No answer to a POST: it may have been applied, so the driver hands it back to the pipeline (which
    looks the object up first) instead of sending it a second time."""
    sent = []

    def lost(request):
        sent.append(request)
        raise httpx.ReadTimeout("no answer", request=request)

    client = ScimClient("https://scim.example.com/v2", "token", transport=httpx.MockTransport(lost))
    outcome = []

    def pipeline(_):
        try:
            yield calls.create("Users", {"userName": "jane"})
        except Exception as exc:  # noqa: BLE001 - the test looks at what came back
            outcome.append(exc)

    Driver(client, concurrency=1).run([1], start=pipeline, finish=lambda *_: None)
    assert len(sent) == 1 and outcome and outcome[0].reason == "timeout"
