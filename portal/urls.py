from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from provisioning.api.main import urls as api_urls
from provisioning.views import jwks
from provisioning.views.metrics import metrics

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="auth/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", api_urls()),
    path("metrics", metrics, name="metrics"),
    *jwks.urlpatterns,
    path("", include("provisioning.urls")),
]

# Request-size limits answered in words (provisioning/views/errors.py).
handler400 = "provisioning.views.errors.bad_request"
