"""Email: one message per run that had failures, to the app's Notification Email when the setting is on."""

import logging
from collections import Counter
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from provisioning.models import ProvisioningLog

log = logging.getLogger(__name__)


def _wants_mail(app):
    return app.notify_on_failure and app.notification_email


def logs_link(app, **filters):
    query = urlencode({k: v for k, v in filters.items() if v not in (None, "")})
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{reverse('apps:logs', args=[app.pk])}?{query}"


def notify_failures(app, logs, *, cycle=None, on_demand_run=None):
    """Mail a summary when any object failed in this run; returns True when a message was sent."""
    failures = [entry for entry in logs if entry.status == ProvisioningLog.Status.FAILURE]
    if not failures or not _wants_mail(app):
        return False
    counts = Counter(entry.get_status_display() for entry in logs)
    what = f"provisioning cycle {cycle.cycle_id}" if cycle else "on-demand provisioning"
    link = logs_link(app, status="failure", cycle=cycle.cycle_id if cycle else None, run=on_demand_run.pk if on_demand_run else None)
    lines = [
        f"{len(failures)} of {len(logs)} objects failed during {what} of {app.name}.",
        "",
        "Counts: " + ", ".join(f"{label} {n}" for label, n in sorted(counts.items())),
        "",
        "First failures:",
        *[f"- {entry.identity}: {entry.error_code} — {entry.error_description}" for entry in failures[:10]],
        "",
        f"Open the failed entries in the provisioning logs: {link}",
    ]
    return _send(app, f"[Provisioning Portal] {app.name}: {len(failures)} provisioning failure(s)", "\n".join(lines))


def notify_cycle_failures(app, cycle):
    """After a cycle: one message when any object failed, with counts read from the database (a cycle's
    entries are not held in memory)."""
    failures = ProvisioningLog.objects.filter(cycle=cycle, status=ProvisioningLog.Status.FAILURE)
    failed = failures.count()
    if not failed or not _wants_mail(app):
        return False
    counts = {
        ProvisioningLog.Status(row["status"]).label: row["n"]
        for row in ProvisioningLog.objects.filter(cycle=cycle).values("status").annotate(n=Count("id"))
    }
    link = logs_link(app, status="failure", cycle=cycle.cycle_id)
    lines = [
        f"{failed} of {sum(counts.values())} logged objects failed during provisioning cycle {cycle.cycle_id} of {app.name}.",
        "",
        "Counts: " + ", ".join(f"{label} {n}" for label, n in sorted(counts.items())),
        "",
        "First failures:",
        *[f"- {entry.identity}: {entry.error_code} — {entry.error_description}" for entry in failures.order_by("created_at", "id")[:10]],
        "",
        f"Open the failed entries in the provisioning logs: {link}",
    ]
    return _send(app, f"[Provisioning Portal] {app.name}: {failed} provisioning failure(s)", "\n".join(lines))


def notify_quarantine(app, quarantine):
    """One message per quarantine event: what happened, which request or threshold decided it, the fix."""
    if not _wants_mail(app):
        return False
    overview = f"{settings.PORTAL_BASE_URL.rstrip('/')}{reverse('apps:overview', args=[app.pk])}"
    lines = [
        f"Provisioning of {app.name} is in quarantine ({quarantine.reason}).",
        "",
        quarantine.description,
        "",
        f"What to do: {quarantine.fix}",
        "",
    ]
    if quarantine.next_attempt_at:
        lines.append(f"Next attempt: {timezone.localtime(quarantine.next_attempt_at):%Y-%m-%d %H:%M %Z} "
                     "(then 12 hours, 24 hours and daily; the job is disabled after 28 days).")
    if quarantine.reason == "TooManyDeletes":
        lines.append(f"The held entries: {logs_link(app, action='staged', cycle=quarantine.cycle.cycle_id if quarantine.cycle else None)}")
    lines += [f"Overview: {overview}", ""]
    return _send(app, f"[Provisioning Portal] {app.name}: provisioning quarantined ({quarantine.reason})", "\n".join(lines))


def notify_cycle_failure(app, cycle):
    """A cycle that could not run at all (e.g. Test connection failed)."""
    if not _wants_mail(app):
        return False
    link = logs_link(app, cycle=cycle.cycle_id)
    body = (
        f"The {cycle.get_kind_display().lower()} of {app.name} failed and provisioned nothing.\n\n"
        f"{cycle.error}\n\nOverview: {settings.PORTAL_BASE_URL.rstrip('/')}{reverse('apps:overview', args=[app.pk])}\n"
        f"Provisioning logs: {link}\n"
    )
    return _send(app, f"[Provisioning Portal] {app.name}: provisioning cycle failed", body)


def _send(app, subject, body):
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [app.notification_email])
    except Exception:  # a mail server outage must not fail provisioning; the logs still hold everything
        log.exception("could not send the failure notification for application %s", app.pk)
        return False
    return True
