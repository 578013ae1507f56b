"""URL map. Each area's routes live beside its views (provisioning/views/<area>.py: `urlpatterns`)."""

from django.urls import include, path

app_name = "apps"

urlpatterns = []
