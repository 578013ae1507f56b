"""Views: settings_page (to be written)."""

urlpatterns = []
