"""Pages run a fixed number of queries whatever the size of the data: no N+1 as apps, logs and assignments grow."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


def grow(app, n):
    cycle = factories.ProvisioningCycleFactory(application=app, state="completed")
    users = factories.DirectoryUserFactory.create_batch(n)
    groups = factories.DirectoryGroupFactory.create_batch(n, members=users[:3])
    for user, group in zip(users, groups):
        factories.AssignmentFactory(application=app, user=user)
        factories.AssignmentFactory(application=app, user=None, group=group)
        factories.ProvisioningLogFactory(application=app, cycle=cycle, source_display_name=user.display_name)
        factories.ProvisioningLogFactory(application=app, cycle=cycle, status="failure", action="update")
        factories.ExportStateFactory(application=app, source_id=user.object_id)
    factories.ApplicationFactory.create_batch(n // 3)
    return cycle


PAGES = [
    ("apps:list", False),
    ("apps:overview", True),
    ("apps:overview_status", True),
    ("apps:provisioning", True),
    ("apps:users_groups", True),
    ("apps:logs", True),
]


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


@pytest.mark.parametrize("name, per_app", PAGES, ids=[name for name, _ in PAGES])
def test_query_count_does_not_grow_with_the_data(admin_client, name, per_app):
    app = factories.ApplicationFactory()
    url = reverse(name, args=[app.pk]) if per_app else reverse(name)
    grow(app, 3)
    small = count_queries(admin_client, url)
    grow(app, 15)
    large = count_queries(admin_client, url)
    assert large == small, f"{name}: {small} queries with little data, {large} with more"


def test_mappings_page_query_count_does_not_grow_with_mappings(admin_client):
    app = factories.ApplicationFactory()
    url = reverse("apps:mappings", args=[app.pk, "user"])
    user_mapping = app.object_mappings.get(object_type="user")
    # With one filter already there, the prefetch of clauses runs in both measurements.
    factories.ScopingClauseFactory(scoping_filter=factories.ScopingFilterFactory(object_mapping=user_mapping))
    small = count_queries(admin_client, url)
    factories.AttributeMappingFactory.create_batch(10, object_mapping=user_mapping)
    for _ in range(5):
        factories.ScopingClauseFactory(scoping_filter=factories.ScopingFilterFactory(object_mapping=user_mapping))
    assert count_queries(admin_client, url) == small


def test_overview_history_chart_costs_the_same_queries_for_3_or_30_cycles(admin_client):
    from datetime import timedelta

    from django.utils import timezone

    app = factories.ApplicationFactory()
    start = timezone.now() - timedelta(days=3)

    def cycles(n):
        for i in range(n):
            cycle = factories.ProvisioningCycleFactory(application=app, state="completed", started_at=start + timedelta(minutes=i),
                                                       finished_at=start + timedelta(minutes=i, seconds=30))
            factories.CycleChunkFactory.create_batch(3, cycle=cycle, counts={"create": {"success": 2, "failure": 1}})

    for name in ("apps:overview", "apps:overview_status"):
        cycles(3)
        small = count_queries(admin_client, reverse(name, args=[app.pk]))
        cycles(30)
        assert count_queries(admin_client, reverse(name, args=[app.pk])) == small, name


def test_logs_chart_is_one_aggregate_query_whatever_the_entries(admin_client):
    app = factories.ApplicationFactory()
    url = reverse("apps:logs", args=[app.pk]) + "?date=7d"
    factories.ProvisioningLogFactory.create_batch(3, application=app)
    small = count_queries(admin_client, url)
    factories.ProvisioningLogFactory.create_batch(60, application=app, status="failure")
    assert count_queries(admin_client, url) == small
