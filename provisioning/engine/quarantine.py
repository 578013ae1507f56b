"""Quarantine, as Entra's: why the job stopped, since when, the next attempt; one email per event.

Entered when the target refuses the credentials or stops answering as SCIM (the chunk's Pacer halts), when
a cycle's failures pass Entra's escrow thresholds, or when a cycle's disables and deletes reach the
accidental-deletion threshold. While it lasts, no cycle runs; attempts follow Entra's backoff (6 h, 12 h,
24 h, then daily) and after 28 days the job is disabled. Lifted by a successful attempt, by Restart with
QuarantineState (the default Restart), or for TooManyDeletes by Allow deletes / Reject.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from provisioning import webhooks
from provisioning.models import Application, Quarantine

logger = logging.getLogger(__name__)
Reason = Quarantine.Reason
BACKOFF = [timedelta(hours=6), timedelta(hours=12), timedelta(hours=24)]  # then every 24 h
GIVE_UP_AFTER = timedelta(days=28)


def active(app):
    return Quarantine.objects.filter(application=app, lifted_at__isnull=True).first()


def next_attempt(attempts, now):
    return now + BACKOFF[min(attempts, len(BACKOFF) - 1)]


def enter(app, reason, description, fix, *, cycle=None):
    """Put the job in quarantine (once: an active quarantine stays the event); returns it."""
    now = timezone.now()
    with transaction.atomic():
        Application.objects.select_for_update().filter(pk=app.pk).first()
        current = active(app)
        if current is not None:
            return current
        quarantine = Quarantine.objects.create(
            application=app, cycle=cycle, reason=reason, description=description, fix=fix, began_at=now,
            # TooManyDeletes waits for an administrator: it has no automatic next attempt.
            next_attempt_at=None if reason == Reason.TOO_MANY_DELETES else next_attempt(0, now),
        )
        Application.objects.filter(pk=app.pk).update(job_status=Application.JobStatus.QUARANTINE, next_cycle_at=None)
    logger.warning("application %s quarantined (%s): %s", app.pk, reason, description)
    transaction.on_commit(lambda: _email(app, quarantine))
    webhooks.quarantine_entered(app, quarantine)
    return quarantine


def _email(app, quarantine):
    from provisioning.notifications import notify_quarantine

    if notify_quarantine(app, quarantine):
        Quarantine.objects.filter(pk=quarantine.pk).update(emailed_at=timezone.now())


def failed_attempt(app, error):
    """An attempt during quarantine failed: the next one later, or the job disabled after 28 days."""
    quarantine = active(app)
    if quarantine is None:
        return None
    now = timezone.now()
    quarantine.attempts += 1
    quarantine.last_attempt = f"Attempt {quarantine.attempts} on {now:%Y-%m-%d %H:%M} UTC failed too: {error}"[:4000]
    if now - quarantine.began_at >= GIVE_UP_AFTER:
        quarantine.next_attempt_at = None
        quarantine.last_attempt += " The job was quarantined for more than 28 days, so provisioning was turned off."
        quarantine.save(update_fields=["attempts", "last_attempt", "next_attempt_at"])
        Application.objects.filter(pk=app.pk).update(provisioning_enabled=False, next_cycle_at=None)
        logger.warning("application %s: quarantined for more than 28 days, provisioning disabled", app.pk)
        return quarantine
    quarantine.next_attempt_at = next_attempt(quarantine.attempts, now)
    quarantine.save(update_fields=["attempts", "last_attempt", "next_attempt_at"])
    return quarantine


def lift(app, how, by=""):
    """End the quarantine; the job is Active again (or Initial cycle not run). Returns the lifted one or None."""
    with transaction.atomic():
        quarantine = Quarantine.objects.select_for_update().filter(application=app, lifted_at__isnull=True).first()
        if quarantine is None:
            return None
        quarantine.lifted_at, quarantine.lifted_how, quarantine.lifted_by = timezone.now(), how[:256], by[:150]
        quarantine.save(update_fields=["lifted_at", "lifted_how", "lifted_by"])
        status = Application.JobStatus.ACTIVE if Application.objects.filter(pk=app.pk, watermark__isnull=False).exists() \
            else Application.JobStatus.NOT_RUN
        Application.objects.filter(pk=app.pk, job_status=Application.JobStatus.QUARANTINE).update(job_status=status)
        webhooks.quarantine_lifted(app, quarantine)
    logger.info("application %s: quarantine lifted (%s)", app.pk, how)
    return quarantine


def due_attempts(now=None):
    """Apps whose quarantine's next attempt is due (beat queues a cycle that tries the target first)."""
    now = now or timezone.now()
    return Application.objects.filter(
        provisioning_enabled=True, quarantines__lifted_at__isnull=True, quarantines__next_attempt_at__lte=now,
    ).distinct()


