"""Escrow: a failed object is retried in later cycles, less and less often, until it succeeds.

Every cycle takes the escrowed objects whose next retry is due along with the changed ones (planner);
an object that succeeds, or is skipped for a reason that is not a failure, leaves escrow.
"""

from datetime import timedelta

from django.utils import timezone

from provisioning.models import Escrow, ProvisioningLog

# After the n-th failed attempt the next retry waits this long (then the last value), as Entra scales back.
RETRY_AFTER = [timedelta(0), timedelta(minutes=40), timedelta(hours=2), timedelta(hours=6), timedelta(hours=24)]


def next_retry(attempts, now):
    return now + RETRY_AFTER[min(attempts, len(RETRY_AFTER)) - 1]


def record(application, outcomes):
    """Escrow this batch's failures and release its successes, in a few queries; each failure's log entry
    says how often it was tried and when it is tried next (call before the log entries are written)."""
    failed = {o.source.key: o for o in outcomes if o.status == ProvisioningLog.Status.FAILURE}
    settled = {o.source.key for o in outcomes if o.status != ProvisioningLog.Status.FAILURE} - set(failed)
    for object_type in {t for t, _ in settled}:
        Escrow.objects.filter(application=application, object_type=object_type,
                              source_id__in=[s for t, s in settled if t == object_type]).delete()
    if not failed:
        return
    now = timezone.now()
    existing = {}
    for object_type in {t for t, _ in failed}:
        for row in Escrow.objects.filter(application=application, object_type=object_type,
                                         source_id__in=[s for t, s in failed if t == object_type]):
            existing[(row.object_type, row.source_id)] = row
    rows = []
    for key, outcome in failed.items():
        previous = existing.get(key)
        attempts = previous.attempts + 1 if previous else 1
        log = outcome.log
        retry_at = next_retry(attempts, now)
        description = log.error_description if log else ""
        if log is not None:
            log.error_description = f"{description} {_escrow_sentence(attempts, retry_at)}".strip()
        rows.append(Escrow(
            application=application, object_type=key[0], source_id=key[1], source_pk=outcome.source.pk,
            reference=outcome.reference_failure, attempts=attempts,
            error_code=log.error_code if log else "", error_description=description,
            first_failed_at=previous.first_failed_at if previous else now, last_failed_at=now,
            next_retry_at=retry_at,
        ))
    Escrow.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["application", "object_type", "source_id"],
        update_fields=["source_pk", "reference", "attempts", "error_code", "error_description", "last_failed_at", "next_retry_at"],
    )


def _escrow_sentence(attempts, retry_at):
    when = timezone.localtime(retry_at).strftime("%-m/%-d/%Y %-I:%M %p")
    if attempts == 1:
        return "It is retried in the next cycle (escrow)."
    return f"This object has failed {attempts} times in a row (escrow); it is retried again after {when}, or at once when it or the configuration changes."


def summary(application, limit=5):
    """(escrowed, reference, [(error code, count, example description)]): what the Overview shows."""
    from django.db.models import Count

    rows = Escrow.objects.filter(application=application)
    reasons = [
        (row["error_code"] or "Unknown", row["n"],
         rows.filter(error_code=row["error_code"]).values_list("error_description", flat=True).first() or "")
        for row in rows.values("error_code").annotate(n=Count("id")).order_by("-n", "error_code")[:limit]
    ]
    return rows.count(), rows.filter(reference=True).count(), reasons
