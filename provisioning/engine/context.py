"""What one run (an on-demand request or a cycle) loads once and every object reuses."""

from dataclasses import dataclass, field
from functools import cached_property

from django.conf import settings
from django.db.models import Prefetch

from provisioning.models import (
    Application,
    Assignment,
    AttributeMapping,
    DirectoryUser,
    ObjectMapping,
    ProvisioningLog,
    ScopingFilter,
)
from provisioning.scim import ScimClient
from provisioning.scoping import Clause, ScopingFilterSpec


@dataclass
class RunContext:
    application: Application
    initiated_by: str  # ProvisioningLog.InitiatedBy
    initiated_by_user: str = ""
    cycle: object = None  # ProvisioningCycle | None
    on_demand_run: object = None  # OnDemandRun | None
    _client: ScimClient | None = field(default=None, repr=False)

    @cached_property
    def object_mappings(self):
        """ObjectMapping by object type, with attribute mappings and scoping filters prefetched."""
        mappings = ObjectMapping.objects.filter(application=self.application).prefetch_related(
            Prefetch("attribute_mappings", queryset=AttributeMapping.objects.order_by("position", "id")),
            Prefetch("scoping_filters", queryset=ScopingFilter.objects.prefetch_related("clauses")),
        )
        return {m.object_type: m for m in mappings}

    def scoping_filters(self, object_type):
        mapping = self.object_mappings.get(object_type)
        if mapping is None:
            return ()
        return tuple(
            ScopingFilterSpec(
                title=f.title,
                clauses=tuple(Clause(c.attribute, c.operator, c.value) for c in f.clauses.all()),
            )
            for f in mapping.scoping_filters.all()
        )

    @cached_property
    def assigned_user_ids(self):
        """Directory user ids assigned directly or as direct members of an assigned group (no nesting, as Entra)."""
        direct = Assignment.objects.filter(application=self.application, user__isnull=False).values_list("user_id", flat=True)
        via_groups = DirectoryUser.objects.filter(
            groups__assignment__application=self.application
        ).values_list("id", flat=True)
        return set(direct) | set(via_groups)

    @cached_property
    def assigned_group_ids(self):
        return set(Assignment.objects.filter(application=self.application, group__isnull=False).values_list("group_id", flat=True))

    def is_assigned(self, user):
        return user.id in self.assigned_user_ids

    @property
    def sync_all(self):
        return self.application.scope == Application.Scope.ALL

    @property
    def client(self):
        if self._client is None:
            self._client = ScimClient(
                self.application.tenant_url,
                self.application.get_secret_token(),
                timeout=settings.SCIM_TIMEOUT_SECONDS,
            )
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    def log_fields(self):
        return {
            "application": self.application,
            "cycle": self.cycle,
            "on_demand_run": self.on_demand_run,
            "initiated_by": self.initiated_by,
            "initiated_by_user": self.initiated_by_user,
        }


INITIATED_BY = ProvisioningLog.InitiatedBy