# ----------------------------------------------------------------------------------- what each reason says


def for_halt(app, halt):
    """(reason, description, fix) for a chunk's Halt (credentials refused, target not answering as SCIM)."""
    name = app.name
    error = halt.error
    when = timezone.localtime(next_attempt(0, timezone.now())).strftime("%-m/%-d/%Y %-I:%M %p")
    if halt.reason == "credentials" and getattr(error, "status", None) == 403:
        return (
            Reason.CREDENTIALS,
            f"{name} accepted the Secret Token but refused the operation: {error.method} {error.path} answered 403 Forbidden. "
            "Provisioning stopped at once; no further request was sent.",
            f"Give the token (or the account it belongs to) permission to read, create, update and delete users and groups in "
            f"{name}, then Restart provisioning. Otherwise the next attempt is at {when}.",
        )
    if halt.reason == "credentials":
        return (
            Reason.CREDENTIALS,
            f"{name} refused the Secret Token: {error.method} {error.path} answered 401 Unauthorized"
            f"{f' (realm {error.realm})' if getattr(error, 'realm', None) else ''}. Provisioning stopped at once; no further "
            "request was sent.",
            f"Generate a new token in {name}, paste it under Provisioning > Admin Credentials > Secret Token, run Test "
            f"Connection, then Restart provisioning. Otherwise the next attempt is at {when}.",
        )
    return (
        Reason.CREDENTIALS,
        f"{name} stopped answering as a SCIM service: {halt.description}",
        f"Check that {name} is up and that the Tenant URL is its SCIM base address (Test Connection says what it finds), "
        f"then Restart provisioning. Otherwise the next attempt is at {when}.",
    )


def for_escrow(app, processed, failed, reference_failed):
    """(reason, description, fix) when a cycle's failures pass Entra's escrow thresholds, else None."""
    if failed < settings.PROVISIONING_ESCROW_EVALUATE_FROM:
        return None
    base = failed - reference_failed
    proportion = base / processed if processed else 0
    fix = (f"Open the failed entries in the Provisioning logs, fix the most common reason (the Overview lists them), then "
           f"Restart provisioning. The escrowed objects are tried again at each attempt.")
    evaluated = f"(Entra's thresholds, evaluated from {settings.PROVISIONING_ESCROW_EVALUATE_FROM:,} failures)"
    if proportion > settings.PROVISIONING_ESCROW_PROPORTION:
        return (Reason.PROPORTION,
                f"{base:,} of the {processed:,} objects this cycle exported failed ({proportion:.0%}), more than "
                f"{settings.PROVISIONING_ESCROW_PROPORTION:.0%} {evaluated}.", fix)
    if base > settings.PROVISIONING_ESCROW_BASE:
        return (Reason.BASE,
                f"{base:,} objects failed in this cycle (not counting manager references), more than "
                f"{settings.PROVISIONING_ESCROW_BASE:,} {evaluated}.", fix)
    if failed > settings.PROVISIONING_ESCROW_TOTAL:
        return (Reason.TOTAL,
                f"{failed:,} objects failed in this cycle, manager references included, more than "
                f"{settings.PROVISIONING_ESCROW_TOTAL:,} {evaluated}.", fix)
    return None


def for_deletes(app, disables, deletes):
    total = disables + deletes
    parts = [f"disabled {disables:,} {'object' if disables == 1 else 'objects'}" if disables else "",
             f"deleted {deletes:,} {'object' if deletes == 1 else 'objects'}" if deletes else ""]
    what = " and ".join(part for part in parts if part) + (f" ({total:,} together)" if disables and deletes else "")
    return (
        Reason.TOO_MANY_DELETES,
        f"This cycle would have {what} in {app.name}, "
        f"at or over the accidental deletion threshold of {app.deletion_threshold:,}. None of them was sent; each is "
        "logged as StagedDelete with the reason.",
        "Look at the StagedDelete entries. If the disables and deletes are intended, choose Allow deletes; if not (a "
        "scoping filter or an assignment removed by mistake), choose Reject, fix the cause, then Restart provisioning.",
    )
