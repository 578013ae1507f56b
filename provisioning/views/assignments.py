"""Views: assignments (to be written)."""

urlpatterns = []
