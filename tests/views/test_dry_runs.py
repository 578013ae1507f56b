"""Dry run pages: started from the Overview by Administrators, read by both roles, filters in the query string."""

import pytest
from django.urls import reverse

from provisioning import tasks
from provisioning.models import DryRun, DryRunEntry, RunState
from tests.factories import ApplicationFactory, ProvisioningCycleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def app():
    return ApplicationFactory(default_mappings=False)


@pytest.fixture
def enqueued(monkeypatch):
    ids = []
    monkeypatch.setattr(tasks.run_dry_run, "delay", lambda dry_run_id: ids.append(dry_run_id))
    return ids


@pytest.fixture
def finished(app):
    dry_run = DryRun.objects.create(application=app, kind="incremental", state=RunState.COMPLETED, summary={
        "actions": {"update": {"success": 2}, "disable": {"success": 1}},
        "updated_attributes": {"title": 2}, "members_added": 4, "members_removed": 1, "unchanged": 7,
        "deletions": {"count": 1, "threshold": 500, "held": 0}})
    DryRunEntry.objects.create(dry_run=dry_run, object_type="user", source_id="a", source_display_name="Ada Lovelace",
                               action="update", status="success", changed_attributes="|title|",
                               modified_properties=[{"name": "title", "old": "Engineer", "new": "Countess"}])
    DryRunEntry.objects.create(dry_run=dry_run, object_type="user", source_id="b", source_display_name="Bob Dobbs",
                               action="disable", status="success", description="not assigned")
    return dry_run


def page(client, app, dry_run, **query):
    return client.get(reverse("apps:dry_run", args=[app.id, dry_run.id]), query)


def test_start_queues_one_and_shows_its_page(admin_client, app, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("apps:start_dry_run", args=[app.id]))
    dry_run = DryRun.objects.get()
    assert enqueued == [dry_run.pk]
    assert response.url == reverse("apps:dry_run", args=[app.id, dry_run.id])
    text = page(admin_client, app, dry_run).content.decode()
    assert "Queued: a worker starts it in a moment." in text and 'hx-trigger="every 1s"' in text


def test_refused_while_a_cycle_runs_with_the_reason(admin_client, app, enqueued):
    ProvisioningCycleFactory(application=app, state=RunState.RUNNING)
    response = admin_client.post(reverse("apps:start_dry_run", args=[app.id]), follow=True)
    assert "A provisioning cycle is queued or running" in response.content.decode()
    assert not DryRun.objects.exists() and enqueued == []


def test_helpdesk_reads_but_cannot_start(helpdesk_client, app, finished):
    assert helpdesk_client.post(reverse("apps:start_dry_run", args=[app.id])).status_code == 403
    assert page(helpdesk_client, app, finished).status_code == 200


def test_the_result_shows_the_aggregate_and_each_objects_old_and_new_values(admin_client, app, finished):
    text = page(admin_client, app, finished).content.decode()
    assert "Incremental cycle, evaluated without changing" in text
    assert "4 added, 1 removed" in text and "7 objects need no request" in text
    assert "title</a> 2" in text and "under the threshold of 500" in text
    assert "Engineer → Countess" in text and "Bob Dobbs" in text
    assert 'hx-trigger="every 1s"' not in text


def test_filters_narrow_the_objects(admin_client, app, finished):
    text = page(admin_client, app, finished, action="disable").content.decode()
    assert "Bob Dobbs" in text and "Ada Lovelace" not in text
    text = page(admin_client, app, finished, attribute="title").content.decode()
    assert "Ada Lovelace" in text and "Bob Dobbs" not in text


def test_a_bad_filter_is_a_400_that_says_so(admin_client, app, finished):
    response = page(admin_client, app, finished, action="explode")
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


def test_the_overview_links_the_last_dry_run(admin_client, app, finished):
    text = admin_client.get(reverse("apps:overview", args=[app.id])).content.decode()
    assert reverse("apps:dry_run", args=[app.id, finished.id]) in text and "Dry run</button>" in text


def test_another_apps_dry_run_is_404(admin_client, finished):
    other = ApplicationFactory(default_mappings=False)
    assert page(admin_client, other, finished).status_code == 404
