"""Views: logs (to be written)."""

urlpatterns = []
