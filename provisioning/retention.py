"""Log retention: provisioning log entries and audit entries older than PORTAL_LOG_RETENTION_DAYS go (Entra keeps 30 days).

Deleted oldest first in batches of ids, each batch its own short transaction, so a cycle writing new entries
is never held up behind one long DELETE (PostgreSQL locks only the rows of a batch; SQLite's write lock is
held for one batch at a time).
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from provisioning.models import AuditEntry, ProvisioningLog

logger = logging.getLogger(__name__)
BATCH_SIZE = 5000


@dataclass
class Pruned:
    logs: int = 0
    audit_entries: int = 0


def _prune(model, cutoff, batch_size):
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(model.objects.filter(created_at__lt=cutoff).order_by("created_at", "id").values_list("id", flat=True)[:batch_size])
            if not ids:
                return deleted
            model.objects.filter(id__in=ids).delete()
        deleted += len(ids)
        if len(ids) < batch_size:
            return deleted


def prune_old_entries(*, now=None, days=None, batch_size=BATCH_SIZE):
    """Delete what is older than the retention; returns the counts."""
    days = settings.PORTAL_LOG_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    pruned = Pruned(logs=_prune(ProvisioningLog, cutoff, batch_size), audit_entries=_prune(AuditEntry, cutoff, batch_size))
    if pruned.logs or pruned.audit_entries:
        logger.info("retention: deleted %d provisioning log entries and %d audit entries older than %d days",
                    pruned.logs, pruned.audit_entries, days)
    return pruned
