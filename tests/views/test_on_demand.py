"""Provision on demand pages: roles, search, selection, the 5-member limit, the run page at each state, end to end."""

import re
import time

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from provisioning import tasks
from provisioning.models import Application, OnDemandRun, ProvisioningLog
from provisioning.roles import ADMINISTRATORS
from tests import factories

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def app():
    return factories.ApplicationFactory(name="Slack", default_mappings=False)


@pytest.fixture
def enqueued(monkeypatch):
    """The run ids the page hands to Celery (after commit)."""
    ids = []
    monkeypatch.setattr(tasks.run_on_demand, "delay", lambda run_id: ids.append(run_id))
    return ids


def page(app):
    return reverse("apps:on_demand", args=[app.id])


def run_url(app, run):
    return reverse("apps:on_demand_run", args=[app.id, run.id])


def step(key, name, status="success", description="", sections=()):
    return {"key": key, "name": name, "status": status, "description": description, "sections": list(sections)}


JANE = {"source_id": "7d0c1b7e-0000-4000-8000-00000000jane", "display_name": "Jane Doe", "upn": "jane@contoso.example"}
IMPORT = step(
    "import",
    "Import user",
    description="Retrieved User 'Jane Doe' from the directory",
    sections=[{"title": "Imported attributes", "columns": ["Attribute", "Value"], "rows": [["department", "Sales"]]}],
)
SCOPE = step(
    "scope",
    "Determine if user is in scope",
    description="User 'Jane Doe' is in scope: assigned to the application",
    sections=[{"title": "Scoping", "columns": ["Condition", "Result", "Detail"], "rows": [["Assigned to application", "True", ""]]}],
)
MATCH = step("match", "Match user between source and target system", description="No matching user was found in Slack")


# Access


def all_urls(app, run):
    return [
        page(app),
        reverse("apps:on_demand_search", args=[app.id]) + "?q=jane",
        reverse("apps:on_demand_selection", args=[app.id]),
        run_url(app, run),
    ]


def test_anonymous_is_sent_to_sign_in(client, app):
    run = factories.OnDemandRunFactory(application=app)
    for url in all_urls(app, run):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url


def test_helpdesk_gets_403_everywhere(helpdesk_client, app):
    run = factories.OnDemandRunFactory(application=app)
    for url in all_urls(app, run):
        assert helpdesk_client.get(url).status_code == 403, url
    user = factories.DirectoryUserFactory()
    assert helpdesk_client.post(page(app), {"subject": f"user:{user.pk}"}).status_code == 403
    assert not OnDemandRun.objects.exclude(pk=run.pk).exists()


def test_administrator_gets_every_page(admin_client, app):
    run = factories.OnDemandRunFactory(application=app)
    for url in all_urls(app, run):
        assert admin_client.get(url).status_code == 200, url


def test_page_explains_and_offers_search(admin_client, app):
    text = admin_client.get(page(app)).text
    assert "first name, last name, display name, user principal name or email address" in text
    assert 'hx-trigger="input changed delay:250ms, search"' in text
    assert ">Provision</button>" in text


# Search and selection


def test_search_finds_users_and_groups(admin_client, app):
    jane = factories.DirectoryUserFactory(given_name="Jane", surname="Doe", display_name="Jane Doe", user_principal_name="jane@contoso.example")
    factories.DirectoryUserFactory(given_name="John", surname="Roe", display_name="John Roe")
    group = factories.DirectoryGroupFactory(display_name="Jane's team")
    response = admin_client.get(reverse("apps:on_demand_search", args=[app.id]), {"q": "jan"}, **HX)
    text = response.text
    assert "<html" not in text
    assert f'value="user:{jane.pk}"' in text
    assert f'value="group:{group.pk}"' in text
    assert "John Roe" not in text


def test_search_without_matches_says_what_to_try(admin_client, app):
    text = admin_client.get(reverse("apps:on_demand_search", args=[app.id]), {"q": "zzz"}).text
    assert "No user or group matches “zzz”" in text


