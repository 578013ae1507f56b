"""provisioning/request_metrics.py: counts in memory, one bulk insert per flush, merged rows keep their totals."""

from datetime import UTC, datetime, timedelta

import pytest

from provisioning import request_metrics
from provisioning.models import TargetRequestCount
from provisioning.scim.client import ScimClient
from provisioning.scim.errors import ScimConnectionError


@pytest.fixture(autouse=True)
def nothing_pending():
    request_metrics.discard()
    yield
    request_metrics.discard()


def test_target_is_host_and_port_without_path_query_or_user_info():
    assert request_metrics.target_of("https://scim.example.com/scim/v2?aadOptscim062020") == "scim.example.com:443"
    assert request_metrics.target_of("http://user:pw@127.0.0.1:8081/v2") == "127.0.0.1:8081"
    assert request_metrics.target_of("https://[::1]/scim") == "[::1]:443"


@pytest.mark.django_db
def test_requests_are_counted_in_memory_and_written_in_one_insert(django_assert_num_queries, monkeypatch):
    import time

    monkeypatch.setattr(request_metrics, "_last_compaction", time.monotonic())  # the merge of old rows is not due
    for seconds in (0.004, 0.02, 0.02, 0.3, 45):
        request_metrics.record("https://a.example/scim", "POST", 201, seconds)
    request_metrics.record("https://a.example/scim", "PATCH", 503, 0.1)
    request_metrics.record("https://b.example/scim", "GET", None, 15.0)
    assert not TargetRequestCount.objects.exists()
    with django_assert_num_queries(1):
        assert request_metrics.flush() == 6
    assert request_metrics.flush() == 0  # nothing new
    totals = request_metrics.totals()
    assert totals[("a.example:443", "POST", "2xx", 0.025)] == (2, pytest.approx(0.04))
    assert totals[("a.example:443", "POST", "2xx", None)] == (1, 45)
    assert totals[("a.example:443", "PATCH", "5xx", 0.1)] == (1, pytest.approx(0.1))
    assert totals[("b.example:443", "GET", "error", 30.0)] == (1, 15.0)


def test_counts_survive_a_database_that_refuses_them():
    # No django_db mark: pytest-django refuses every query, as a database that is down would.
    request_metrics.record("https://a.example/scim", "POST", 201, 0.01)
    assert request_metrics.flush() == 0
    assert sum(n for n, _ in request_metrics._pending.values()) == 1


@pytest.mark.django_db
def test_merging_old_rows_keeps_every_total():
    old = datetime.now(UTC) - timedelta(hours=3)
    for minute in range(5):
        TargetRequestCount.objects.create(minute=old + timedelta(minutes=minute), target="a:443", method="GET",
                                          status_class="2xx", le=0.05, requests=minute + 1, seconds=0.01 * (minute + 1))
    TargetRequestCount.objects.create(minute=old, target="a:443", method="GET", status_class="4xx", le=0.05, requests=2, seconds=0.02)
    recent = TargetRequestCount.objects.create(minute=datetime.now(UTC), target="a:443", method="GET", status_class="2xx",
                                               le=0.05, requests=7, seconds=0.1)
    before = request_metrics.totals()
    assert request_metrics.compact() == 5
    rounded = lambda totals: {key: (n, round(s, 9)) for key, (n, s) in totals.items()}  # noqa: E731
    assert rounded(request_metrics.totals()) == rounded(before)
    assert TargetRequestCount.objects.count() == 3  # the merged row, the lone 4xx row, the recent one
    assert TargetRequestCount.objects.filter(pk=recent.pk).exists()
    assert request_metrics.compact() == 0


@pytest.mark.django_db
def test_the_scim_client_records_answers_and_failures():
    import socket

    from tests.servers import start_scim_server

    server = start_scim_server()
    try:
        with ScimClient(server.tenant_url(), server.token) as client:
            client.service_provider_config()
            client.find_by("Users", "userName", "nobody@example.com")
    finally:
        server.stop()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with ScimClient(f"http://127.0.0.1:{closed}/scim/v2", "token") as client, pytest.raises(ScimConnectionError):
        client.find_by("Users", "userName", "nobody@example.com")
    request_metrics.flush()
    by_class = {}
    for (target, method, klass, _), (n, _) in request_metrics.totals().items():
        by_class[(target.rsplit(":", 1)[1] == str(closed), method, klass)] = by_class.get((target.rsplit(":", 1)[1] == str(closed), method, klass), 0) + n
    assert by_class == {(False, "GET", "2xx"): 2, (True, "GET", "error"): 1}


@pytest.mark.django_db
def test_a_web_request_that_talks_to_a_target_writes_its_counts_when_it_ends(admin_client, scim_app):
    from django.urls import reverse

    response = admin_client.post(reverse("apps:test_connection", args=[scim_app.id]),
                                 {"tenant_url": scim_app.tenant_url, "secret_token": ""}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert request_metrics._pending == {}  # written by the request_finished signal, nothing left in memory
    target = request_metrics.target_of(scim_app.tenant_url)
    rows = TargetRequestCount.objects.filter(target=target)
    assert rows.exists() and {r.status_class for r in rows} <= {"2xx", "4xx"}
    assert sum(r.requests for r in rows) >= 1
