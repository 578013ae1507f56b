"""Fixtures of the SCIM client tests."""

from tests.scim.misbehaving import misbehaving_server  # noqa: F401  (a fixture, shared by the modules here)
