"""Provision on demand: request validation, the run's live progress, and the real Celery worker path."""

import logging
import time

import httpx
import pytest
from django.core import mail

from provisioning import tasks
from provisioning.engine.on_demand import OnDemandRequestError, provision_on_demand, request_on_demand, request_retry
from provisioning.models import OnDemandRun, ProvisioningLog
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def group_of_seven(scim_app):
    members = factories.DirectoryUserFactory.create_batch(7)
    group = factories.DirectoryGroupFactory(display_name="Pilot users", members=members)
    factories.AssignmentFactory(application=scim_app, user=None, group=group)
    return group


def test_group_members_are_limited_to_five(scim_app, group_of_seven):
    ids = list(group_of_seven.members.values_list("pk", flat=True))
    with pytest.raises(OnDemandRequestError, match="at most 5 members of the group: you selected 7"):
        request_on_demand(scim_app, user_ids=ids, group_id=group_of_seven.pk)
    run = request_on_demand(scim_app, user_ids=ids[:5], group_id=group_of_seven.pk)
    assert run.users.count() == 5 and run.state == "queued"


def test_users_outside_the_group_are_refused(scim_app, group_of_seven):
    outsider = factories.DirectoryUserFactory()
    with pytest.raises(OnDemandRequestError, match="not members of 'Pilot users'"):
        request_on_demand(scim_app, user_ids=[outsider.pk], group_id=group_of_seven.pk)


def test_exactly_one_user_without_a_group(scim_app):
    a, b = factories.DirectoryUserFactory.create_batch(2)
    with pytest.raises(OnDemandRequestError, match="Select one user"):
        request_on_demand(scim_app, user_ids=[a.pk, b.pk])
    with pytest.raises(OnDemandRequestError, match="Select one user"):
        request_on_demand(scim_app, user_ids=[])


def test_unconfigured_app_is_refused_with_the_fix(db):
    app = factories.ApplicationFactory(provisioning_mode="manual")
    user = factories.DirectoryUserFactory()
    with pytest.raises(OnDemandRequestError, match="Provisioning Mode to Automatic"):
        request_on_demand(app, user_ids=[user.pk])


def test_provision_on_demand_records_progress_and_logs(scim_app, scim_server, group_of_seven):
    ids = list(group_of_seven.members.values_list("pk", flat=True))[:5]
    run = request_on_demand(scim_app, user_ids=ids, group_id=group_of_seven.pk)

    logs = provision_on_demand(run)

    run.refresh_from_db()
    assert run.state == "completed" and run.finished_at
    # The five members, then the group with just those memberships (as Entra provisions a group on demand).
    assert [log.object_type for log in logs] == ["user"] * 5 + ["group"]
    assert all(log.status == "success" and log.action == "create" for log in logs), [log.error_description for log in logs]
    assert [entry["log_id"] for entry in run.progress] == [log.pk for log in logs]
    # The steps are in each log entry (written as they completed), not copied into the run.
    assert all([s["key"] for s in log.steps] == ["import", "scope", "match", "action"] for log in logs)
    assert all("steps" not in entry for entry in run.progress)
    assert run.progress[-1]["subject"]["kind"] == "group"
    group = httpx.get(f"{scim_app.tenant_url}/Groups/{logs[-1].target_id}", headers={"Authorization": f"Bearer {scim_server.token}"}).json()
    assert sorted(m["value"] for m in group["members"]) == sorted(log.target_id for log in logs[:5])
    # Running it again does nothing: the run is no longer queued.
    assert len(provision_on_demand(run)) == 6


def test_connection_failure_shows_the_test_connection_step(scim_app, db):
    scim_app.set_secret_token("not-the-token")
    scim_app.notify_on_failure = True
    scim_app.save()
    user = factories.DirectoryUserFactory()
    factories.AssignmentFactory(application=scim_app, user=user)
    run = request_on_demand(scim_app, user_ids=[user.pk])

    [log] = provision_on_demand(run)

    assert log.status == "failure"
    assert [s["key"] for s in log.steps] == ["test_connection"]
    assert len(mail.outbox) == 1
    assert "not-the-token" not in mail.outbox[0].body


