import pytest
from django.core import mail

from provisioning.notifications import notify_cycle_failure, notify_failures
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def app():
    return factories.ApplicationFactory(notify_on_failure=True, notification_email="oncall@contoso.example", secret_token="s3cr3t-token-xyz")


def test_one_email_per_run_with_counts_and_a_link_to_the_filtered_logs(app):
    cycle = factories.ProvisioningCycleFactory(application=app)
    logs = [
        factories.ProvisioningLogFactory(application=app, cycle=cycle, status="failure", error_code="Unauthorized", error_description="denied"),
        factories.ProvisioningLogFactory(application=app, cycle=cycle, status="failure", error_code="Conflict", error_description="dup"),
        factories.ProvisioningLogFactory(application=app, cycle=cycle, status="success"),
    ]
    assert notify_failures(app, logs, cycle=cycle)
    [message] = mail.outbox
    assert message.to == ["oncall@contoso.example"]
    assert "2 provisioning failure(s)" in message.subject
    assert "2 of 3 objects failed" in message.body and "Failure 2, Success 1" in message.body
    assert f"/apps/{app.pk}/provisioning-logs/?status=failure&cycle={cycle.cycle_id}" in message.body
    assert "s3cr3t-token-xyz" not in message.body


def test_no_email_without_failures_or_when_the_setting_is_off(app):
    ok = [factories.ProvisioningLogFactory(application=app, status="success")]
    assert not notify_failures(app, ok)
    app.notify_on_failure = False
    failed = [factories.ProvisioningLogFactory(application=app, status="failure")]
    assert not notify_failures(app, failed)
    assert mail.outbox == []


def test_cycle_failure_email(app):
    cycle = factories.ProvisioningCycleFactory(application=app, state="failed", error="Test connection failed: 401")
    assert notify_cycle_failure(app, cycle)
    assert "Test connection failed: 401" in mail.outbox[0].body
