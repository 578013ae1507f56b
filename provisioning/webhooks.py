"""Provisioning events for webhooks: what happened, the cause in words, links to the filtered logs.

The engine calls `emit` where the event happens (a cycle ended, a quarantine began or was lifted, deletions
were staged); it writes one WebhookDelivery per subscribed endpoint and, once the transaction commits, the
delivery task sends each (provisioning/webhook_sender.py, retried with backoff). A rolled-back transaction
(a dry run) leaves neither rows nor tasks.
"""

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from provisioning.models import ProvisioningLog, WebhookDelivery, WebhookEndpoint

Event = WebhookEndpoint.Event


def _absolute(path):
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{path}"


def links_for(app, cycle=None, **log_filters):
    links = {"overview": _absolute(reverse("apps:overview", args=[app.pk]))}
    query = {**({"cycle": str(cycle.cycle_id)} if cycle is not None else {}), **log_filters}
    logs = _absolute(reverse("apps:logs", args=[app.pk]))
    links["logs"] = f"{logs}?{'&'.join(f'{k}={v}' for k, v in query.items())}" if query else logs
    if cycle is not None:
        links["failures"] = f"{logs}?cycle={cycle.cycle_id}&status=failure"
    return links


def payload(app, event, cause, *, data=None, links=None, test=False):
    return {
        "event": event,
        "test": test,
        "occurredAt": timezone.now().isoformat(),
        "application": {"id": app.pk, "name": app.name},
        "cause": cause,
        "data": data or {},
        "links": links or links_for(app),
    }


def emit(app, event, cause, *, data=None, links=None, failures=None):
    """Queue the event for every enabled endpoint of the app that subscribed to it; returns the deliveries.
    failures: for provisioning.failures, only endpoints whose threshold it reaches get it."""
    endpoints = [e for e in WebhookEndpoint.objects.filter(application=app, enabled=True) if event in e.events]
    if failures is not None:
        endpoints = [e for e in endpoints if failures >= e.failure_threshold]
    if not endpoints:
        return []
    body = payload(app, event, cause, data=data, links=links)
    deliveries = WebhookDelivery.objects.bulk_create([WebhookDelivery(endpoint=e, event=event, payload=body) for e in endpoints])
    transaction.on_commit(lambda: _send([d.pk for d in deliveries]))
    return deliveries


def send_test_event(endpoint):
    """A test event to one endpoint, now (queued like every delivery)."""
    app = endpoint.application
    body = payload(app, "test", f"A test event from Provisioning Portal for {app.name}: the endpoint is reachable and the "
                   "signature can be checked with the endpoint's secret.", test=True)
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="test", payload=body)
    transaction.on_commit(lambda: _send([delivery.pk]))
    return delivery


def _send(delivery_ids):
    from provisioning import tasks

    for delivery_id in delivery_ids:
        tasks.deliver_webhook.delay(delivery_id)


# ------------------------------------------------------------------------ the events the engine emits


def cycle_ended(cycle, counts):
    """counts: {action: {status: n}} of the whole cycle."""
    app = cycle.application
    kind = cycle.get_kind_display()
    if cycle.state == "failed":
        emit(app, Event.CYCLE_FAILED, f"The {kind.lower()} of {app.name} failed: {cycle.error}",
             data={"cycleId": str(cycle.cycle_id), "error": cycle.error}, links=links_for(app, cycle))
        return
    flat = {f"{action}.{status}": n for action, by in counts.items() for status, n in by.items()}
    failed = sum(by.get(ProvisioningLog.Status.FAILURE, 0) for by in counts.values())
    done = sum(n for action, by in counts.items() if action != "unchanged" for n in by.values())
    cause = f"The {kind.lower()} of {app.name} completed: {done:,} objects processed, {failed:,} failed."
    data = {"cycleId": str(cycle.cycle_id), "kind": cycle.kind, "counts": counts, "countsFlat": flat, "failed": failed,
            "durationSeconds": cycle.duration_seconds}
    emit(app, Event.CYCLE_COMPLETED, cause, data=data, links=links_for(app, cycle))
    if failed:
        emit(app, Event.FAILURES, f"{failed:,} objects failed in the {kind.lower()} of {app.name}: see the failed entries.",
             data=data, links=links_for(app, cycle, status="failure"), failures=failed)


def quarantine_entered(app, quarantine):
    emit(app, Event.QUARANTINE_ENTERED, f"Provisioning of {app.name} is in quarantine ({quarantine.reason}): "
         f"{quarantine.description} What to do: {quarantine.fix}",
         data={"reason": quarantine.reason, "since": quarantine.began_at.isoformat(),
               "nextAttempt": quarantine.next_attempt_at.isoformat() if quarantine.next_attempt_at else None})


def quarantine_lifted(app, quarantine):
    emit(app, Event.QUARANTINE_LIFTED, f"The quarantine of {app.name} ({quarantine.reason}) was lifted: {quarantine.lifted_how}"
         f"{f' by {quarantine.lifted_by}' if quarantine.lifted_by else ''}.",
         data={"reason": quarantine.reason, "since": quarantine.began_at.isoformat(),
               "liftedAt": quarantine.lifted_at.isoformat() if quarantine.lifted_at else None})


def deletions_staged(cycle, disables, deletes):
    app = cycle.application
    emit(app, Event.DELETIONS_STAGED,
         f"{disables + deletes:,} disables and deletes in {app.name} reached the accidental deletion threshold "
         f"({app.deletion_threshold:,}) and wait for an administrator: Allow deletes or Reject on the Overview.",
         data={"cycleId": str(cycle.cycle_id), "disables": disables, "deletes": deletes, "threshold": app.deletion_threshold},
         links=links_for(app, cycle, action="staged"))