def test_task_runs_through_a_real_celery_worker(celery_worker, scim_app):
    user = factories.DirectoryUserFactory(display_name="Worker Tested")
    factories.AssignmentFactory(application=scim_app, user=user)
    run = request_on_demand(scim_app, user_ids=[user.pk])

    tasks.run_on_demand.delay(run.pk)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.state in (OnDemandRun.State.COMPLETED, OnDemandRun.State.FAILED):
            break
        time.sleep(0.1)
    assert run.state == OnDemandRun.State.COMPLETED, run.error
    log = ProvisioningLog.objects.get(pk=run.progress[0]["log_id"])
    assert (log.status, log.action) == ("success", "create"), log.error_description


def test_the_secret_token_never_reaches_a_log_record(scim_app, scim_server, caplog):
    caplog.set_level(logging.DEBUG)
    user = factories.DirectoryUserFactory()
    factories.AssignmentFactory(application=scim_app, user=user)
    provision_on_demand(request_on_demand(scim_app, user_ids=[user.pk]))
    scim_app.set_secret_token("wrong-but-secret-token-4711")
    scim_app.save()
    provision_on_demand(request_on_demand(scim_app, user_ids=[user.pk]))

    assert caplog.records, "nothing was logged: the test would prove nothing"
    assert scim_server.token not in caplog.text
    assert "wrong-but-secret-token-4711" not in caplog.text


# Retry of a failed log entry


def _failed_entry(app, subject, object_type="user"):
    return factories.ProvisioningLogFactory(application=app, object_type=object_type, source_id=str(subject.object_id),
                                            source_display_name=subject.display_name, status="failure",
                                            error_code="InternalServerError")


def test_retry_runs_the_object_now_and_links_the_new_entry_to_the_old(scim_app, scim_server):
    user = factories.DirectoryUserFactory(display_name="Ravi Retry")
    factories.AssignmentFactory(application=scim_app, user=user)
    failed = _failed_entry(scim_app, user)
    admin = factories.AdministratorFactory()

    run = request_retry(failed, requested_by=admin)
    [entry] = provision_on_demand(run)

    assert entry.status == "success" and entry.action == "create", entry.error_description
    assert entry.retry_of_id == failed.pk and list(failed.retries.all()) == [entry]
    assert entry.initiated_by == "on_demand" and entry.initiated_by_user == admin.get_username()
    assert entry.traffic  # the same pipeline: its requests are recorded too


def test_retry_of_a_group_provisions_the_whole_group(scim_app, scim_server, group_of_seven):
    for member in group_of_seven.members.all():
        provision_on_demand(request_on_demand(scim_app, user_ids=[member.pk]))
    failed = _failed_entry(scim_app, group_of_seven, "group")
    [entry] = provision_on_demand(request_retry(failed))
    assert entry.status == "success" and entry.object_type == "group", entry.error_description
    assert entry.retry_of_id == failed.pk
    assert {"name": "members", "old": "0 members", "new": "7 members (+7, −0)", "added": 7, "removed": 0} in entry.modified_properties


@pytest.mark.parametrize("status", ["success", "skipped"])
def test_only_failed_entries_are_retried(scim_app, status):
    user = factories.DirectoryUserFactory()
    entry = factories.ProvisioningLogFactory(application=scim_app, source_id=str(user.object_id), status=status)
    with pytest.raises(OnDemandRequestError, match="Only failed entries can be retried"):
        request_retry(entry)


def test_retry_of_an_object_gone_from_the_directory_says_so(scim_app):
    entry = factories.ProvisioningLogFactory(application=scim_app, source_id="9d7f5a52-0000-4000-8000-000000000000",
                                             source_display_name="Gone Person", status="failure")
    with pytest.raises(OnDemandRequestError, match="'Gone Person' is no longer in the directory"):
        request_retry(entry)


def test_a_cycle_entry_is_not_retried_but_says_what_to_do(scim_app):
    entry = factories.ProvisioningLogFactory(application=scim_app, object_type="cycle", source_id="x", status="failure")
    with pytest.raises(OnDemandRequestError, match="Restart provisioning"):
        request_retry(entry)
