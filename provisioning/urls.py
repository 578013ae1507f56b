"""URL map. Each area's routes live beside its views (provisioning/views/<area>.py: `urlpatterns`)."""

from provisioning.views import applications, assignments, audit, logs, mappings, on_demand, overview, settings_page

app_name = "apps"

urlpatterns = [
    *applications.urlpatterns,
    *overview.urlpatterns,
    *settings_page.urlpatterns,
    *assignments.urlpatterns,
    *on_demand.urlpatterns,
    *logs.urlpatterns,
    *mappings.urlpatterns,
    *audit.urlpatterns,
]
