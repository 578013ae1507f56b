"""Quarantine: entering once, Entra's backoff (6 h, 12 h, 24 h, daily), the job disabled after 28 days,
attempts that lift it, the escrow thresholds, and what each reason says."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from provisioning.engine import quarantine
from provisioning.engine.cycle import queue_due_cycles, run_cycle, start_provisioning
from provisioning.engine.pacing import Halt
from provisioning.models import Application, ProvisioningCycle, Quarantine
from provisioning.scim import ScimAuthError
from tests import factories

pytestmark = pytest.mark.django_db
Reason = Quarantine.Reason


@pytest.fixture
def app(db):
    return factories.ApplicationFactory(name="Slack", provisioning_enabled=True, notify_on_failure=True)


def test_entering_twice_is_one_event_and_one_email(app, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = quarantine.enter(app, Reason.CREDENTIALS, "Slack refused the Secret Token.", "Paste a new token.")
        second = quarantine.enter(app, Reason.CREDENTIALS, "again", "again")
    assert first.pk == second.pk and Quarantine.objects.count() == 1
    app.refresh_from_db()
    assert (app.job_status, app.next_cycle_at) == (Application.JobStatus.QUARANTINE, None)
    assert len(mail.outbox) == 1
    assert "Slack refused the Secret Token." in mail.outbox[0].body and "What to do: Paste a new token." in mail.outbox[0].body
    assert "Next attempt:" in mail.outbox[0].body


def test_attempts_follow_entras_backoff_and_the_job_is_disabled_after_28_days(app):
    held = quarantine.enter(app, Reason.CREDENTIALS, "refused", "fix")
    began = held.began_at
    assert abs((held.next_attempt_at - began) - timedelta(hours=6)) < timedelta(seconds=5)
    for attempts, wait in [(1, 12), (2, 24), (3, 24), (4, 24)]:
        held = quarantine.failed_attempt(app, "401 again")
        assert held.attempts == attempts
        assert abs((held.next_attempt_at - timezone.now()) - timedelta(hours=wait)) < timedelta(seconds=5)
    Quarantine.objects.filter(pk=held.pk).update(began_at=timezone.now() - timedelta(days=28, minutes=1))
    held = quarantine.failed_attempt(app, "401 again")
    app.refresh_from_db()
    assert held.next_attempt_at is None and not app.provisioning_enabled
    assert held.last_attempt.startswith("Attempt 5 on") and "turned off" in held.last_attempt


def test_a_due_attempt_is_queued_once_and_other_cycles_wait(app):
    held = quarantine.enter(app, Reason.CREDENTIALS, "refused", "fix")
    Application.objects.filter(pk=app.pk).update(next_cycle_at=timezone.now() - timedelta(minutes=1))
    assert queue_due_cycles() == []  # the interval does not matter during quarantine
    Quarantine.objects.filter(pk=held.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=1))
    [attempt] = queue_due_cycles()
    assert attempt.application_id == app.pk
    assert queue_due_cycles() == []


def test_a_successful_attempt_lifts_the_quarantine(scim_app, scim_server):
    factories.DirectoryUserFactory.create_batch(2)
    scim_app.scope = "all"
    scim_app.save()
    held = quarantine.enter(scim_app, Reason.CREDENTIALS, "refused", "fix")
    cycle = run_cycle(start_provisioning(scim_app))
    assert cycle.state == "completed", cycle.error
    held.refresh_from_db()
    assert held.lifted_at and held.lifted_how.startswith("a successful attempt")
    scim_app.refresh_from_db()
    assert scim_app.job_status == Application.JobStatus.ACTIVE


def test_a_failed_attempt_keeps_it_and_says_so(scim_app):
    scim_app.set_secret_token("wrong")
    scim_app.save()
    held = quarantine.enter(scim_app, Reason.CREDENTIALS, "refused", "fix")
    cycle = run_cycle(start_provisioning(scim_app))
    assert cycle.state == "failed" and cycle.error.startswith("Still in quarantine (EncounteredQuarantineException): Test connection failed")
    held.refresh_from_db()
    assert held.lifted_at is None and held.attempts == 1


def test_too_many_deletes_waits_for_an_administrator(scim_app):
    quarantine.enter(scim_app, Reason.TOO_MANY_DELETES, "600 disables held", "Allow or reject")
    assert Quarantine.objects.get().next_attempt_at is None
    cycle = run_cycle(start_provisioning(scim_app))
    assert cycle.state == "failed" and "TooManyDeletes" in cycle.error and "Allow or reject" in cycle.error


def test_a_401_on_the_cycles_first_request_quarantines_with_the_reason(scim_app):
    factories.DirectoryUserFactory()
    scim_app.scope, scim_app.notify_on_failure = "all", True
    scim_app.set_secret_token("revoked")
    scim_app.save()
    cycle = run_cycle(start_provisioning(scim_app))
    assert cycle.state == "failed"
    held = Quarantine.objects.get(application=scim_app)
    assert held.reason == Reason.CREDENTIALS and "refused the Secret Token" in held.description
    assert "Restart provisioning" in held.fix


@pytest.mark.parametrize(("processed", "failed", "references", "reason"), [
    # Entra's own examples (evaluation starts at 5,000 failures).
    (4_000, 4_000, 0, None),
    (45_000, 45_000, 0, Reason.PROPORTION),
    (35_000, 30_000, 0, Reason.PROPORTION),
    (120_000, 20_000, 0, None),
    (200_000, 45_000, 0, Reason.BASE),
    (200_000, 65_000, 30_000, Reason.TOTAL),
])
def test_the_escrow_thresholds(app, processed, failed, references, reason):
    verdict = quarantine.for_escrow(app, processed, failed, references)
    assert (verdict[0] if verdict else None) == reason
    if verdict:
        assert f"{failed - references:,}" in verdict[1] or f"{failed:,}" in verdict[1]


def test_the_words_of_a_401_and_a_403(app):
    refused = ScimAuthError("returned 401 Unauthorized", method="GET", path="/Users/7", status=401, realm="slack")
    reason, description, fix = quarantine.for_halt(app, Halt("credentials", "", refused))
    assert description.startswith("Slack refused the Secret Token: GET /Users/7 answered 401 Unauthorized (realm slack).")
    assert "Generate a new token in Slack" in fix and "the next attempt is at" in fix
    forbidden = ScimAuthError("returned 403 Forbidden", method="PATCH", path="/Users/7", status=403)
    _, description, fix = quarantine.for_halt(app, Halt("credentials", "", forbidden))
    assert "accepted the Secret Token but refused the operation" in description and "permission" in fix
