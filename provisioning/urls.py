"""URL map. Each area's routes live beside its views (provisioning/views/<area>.py: `urlpatterns`)."""

from provisioning.views import (
    api_tokens,
    applications,
    assignments,
    audit,
    directory,
    dry_runs,
    logs,
    mappings,
    on_demand,
    overview,
    settings_page,
    webhooks,
)

app_name = "apps"

urlpatterns = [
    *applications.urlpatterns,
    *overview.urlpatterns,
    *dry_runs.urlpatterns,
    *settings_page.urlpatterns,
    *assignments.urlpatterns,
    *on_demand.urlpatterns,
    *logs.urlpatterns,
    *mappings.urlpatterns,
    *webhooks.urlpatterns,
    *api_tokens.urlpatterns,
    *audit.urlpatterns,
    *directory.urlpatterns,
]
