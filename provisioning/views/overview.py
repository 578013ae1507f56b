"""Views: overview (to be written)."""

urlpatterns = []
