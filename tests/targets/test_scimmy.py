"""Every operation against SCIMMY (npm scimmy 1.3.5 + scimmy-routers 1.3.2), in both request modes: a small
Express app over an in-memory store (tests/targets/scimmy_server.mjs), its npm packages installed on first
use into var/targets/scimmy (tests/targets/installs.py), node from the machine.

SCIMMY refuses `active: "False"` as a string (Entra-compatible mode learns the boolean once) and a manager
sent as a list (the portal sends `{"value": id}` in both modes); its userName filter is case-sensitive."""

import os
import shutil
import subprocess

import pytest

from provisioning.models import Application
from tests import factories
from tests.servers import free_port, wait_for_port
from tests.targets.flow import every_operation, full_cycles
from tests.targets.installs import ROOT, ensure_scimmy

pytestmark = pytest.mark.django_db
TOKEN = "scimmy-token"


@pytest.fixture(scope="module")
def scimmy():
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: install Node.js to run the SCIMMY target tests.")
    modules = ensure_scimmy() / "node_modules"
    port = free_port()
    process = subprocess.Popen([node, str(ROOT / "tests" / "targets" / "scimmy_server.mjs"), str(port), TOKEN],
                               env={**os.environ, "SCIMMY_MODULES": str(modules)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=30, process=process)
        yield f"http://127.0.0.1:{port}/scim/v2"
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize("entra", [False, True], ids=["rfc", "entra"])
def test_scimmy(scimmy, entra):
    app = factories.ApplicationFactory(tenant_url=scimmy, secret_token=TOKEN, entra_compatible=entra)
    every_operation(app, TOKEN)
    if entra:
        assert Application.objects.get(pk=app.pk).target_quirks["shapes"]["active"]["use"] == "boolean"


@pytest.mark.parametrize("entra", [False, True], ids=["rfc", "entra"])
def test_full_cycles(scimmy, entra):
    app = factories.ApplicationFactory(tenant_url=scimmy, secret_token=TOKEN, entra_compatible=entra)
    full_cycles(app, TOKEN)
