"""Attribute mappings and scoping filters, one ObjectMapping per object type of an application."""

from django.db import models


class ObjectMapping(models.Model):
    class ObjectType(models.TextChoices):
        USER = "user", "Users"
        GROUP = "group", "Groups"

    application = models.ForeignKey("provisioning.Application", on_delete=models.CASCADE, related_name="object_mappings")
    object_type = models.CharField(max_length=8, choices=ObjectType.choices)
    # Entra's names: "Provision Microsoft Entra ID Users".
    name = models.CharField(max_length=128)
    enabled = models.BooleanField(default=True)
    target_object = models.CharField(max_length=256)  # e.g. "urn:ietf:params:scim:schemas:core:2.0:User"
    # Target Object Actions
    action_create = models.BooleanField("Create", default=True)
    action_update = models.BooleanField("Update", default=True)
    action_delete = models.BooleanField("Delete", default=True)

    class Meta:
        ordering = ["object_type"]
        constraints = [models.UniqueConstraint(fields=["application", "object_type"], name="unique_object_mapping")]

    def __str__(self):
        return self.name

    @property
    def resource_type(self):
        """The SCIM endpoint: Users or Groups."""
        return "Users" if self.object_type == self.ObjectType.USER else "Groups"


class AttributeMapping(models.Model):
    class MappingType(models.TextChoices):
        DIRECT = "direct", "Direct"
        CONSTANT = "constant", "Constant"
        EXPRESSION = "expression", "Expression"
        NONE = "none", "None"

    class ApplyOn(models.TextChoices):
        ALWAYS = "always", "Always"
        CREATE_ONLY = "create_only", "Only during object creation"

    object_mapping = models.ForeignKey(ObjectMapping, on_delete=models.CASCADE, related_name="attribute_mappings")
    mapping_type = models.CharField(max_length=12, choices=MappingType.choices, default=MappingType.DIRECT)
    source_attribute = models.CharField(max_length=256, blank=True)
    constant_value = models.CharField(max_length=1024, blank=True)
    expression = models.TextField(blank=True)
    default_value = models.CharField("Default value if null", max_length=1024, blank=True)
    target_attribute = models.CharField(max_length=512)
    is_matching = models.BooleanField("Match objects using this attribute", default=False)
    matching_precedence = models.PositiveIntegerField(null=True, blank=True)
    apply_on = models.CharField("Apply this mapping", max_length=12, choices=ApplyOn.choices, default=ApplyOn.ALWAYS)
    required = models.BooleanField("Required", default=False)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["object_mapping", "target_attribute"], name="unique_target_attribute")
        ]

    def __str__(self):
        return f"{self.source_display} → {self.target_attribute}"

    @property
    def source_display(self):
        """What the mappings table shows in its source column, as Entra does."""
        if self.mapping_type == self.MappingType.DIRECT:
            return self.source_attribute
        if self.mapping_type == self.MappingType.CONSTANT:
            return f'"{self.constant_value}"'
        if self.mapping_type == self.MappingType.EXPRESSION:
            return self.expression
        return "(none)"


class ScopingFilter(models.Model):
    """A scoping filter: its clauses are AND-ed; an object mapping's filters are OR-ed."""

    object_mapping = models.ForeignKey(ObjectMapping, on_delete=models.CASCADE, related_name="scoping_filters")
    title = models.CharField("Scoping Filter Title", max_length=128)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.title


class ScopingClause(models.Model):
    scoping_filter = models.ForeignKey(ScopingFilter, on_delete=models.CASCADE, related_name="clauses")
    attribute = models.CharField("Attribute Name", max_length=256)
    operator = models.CharField(max_length=32)  # exactly as Entra spells it: "EQUALS", "REGEX MATCH", "&", …
    value = models.CharField("Attribute Value", max_length=1024, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return f"{self.attribute} {self.operator} {self.value}".strip()