def test_empty_search_lists_nothing(admin_client, app):
    factories.DirectoryUserFactory()
    text = admin_client.get(reverse("apps:on_demand_search", args=[app.id]), {"q": "  "}).text
    assert 'name="pick"' not in text


def test_selecting_a_user_sets_the_subject(admin_client, app):
    jane = factories.DirectoryUserFactory(display_name="Jane Doe")
    text = admin_client.get(reverse("apps:on_demand_selection", args=[app.id]), {"pick": f"user:{jane.pk}"}).text
    assert f'<input type="hidden" name="subject" value="user:{jane.pk}">' in text
    assert "Jane Doe" in text


def test_selecting_a_group_lists_its_members(admin_client, app):
    members = factories.DirectoryUserFactory.create_batch(3)
    group = factories.DirectoryGroupFactory(display_name="Pilot users", members=members)
    text = admin_client.get(reverse("apps:on_demand_selection", args=[app.id]), {"pick": f"group:{group.pk}"}).text
    assert f'value="group:{group.pk}"' in text
    for member in members:
        assert f'name="members" value="{member.pk}"' in text
    assert "Select up to 5 members" in text
    assert "0 of at most 5 selected." in text


def test_member_search_keeps_the_ticked_members(admin_client, app):
    ann = factories.DirectoryUserFactory(display_name="Ann Lee")
    bob = factories.DirectoryUserFactory(display_name="Bob Ray")
    group = factories.DirectoryGroupFactory(members=[ann, bob])
    text = admin_client.get(
        reverse("apps:on_demand_selection", args=[app.id]), {"subject": f"group:{group.pk}", "member_q": "ann", "members": [ann.pk]}
    ).text
    assert f'value="{ann.pk}" checked' in text
    assert "Bob Ray" not in text


@pytest.mark.parametrize("pick", ["user:999999", "robot:1", "user:abc"])
def test_selecting_something_that_is_gone_says_so(admin_client, app, pick):
    text = admin_client.get(reverse("apps:on_demand_selection", args=[app.id]), {"pick": pick}).text
    assert "no longer exists in the directory" in text


# Provision


def test_provision_one_user_creates_a_run_and_enqueues_it(admin_client, admin_user, app, enqueued, django_capture_on_commit_callbacks):
    jane = factories.DirectoryUserFactory(display_name="Jane Doe")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(page(app), {"subject": f"user:{jane.pk}"})
    run = OnDemandRun.objects.get()
    assert response.status_code == 302
    assert response.url == run_url(app, run)
    assert list(run.users.all()) == [jane]
    assert run.requested_by == admin_user
    assert enqueued == [run.id]


def test_provision_group_members(admin_client, app, enqueued, django_capture_on_commit_callbacks):
    members = factories.DirectoryUserFactory.create_batch(3)
    group = factories.DirectoryGroupFactory(members=members)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(page(app), {"subject": f"group:{group.pk}", "members": [m.pk for m in members[:2]]})
    run = OnDemandRun.objects.get()
    assert response.status_code == 302
    assert run.group == group
    assert set(run.users.all()) == set(members[:2])
    assert enqueued == [run.id]


def test_more_than_five_members_is_refused_with_a_clear_message(admin_client, app, enqueued):
    members = factories.DirectoryUserFactory.create_batch(7)
    group = factories.DirectoryGroupFactory(display_name="Pilot users", members=members)
    response = admin_client.post(page(app), {"subject": f"group:{group.pk}", "members": [m.pk for m in members[:6]]})
    assert response.status_code == 200
    assert "Select at most 5 members of the group: you selected 6." in response.text
    assert not OnDemandRun.objects.exists()
    assert enqueued == []
    # the selection stays on screen, with the six still ticked, to untick one
    assert response.text.count('" checked>') == 6
    # and the page carries the client-side hint for next time (static/js/portal.js: no inline script under the CSP)
    assert "data-count-members" in response.text and 'id="od-limit"' in response.text
    assert "on-demand provisioning takes at most" in (settings.BASE_DIR / "static" / "js" / "portal.js").read_text()


