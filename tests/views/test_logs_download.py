"""Download on the logs page: exactly the current filters, streamed in keyset pages, both roles."""

import csv
import io
import json
import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from provisioning import log_export
from provisioning.engine import bulk_write
from provisioning.models import ProvisioningLog
from tests.factories import ApplicationFactory, ProvisioningLogFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def app():
    return ApplicationFactory(default_mappings=False)


def download_url(app, query=""):
    return reverse("apps:logs_download", args=[app.id]) + (f"?{query}" if query else "")


def body(response):
    return b"".join(response.streaming_content).decode()


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(body(response).lstrip("\ufeff"))))


@pytest.mark.parametrize("who", ["admin_client", "helpdesk_client"])
def test_both_roles_download(request, who, app):
    ProvisioningLogFactory(application=app)
    response = request.getfixturevalue(who).get(download_url(app))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="provisioning-logs-')


def test_the_logs_page_offers_csv_and_json_of_its_filters(admin_client, app):
    text = admin_client.get(reverse("apps:logs", args=[app.id]) + "?status=failure").text
    assert download_url(app, "status=failure&amp;format=csv") in text
    assert download_url(app, "status=failure&amp;format=json") in text


def test_htmx_filtering_refreshes_the_download_links(admin_client, app):
    text = admin_client.get(reverse("apps:logs", args=[app.id]) + "?status=skipped", HTTP_HX_REQUEST="true").text
    assert 'id="log-downloads"' in text and 'hx-swap-oob="true"' in text and "status=skipped&amp;format=csv" in text


def test_the_download_holds_exactly_the_filtered_entries(admin_client, app):
    kept = ProvisioningLogFactory(application=app, status="failure", source_display_name="Keep Me")
    ProvisioningLogFactory(application=app, status="success", source_display_name="Not Me")
    ProvisioningLogFactory(status="failure", source_display_name="Other App")
    rows = csv_rows(admin_client.get(download_url(app, "status=failure&older=1")))  # paging is not a filter
    assert [r["Change ID"] for r in rows] == [str(kept.change_id)]


def test_json_download(admin_client, app):
    ProvisioningLogFactory(application=app, source_display_name="Jane")
    response = admin_client.get(download_url(app, "format=json"))
    assert response["Content-Type"] == "application/json"
    assert [e["source_display_name"] for e in json.loads(body(response))] == ["Jane"]


@pytest.mark.parametrize("query, message", [
    ("status=bogus", "Status"),
    ("cycle=not-a-guid", "Cycle ID"),
    ("format=xml", "Download as csv or json"),
])
def test_bad_filters_are_a_400_that_says_which(admin_client, app, query, message):
    response = admin_client.get(download_url(app, query))
    assert response.status_code == 400 and message in response.content.decode()


def test_a_large_download_streams_in_bounded_pages(admin_client, app, monkeypatch):
    """12,000 entries in pages of 1,000: 12 bounded queries (plus the empty last one), never one unbounded read."""
    monkeypatch.setattr(log_export, "CHUNK_SIZE", 1000)
    start = datetime(2025, 11, 1, tzinfo=dt_timezone.utc)
    template = ProvisioningLogFactory.build(application=app)
    rows = []
    for n in range(12_000):
        entry = ProvisioningLog(**{f.attname: getattr(template, f.attname) for f in ProvisioningLog._meta.concrete_fields if f.attname != "id"})
        entry.change_id = uuid.uuid4()
        entry.created_at = start + timedelta(seconds=n // 3)  # three entries per second: ties cross the page ends
        rows.append(entry)
    bulk_write.insert(ProvisioningLog, rows)

    response = admin_client.get(download_url(app))
    assert isinstance(response, StreamingHttpResponse)
    with CaptureQueriesContext(connection) as queries:
        iterator = iter(response.streaming_content)
        first = next(iterator)
        assert len([q for q in queries if "provisioning_provisioninglog" in q["sql"]]) <= 1  # nothing read ahead
        lines = first + b"".join(iterator)
    reads = [q["sql"] for q in queries if "provisioning_provisioninglog" in q["sql"]]
    assert all("LIMIT 1000" in sql for sql in reads), reads
    assert len(reads) == 13
    assert len(lines.decode().strip().splitlines()) == 12_001  # the header and every entry once
