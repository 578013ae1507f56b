"""provisioning.mapping_config.source_schema: the directory attributes an object type offers."""

import pytest

from provisioning.mapping_config.source_schema import source_schema
from tests import factories


@pytest.mark.django_db
def test_source_schema_adds_extension_attributes_in_use():
    factories.DirectoryUserFactory(extension_attributes={"extension_costCenter": "4711", "extension_badges": ["a", "b"]})
    factories.DirectoryUserFactory(extension_attributes={"extension_costCenter": "4712"})
    schema = source_schema("user")
    assert schema.attributes[-3:] == ("IsSoftDeleted", "extension_badges", "extension_costCenter")
    assert schema.multi_valued == {"extension_badges"}
    assert "extension_costCenter" not in source_schema("group").attributes
