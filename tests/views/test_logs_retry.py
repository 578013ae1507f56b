"""Retry on a failed log entry: Administrators only, the same path as Provision on demand, linked both ways."""

import pytest
from django.urls import reverse

from provisioning.engine.on_demand import provision_on_demand
from provisioning.models import OnDemandRun
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed(scim_app):
    user = factories.DirectoryUserFactory(display_name="Ravi Retry")
    factories.AssignmentFactory(application=scim_app, user=user)
    return factories.ProvisioningLogFactory(application=scim_app, source_id=str(user.object_id), source_display_name="Ravi Retry",
                                            status="failure", error_code="InternalServerError", action="create")


def retry_url(entry):
    return reverse("apps:log_retry", args=[entry.application_id, entry.id])


def detail_url(entry):
    return reverse("apps:log_detail", args=[entry.application_id, entry.id])


def test_administrators_see_retry_on_a_failed_entry(admin_client, failed):
    assert retry_url(failed) in admin_client.get(detail_url(failed)).text


def test_helpdesk_sees_no_retry_and_may_not_post_it(helpdesk_client, failed):
    assert retry_url(failed) not in helpdesk_client.get(detail_url(failed)).text
    assert helpdesk_client.post(retry_url(failed)).status_code == 403
    assert not OnDemandRun.objects.exists()


def test_a_successful_entry_offers_no_retry(admin_client, scim_app):
    entry = factories.ProvisioningLogFactory(application=scim_app, status="success")
    assert retry_url(entry) not in admin_client.get(detail_url(entry)).text


def test_retry_queues_the_object_and_opens_its_run(admin_client, failed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(retry_url(failed))
    run = OnDemandRun.objects.get()
    assert response.status_code == 302 and response.url == reverse("apps:on_demand_run", args=[failed.application_id, run.id])
    assert run.retry_of_id == failed.id and list(run.users.values_list("display_name", flat=True)) == ["Ravi Retry"]
    assert len(callbacks) == 1  # the on-demand task, enqueued after commit


def test_htmx_retry_redirects_the_page(admin_client, failed):
    response = admin_client.post(retry_url(failed), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Redirect"].startswith("/apps/")


def test_both_entries_link_to_each_other(admin_client, failed, scim_server):
    admin_client.post(retry_url(failed))
    [new] = provision_on_demand(OnDemandRun.objects.get())
    old_page = admin_client.get(detail_url(failed)).text
    new_page = admin_client.get(detail_url(new)).text
    assert detail_url(new) in old_page and "Retried:" in old_page
    assert detail_url(failed) in new_page and "Retry of" in new_page


def test_a_refused_retry_says_why_on_the_entry(admin_client, scim_app):
    gone = factories.ProvisioningLogFactory(application=scim_app, status="failure", source_display_name="Gone Person",
                                            source_id="9d7f5a52-0000-4000-8000-000000000000")
    response = admin_client.post(retry_url(gone))
    assert response.status_code == 400
    assert "&#x27;Gone Person&#x27; is no longer in the directory" in response.text


def test_the_run_page_of_a_retry_links_back_to_the_failed_entry(admin_client, failed):
    response = admin_client.post(retry_url(failed))
    page = admin_client.get(response.url).text
    assert "Retry of" in page and detail_url(failed) in page
