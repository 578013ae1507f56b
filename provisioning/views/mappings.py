"""Views: mappings (to be written)."""

urlpatterns = []
