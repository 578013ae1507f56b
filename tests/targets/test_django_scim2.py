"""Every operation against django-scim2 (0.23.0), in both request modes: a Django project of its own
(tests/targets/django_scim2_server.py) in its own virtualenv, on 127.0.0.1 with its own SQLite file.

It stores no title, no email type and no enterprise extension (so no manager), answers 501 to PATCHes of
them and to a group rename, 400 to `active: "False"`, and removes members only by a value list: the
portal learns each of these once, leaves out what cannot land and says so in a Warning."""

import subprocess

import pytest

from provisioning.models import Application
from tests import factories
from tests.servers import free_port, wait_for_port
from tests.targets.flow import every_operation, full_cycles
from tests.targets.installs import ROOT, ensure_django_scim2

pytestmark = pytest.mark.django_db
TOKEN = "django-scim2-token"


@pytest.fixture(scope="module")
def django_scim2(tmp_path_factory):
    python = ensure_django_scim2()
    port = free_port()
    database = tmp_path_factory.mktemp("django-scim2") / "db.sqlite3"
    process = subprocess.Popen([str(python), str(ROOT / "tests" / "targets" / "django_scim2_server.py"), "--port", str(port),
                                "--token", TOKEN, "--db", str(database)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=60, process=process)
        yield f"http://127.0.0.1:{port}/scim/v2"
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("entra", [False, True], ids=["rfc", "entra"])
def test_django_scim2(django_scim2, entra):
    app = factories.ApplicationFactory(tenant_url=django_scim2, secret_token=TOKEN, entra_compatible=entra)
    every_operation(app, TOKEN, keeps=frozenset())
    quirks = Application.objects.get(pk=app.pk).target_quirks
    assert "title" in quirks["dropped"]["Users"]


@pytest.mark.parametrize("entra", [False, True], ids=["rfc", "entra"])
def test_full_cycles(django_scim2, entra):
    app = factories.ApplicationFactory(tenant_url=django_scim2, secret_token=TOKEN, entra_compatible=entra)
    full_cycles(app, TOKEN, keeps=frozenset())
