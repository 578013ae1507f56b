"""provisioning/retention.py: entries past the retention go, in batches; the rest stay; beat runs it."""

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from provisioning import audit, retention, tasks
from provisioning.models import AuditEntry, ProvisioningLog
from tests import factories

pytestmark = pytest.mark.django_db


def test_old_entries_go_in_batches_and_recent_ones_stay(django_assert_max_num_queries):
    now = timezone.now()
    app = factories.ApplicationFactory()
    old = [factories.ProvisioningLogFactory(application=app, created_at=now - datetime.timedelta(days=31, minutes=n)) for n in range(7)]
    kept = [factories.ProvisioningLogFactory(application=app, created_at=now - datetime.timedelta(days=29, hours=23)) for _ in range(3)]
    stale = audit.record("Start provisioning", by="ada", application=app)
    AuditEntry.objects.filter(pk=stale.pk).update(created_at=now - datetime.timedelta(days=30, seconds=1))
    fresh = audit.record("Stop provisioning", by="ada", application=app)

    # 7 old entries in batches of 3: three batches of a SELECT and a DELETE (+ savepoints, and the two UPDATEs that
    # unlink retries of a deleted entry: ProvisioningLog.retry_of, OnDemandRun.retry_of), never one big DELETE.
    with django_assert_max_num_queries(30):
        pruned = retention.prune_old_entries(now=now, batch_size=3)
    assert (pruned.logs, pruned.audit_entries) == (7, 1)
    assert set(ProvisioningLog.objects.values_list("id", flat=True)) == {log.id for log in kept}
    assert list(AuditEntry.objects.values_list("id", flat=True)) == [fresh.id]
    assert not ProvisioningLog.objects.filter(id__in=[log.id for log in old]).exists()
    assert retention.prune_old_entries(now=now) == retention.Pruned(0, 0)


def test_the_retention_is_a_setting(settings):
    settings.PORTAL_LOG_RETENTION_DAYS = 7
    log = factories.ProvisioningLogFactory(created_at=timezone.now() - datetime.timedelta(days=8))
    tasks.prune_old_entries()
    assert not ProvisioningLog.objects.filter(pk=log.pk).exists()


def test_beat_prunes_every_hour_by_default():
    assert settings.PORTAL_LOG_RETENTION_DAYS == 30
    entry = settings.CELERY_BEAT_SCHEDULE["prune-old-entries"]
    assert entry == {"task": "provisioning.tasks.prune_old_entries", "schedule": 3600.0}
    assert tasks.prune_old_entries.name == entry["task"]
