"""The record of API calls: one row per call, pruned past the retention."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.api import audit
from provisioning.models import ApiCall
from tests import factories

pytestmark = pytest.mark.django_db


def test_prune_deletes_only_what_is_past_the_retention(settings):
    settings.PORTAL_API_CALL_RETENTION_DAYS = 30
    now = timezone.now()
    old = factories.ApiCallFactory(at=now - timedelta(days=31))
    kept = factories.ApiCallFactory(at=now - timedelta(days=29))
    assert audit.prune(now) == 1
    assert list(ApiCall.objects.all()) == [kept]
    assert not ApiCall.objects.filter(pk=old.pk).exists()


def test_calls_prune_now_and_then(settings, reader_api, monkeypatch):
    settings.PORTAL_API_CALL_RETENTION_DAYS = 1
    factories.ApiCallFactory(at=timezone.now() - timedelta(days=2))
    monkeypatch.setattr(audit, "PRUNE_EVERY", 1)
    reader_api.get("servicePrincipals")
    assert [c.path for c in ApiCall.objects.all()] == ["/api/v1/servicePrincipals"]