def test_group_without_members_ticked_is_refused(admin_client, app):
    group = factories.DirectoryGroupFactory(display_name="Pilot users", members=factories.DirectoryUserFactory.create_batch(2))
    text = admin_client.post(page(app), {"subject": f"group:{group.pk}"}).text
    assert "Select the members of &#x27;Pilot users&#x27; to provision (up to 5)." in text
    assert not OnDemandRun.objects.exists()


def test_member_of_another_group_is_refused(admin_client, app):
    group = factories.DirectoryGroupFactory(display_name="Pilot users", members=factories.DirectoryUserFactory.create_batch(2))
    outsider = factories.DirectoryUserFactory()
    text = admin_client.post(page(app), {"subject": f"group:{group.pk}", "members": [outsider.pk]}).text
    assert "Select only members of &#x27;Pilot users&#x27;" in text
    assert not OnDemandRun.objects.exists()


def test_nothing_selected_is_refused(admin_client, app):
    text = admin_client.post(page(app), {}).text
    assert "Search for a user or a group, then select one from the results." in text
    assert "Nothing was provisioned." in text


def test_vanished_subject_is_refused(admin_client, app):
    text = admin_client.post(page(app), {"subject": "user:999999"}).text
    assert "no longer exists in the directory" in text


def test_unconfigured_app_shows_the_engines_message(admin_client, enqueued):
    app = factories.ApplicationFactory(default_mappings=False, provisioning_mode=Application.Mode.MANUAL)
    jane = factories.DirectoryUserFactory()
    response = admin_client.post(page(app), {"subject": f"user:{jane.pk}"})
    assert response.status_code == 200
    assert "Provisioning is not configured" in response.text
    assert not OnDemandRun.objects.exists()
    assert enqueued == []


# The run page at each state


def make_run(app, *, state=OnDemandRun.State.QUEUED, progress=(), seconds_ago=0, **kwargs):
    """A run whose subjects' steps live in their log entries, as the engine writes them."""
    run = factories.OnDemandRunFactory(application=app, state=state, progress=[], **kwargs)
    entries = []
    for entry in progress:
        subject = entry["subject"]
        fields = {"steps": entry.get("steps", []), "status": entry.get("status") or "running", "action": entry.get("action") or "other"}
        if entry.get("log_id"):
            ProvisioningLog.objects.filter(pk=entry["log_id"]).update(on_demand_run=run, **fields)
            log_id = entry["log_id"]
        else:
            log_id = factories.ProvisioningLogFactory(
                application=app, on_demand_run=run, initiated_by="on_demand", object_type=subject.get("kind", "user"),
                source_id=subject["source_id"], source_display_name=subject["display_name"], source_upn=subject["upn"], **fields,
            ).pk
        entries.append({"subject": subject, "log_id": log_id})
    OnDemandRun.objects.filter(pk=run.pk).update(progress=entries)
    run.refresh_from_db()
    if seconds_ago:
        OnDemandRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timezone.timedelta(seconds=seconds_ago))
        run.refresh_from_db()
    return run


POLL = 'hx-trigger="every 500ms"'


def test_queued_run_polls_and_lists_the_subjects(admin_client, app):
    jane = factories.DirectoryUserFactory(display_name="Jane Doe")
    run = make_run(app)
    run.users.set([jane])
    text = admin_client.get(run_url(app, run)).text
    assert POLL in text
    assert "Starting…" in text
    assert "Jane Doe" in text
    assert "Not started" in text  # the four steps to come, greyed


def test_queued_run_after_a_few_seconds_waits_for_a_worker(admin_client, app):
    run = make_run(app, seconds_ago=5)
    text = admin_client.get(run_url(app, run), **HX).text
    assert "Waiting for a provisioning worker…" in text
    assert POLL in text


