"""Sign-in throttling and lockout (django-axes, provisioning/views/sign_in.py) and how refusals are logged."""

import datetime
import logging

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from tests import factories

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


def sign_in(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def test_five_failures_lock_the_user_name_from_that_address_and_the_page_says_why(caplog, settings):
    admin = factories.AdministratorFactory(username="ada")
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in(attacker, "ada", "guess")
        assert response.status_code == 200 and "Check your user name and password" in response.text

    caplog.set_level(logging.WARNING)
    response = sign_in(attacker, "ada", "guess")
    assert response.status_code == 429
    assert "Sign-in for “ada” is locked after 5 failed attempts from this computer." in response.text
    assert "Try again in 15 minutes" in response.text
    # Even the right password is refused now, with the same explanation.
    response = sign_in(attacker, "ada", PASSWORD)
    assert response.status_code == 429 and "is locked" in response.text
    assert "_auth_user_id" not in attacker.session

    lines = [r for r in caplog.records if r.name == "provisioning.sign_in"]
    assert lines and lines[0].levelname == "WARNING" and not lines[0].exc_info
    assert lines[0].getMessage() == ("Sign-in locked out: user name 'ada' from 203.0.113.7 after 5 failed attempts; "
                                     "refused for 15 minutes from the last attempt.")

    # The same user name from another address still signs in: nobody can lock an admin out from afar.
    office = Client(REMOTE_ADDR="198.51.100.20")
    assert sign_in(office, "ada", PASSWORD).status_code == 302
    assert office.session["_auth_user_id"] == str(admin.pk)


def test_the_lock_ends_after_the_cool_off_and_a_success_clears_the_count(settings):
    factories.AdministratorFactory(username="bea")
    client = Client(REMOTE_ADDR="203.0.113.8")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "bea", "guess")
    assert sign_in(client, "bea", PASSWORD).status_code == 429

    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - datetime.timedelta(seconds=1))
    assert sign_in(client, "bea", PASSWORD).status_code == 302
    assert not AccessAttempt.objects.exists()


def test_a_403_is_one_warning_line_without_a_traceback(caplog):
    helpdesk = factories.HelpdeskFactory(username="hal")
    client = Client(raise_request_exception=False)
    client.force_login(helpdesk)
    caplog.set_level(logging.WARNING)
    response = client.post("/apps/new/", {"name": "Slack"})
    assert response.status_code == 403
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.levelname == "WARNING" and record.exc_info is None
    assert record.getMessage() == "Forbidden (Permission denied): /apps/new/ (user hal): Only Administrators can do this."
    assert "Traceback" not in caplog.text


def test_a_csrf_refusal_is_one_warning_line_too(admin_user, caplog):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    caplog.set_level(logging.WARNING)
    assert client.post("/apps/new/", {"name": "Slack"}).status_code == 403
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("django.")]
    assert record.levelname == "WARNING" and record.exc_info is None
    assert "Forbidden (CSRF" in record.getMessage()
