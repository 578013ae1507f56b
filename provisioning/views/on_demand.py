"""Views: on_demand (to be written)."""

urlpatterns = []