def test_queued_run_after_ten_seconds_says_the_worker_may_be_down(admin_client, app):
    run = make_run(app, seconds_ago=14)
    text = admin_client.get(run_url(app, run), **HX).text
    assert "No provisioning worker has picked this up after 14 seconds." in text
    assert "celery -A portal worker" in text
    assert POLL in text


def test_running_run_shows_the_steps_so_far_and_those_to_come(admin_client, app):
    entry = {"subject": JANE, "status": "running", "action": None, "steps": [IMPORT, SCOPE, MATCH], "log_id": None}
    run = make_run(app, state=OnDemandRun.State.RUNNING, progress=[entry])
    response = admin_client.get(run_url(app, run), **HX)
    text = response.text
    assert "<html" not in text
    assert POLL in text
    for expected in [
        "Jane Doe",
        "In progress",
        "2.</span>",
        "Import user",
        "Retrieved User &#x27;Jane Doe&#x27; from the directory",
        "3.</span>",
        "Determine if user is in scope",
        "Assigned to application",
        "4.</span>",
        "Match user between source and target system",
        "View details",
        "Imported attributes",
    ]:
        assert expected in text, expected
    # step 5 is still to come
    assert re.search(r"5\.</span>\s*<span class=\"step-name\">Perform action</span>\s*<span class=\"muted small\">Not started", text)
    # completed steps keep their "View details" open across polls
    assert "hx-preserve" in text


def test_completed_success_shows_the_result_and_the_log_link(admin_client, app):
    log = factories.ProvisioningLogFactory(application=app, action="create", status="success", source_display_name="Jane Doe")
    action = step(
        "action",
        "Perform action",
        description="User 'Jane Doe' was created in Slack (id 42)",
        sections=[{"title": "Modified attributes", "columns": ["Attribute", "Old value", "New value"], "rows": [["userName", "(null)", "jane@contoso.example"]]}],
    )
    entry = {"subject": JANE, "status": "success", "action": "create", "steps": [IMPORT, SCOPE, MATCH, action], "log_id": log.id}
    run = make_run(app, state=OnDemandRun.State.COMPLETED, progress=[entry], finished_at=timezone.now())
    text = admin_client.get(run_url(app, run)).text
    assert POLL not in text
    assert "Success: User &#x27;Jane Doe&#x27; was created in Slack (id 42)" in text
    assert "View in provisioning logs" in text
    assert reverse("apps:log_detail", args=[app.id, log.id]) in text
    assert "Modified attributes" in text
    assert "Not started" not in text
    assert f"{reverse('apps:logs', args=[app.id])}?run={run.id}" in text


def test_completed_failure_shows_code_description_and_fix(admin_client, app):
    log = factories.ProvisioningLogFactory(
        application=app,
        action="create",
        status="failure",
        error_code="SchemaAttributeNotFound",
        error_description="Failed to create User 'Jane Doe' in Slack: unknown attribute costCenter",
        recommended_fix="Remove the costCenter mapping, or add the attribute to Slack's schema.",
    )
    action = step("action", "Perform action", "failure", "Failed to create User 'Jane Doe' in Slack: unknown attribute costCenter")
    entry = {"subject": JANE, "status": "failure", "action": "create", "steps": [IMPORT, SCOPE, MATCH, action], "log_id": log.id}
    run = make_run(app, state=OnDemandRun.State.COMPLETED, progress=[entry], finished_at=timezone.now())
    text = admin_client.get(run_url(app, run)).text
    assert POLL not in text
    assert "Failure: Failed to create User &#x27;Jane Doe&#x27; in Slack: unknown attribute costCenter" in text
    assert "SchemaAttributeNotFound" in text
    assert "Remove the costCenter mapping" in text
    assert "step-icon-failure" in text


