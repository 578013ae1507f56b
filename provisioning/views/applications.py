"""Views: applications (to be written)."""

urlpatterns = []
