"""Entra's default SCIM attribute mappings for a new application (customappsso / scim templates)."""

from django.db import transaction

from provisioning.models import AttributeMapping, ObjectMapping

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

Direct = AttributeMapping.MappingType.DIRECT
Expression = AttributeMapping.MappingType.EXPRESSION

# (mapping type, source attribute or expression, target attribute, extra fields)
DEFAULT_USER_MAPPINGS = [
    (Direct, "userPrincipalName", "userName", {"is_matching": True, "matching_precedence": 1, "required": True}),
    # Entra maps the computed IsSoftDeleted to active; Not() turns "soft-deleted" into "active".
    (Expression, "Not([IsSoftDeleted])", "active", {}),
    (Direct, "displayName", "displayName", {}),
    (Direct, "jobTitle", "title", {}),
    (Direct, "mail", 'emails[type eq "work"].value', {}),
    (Direct, "givenName", "name.givenName", {}),
    (Direct, "surname", "name.familyName", {}),
    (Expression, 'Join(" ", [givenName], [surname])', "name.formatted", {}),
    (Direct, "mailNickname", "externalId", {}),
    (Direct, "employeeId", f"{ENTERPRISE}:employeeNumber", {}),
    (Direct, "department", f"{ENTERPRISE}:department", {}),
    (Direct, "manager", f"{ENTERPRISE}:manager", {}),
]

DEFAULT_GROUP_MAPPINGS = [
    (Direct, "displayName", "displayName", {"is_matching": True, "matching_precedence": 1, "required": True}),
    (Direct, "objectId", "externalId", {}),
    (Direct, "members", "members", {}),
]

DEFAULT_OBJECT_MAPPINGS = [
    (ObjectMapping.ObjectType.USER, "Provision Directory Users", CORE_USER, DEFAULT_USER_MAPPINGS),
    (ObjectMapping.ObjectType.GROUP, "Provision Directory Groups", CORE_GROUP, DEFAULT_GROUP_MAPPINGS),
]


def attribute_mapping_fields(mapping_type, source, target, extra, position):
    fields = {"mapping_type": mapping_type, "target_attribute": target, "position": position, **extra}
    if mapping_type == Expression:
        fields["expression"] = source
    else:
        fields["source_attribute"] = source
    return fields


@transaction.atomic
def install_default_mappings(application):
    """Give the application Entra's default object and attribute mappings, replacing what it had.

    Used for a new application and by "Restore default mappings" (which also clears scoping filters).
    """
    application.object_mappings.all().delete()
    for object_type, name, target_object, mappings in DEFAULT_OBJECT_MAPPINGS:
        object_mapping = ObjectMapping.objects.create(
            application=application, object_type=object_type, name=name, target_object=target_object
        )
        AttributeMapping.objects.bulk_create(
            AttributeMapping(object_mapping=object_mapping, **attribute_mapping_fields(t, s, tgt, extra, i))
            for i, (t, s, tgt, extra) in enumerate(mappings)
        )
