"""View tests for the shell, Enterprise applications, Provisioning and Users and groups pages.

Temporary: tests/factories.py's AdministratorFactory/HelpdeskFactory set `role` as a plain attribute,
which shadows UserFactory's post-generation hook and reaches User() as a keyword (TypeError). Until
that is fixed there, these overrides build the same users through UserFactory(role=...); the test
modules import them so conftest's admin_client/helpdesk_client use them.
"""

import pytest

from provisioning.roles import ADMINISTRATORS, HELPDESK
from tests import factories


@pytest.fixture
def admin_user(db):
    return factories.UserFactory(role=ADMINISTRATORS)


@pytest.fixture
def helpdesk_user(db):
    return factories.UserFactory(role=HELPDESK)
