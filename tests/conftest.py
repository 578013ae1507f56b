"""Fixtures for real services: the database (pytest-django), a SCIM server, a Celery worker."""

import pytest
from celery.signals import task_postrun
from django.db import connections
from django.test import Client

from tests import factories
from tests.servers import start_scim_server


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    # PBKDF2 costs ~1 s per login created; the tests are not about hashing.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def scim_server():
    server = start_scim_server()
    yield server
    server.stop()


@pytest.fixture
def scim_tenant_url(scim_server):
    """A fresh, empty tenant on the real scim2-server."""
    return scim_server.tenant_url()


@pytest.fixture
def scim_app(db, scim_server, scim_tenant_url):
    """An Automatic-mode application pointed at a fresh tenant of the real SCIM server, with default mappings."""
    return factories.ApplicationFactory(tenant_url=scim_tenant_url, secret_token=scim_server.token)


@pytest.fixture
def admin_user(db):
    return factories.AdministratorFactory()


@pytest.fixture
def helpdesk_user(db):
    return factories.HelpdeskFactory()


@pytest.fixture
def admin_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def helpdesk_client(helpdesk_user):
    client = Client()
    client.force_login(helpdesk_user)
    return client


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker (in a thread of this process) consuming from the configured broker."""
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    app.loader.import_default_modules()
    # Worker threads open their own database connections; close them after each task, or PostgreSQL
    # refuses to drop the test database at the end ("being accessed by other users").
    task_postrun.connect(_close_thread_connections)
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=30) as worker:
            yield worker
    finally:
        task_postrun.disconnect(_close_thread_connections)


def _close_thread_connections(**kwargs):
    connections.close_all()