def test_completed_skipped_says_why(admin_client, app):
    log = factories.ProvisioningLogFactory(
        application=app, action="other", status="skipped", error_code="NotEffectivelyEntitled",
        error_description="User 'Jane Doe' is out of scope: not assigned to the application",
    )
    scope = step("scope", "Determine if user is in scope", "skipped", "User 'Jane Doe' is out of scope: not assigned to the application")
    entry = {"subject": JANE, "status": "skipped", "action": "other", "steps": [IMPORT, scope], "log_id": log.id}
    run = make_run(app, state=OnDemandRun.State.COMPLETED, progress=[entry], finished_at=timezone.now())
    text = admin_client.get(run_url(app, run)).text
    assert "Skipped: User &#x27;Jane Doe&#x27; is out of scope: not assigned to the application" in text


def test_connection_failure_is_step_one(admin_client, app):
    failed = step("test_connection", "Test connection", "failure", "The target answered 401 Unauthorized")
    entry = {"subject": JANE, "status": "failure", "action": "other", "steps": [failed], "log_id": None}
    run = make_run(app, state=OnDemandRun.State.COMPLETED, progress=[entry], finished_at=timezone.now())
    text = admin_client.get(run_url(app, run)).text
    assert "1.</span>" in text and "Test connection" in text
    assert "Failure: The target answered 401 Unauthorized" in text


def test_failed_run_shows_its_error(admin_client, app):
    run = make_run(app, state=OnDemandRun.State.FAILED, error="Provisioning stopped unexpectedly: database is locked")
    text = admin_client.get(run_url(app, run)).text
    assert POLL not in text
    assert "Provisioning stopped unexpectedly: database is locked" in text


def test_run_of_another_app_is_404(admin_client, app):
    other = make_run(factories.ApplicationFactory(default_mappings=False))
    assert admin_client.get(run_url(app, other)).status_code == 404


# End to end: the page, a real Celery worker, a real SCIM server


@pytest.mark.django_db(transaction=True)
def test_provision_on_demand_through_a_real_worker(celery_worker, scim_app):
    admin = factories.UserFactory(role=ADMINISTRATORS)
    client = Client()
    client.force_login(admin)
    jane = factories.DirectoryUserFactory(given_name="Jane", surname="Doe", display_name="Jane Doe")
    factories.AssignmentFactory(application=scim_app, user=jane)

    response = client.post(page(scim_app), {"subject": f"user:{jane.pk}"})
    assert response.status_code == 302
    run = OnDemandRun.objects.get()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = client.get(response.url, **HX).text
        if POLL not in text:
            break
        time.sleep(0.2)
    assert POLL not in text, "the run did not finish within 30 seconds"
    run.refresh_from_db()
    assert run.state == OnDemandRun.State.COMPLETED, run.error
    assert f"Success: User &#x27;Jane Doe&#x27; was created in {scim_app.name}" in text
    for number, name in [(2, "Import user"), (3, "Determine if user is in scope"), (4, "Match user between source and target system"), (5, "Perform action")]:
        assert re.search(rf"{number}\.</span>\s*<span class=\"step-name\">{name}</span>\s*<span class=\"pill pill-success\">", text), name
    assert "View in provisioning logs" in text


def test_run_page_history_restore_gets_the_whole_page(admin_client, app):
    run = make_run(app, state=OnDemandRun.State.COMPLETED)
    response = admin_client.get(run_url(app, run), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.text
    assert "HX-Request" in response["Vary"]


def test_a_group_entry_in_progress_names_its_steps_for_a_group(admin_client, app):
    group_entry = {
        "subject": {"source_id": "5f0c1b7e-0000-4000-8000-0000000group", "display_name": "Pilot users", "upn": "", "kind": "group"},
        "status": "running", "action": None, "log_id": None,
        "steps": [step("import", "Import group", description="Retrieved Group 'Pilot users' from the directory")],
    }
    run = make_run(app, state=OnDemandRun.State.RUNNING, progress=[group_entry])

    text = admin_client.get(run_url(app, run)).content.decode()

    assert "Pilot users" in text and "Import group" in text
    assert "Determine if group is in scope" in text and "Match group between source and target system" in text
    assert "Determine if user is in scope" not in text
