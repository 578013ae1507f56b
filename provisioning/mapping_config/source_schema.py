"""The source schema: the directory attributes an object type offers (the dropdowns' choices and what
expressions and scoping clauses may read). The target's schema, read from the app, is in target_schema."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from provisioning.models import DirectoryUser, ObjectMapping
from provisioning.models.directory import COMPUTED_USER_ATTRIBUTES, GROUP_ATTRIBUTES, USER_ATTRIBUTES


@dataclass(frozen=True)
class SourceSchema:
    """The source attributes an object type offers: the dropdowns' choices and what expressions may read."""

    object_type: str
    attributes: tuple[str, ...]
    multi_valued: frozenset[str] = frozenset()

    def canonical(self, name: str) -> str | None:
        """The attribute's spelling in the schema; Entra's attribute names are case-insensitive."""
        lowered = (name or "").strip().lower()
        return next((a for a in self.attributes if a.lower() == lowered), None)

    def suggestion(self, name: str) -> str:
        """' — did you mean 'givenName'?' for a near miss, else ''."""
        by_lower = {a.lower(): a for a in self.attributes}
        close = difflib.get_close_matches((name or "").lower(), list(by_lower), n=1, cutoff=0.6)
        return f" — did you mean '{by_lower[close[0]]}'?" if close else ""

    @property
    def noun(self) -> str:
        return "directory users" if self.object_type == ObjectMapping.ObjectType.USER else "directory groups"


def source_schema(object_type: str) -> SourceSchema:
    """Directory attributes, plus for users the computed IsSoftDeleted and every extension attribute in use."""
    if object_type == ObjectMapping.ObjectType.GROUP:
        return SourceSchema(object_type, tuple(GROUP_ATTRIBUTES), frozenset({"members"}))
    extensions, multi_valued = set(), set()
    # Distinct JSON documents, not users: a directory shares a handful of extension shapes.
    documents = DirectoryUser.objects.exclude(extension_attributes={}).values_list("extension_attributes", flat=True)
    for document in documents.distinct():
        for name, value in (document or {}).items():
            extensions.add(name)
            if isinstance(value, list):
                multi_valued.add(name)
    known = {a.lower() for a in USER_ATTRIBUTES + COMPUTED_USER_ATTRIBUTES}
    extra = sorted((e for e in extensions if e.lower() not in known), key=str.lower)
    return SourceSchema(object_type, (*USER_ATTRIBUTES, *COMPUTED_USER_ATTRIBUTES, *extra), frozenset(multi_valued))
