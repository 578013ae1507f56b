"""Every operation against scim2-server, stock (strict RFC) and with Entra's request policy, in both request modes.

Stock scim2-server refuses the ADSCIM Group schema Entra-compatible mode puts in a group's create (see
shared/reference/scim-targets.md), so that combination checks users and the clear failure of the group."""

import pytest

from tests import factories
from tests.servers import start_scim_server
from tests.targets.flow import every_operation, full_cycles

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def policy_server():
    server = start_scim_server(extra_args=["--entra-policy"])
    yield server
    server.stop()


@pytest.mark.parametrize("entra", [False, True], ids=["rfc", "entra"])
def test_stock(scim_server, entra):
    app = factories.ApplicationFactory(tenant_url=scim_server.tenant_url(), secret_token=scim_server.token, entra_compatible=entra)
    every_operation(app, scim_server.token, group_create_fails="ADSCIM" if entra else "")


@pytest.mark.parametrize("entra", [False, True], ids=["rfc", "entra"])
def test_with_entras_request_policy(policy_server, entra):
    app = factories.ApplicationFactory(tenant_url=policy_server.tenant_url(), secret_token=policy_server.token, entra_compatible=entra)
    every_operation(app, policy_server.token)


@pytest.mark.parametrize("entra", [False, True], ids=["rfc", "entra"])
def test_full_cycles_with_entras_request_policy(policy_server, entra):
    app = factories.ApplicationFactory(tenant_url=policy_server.tenant_url(), secret_token=policy_server.token, entra_compatible=entra)
    full_cycles(app, policy_server.token)


def test_full_cycles_stock_rfc(scim_server):
    app = factories.ApplicationFactory(tenant_url=scim_server.tenant_url(), secret_token=scim_server.token)
    full_cycles(app, scim_server.token)
