"""The directory in the Django admin, for the portal's Administrators (the group, not only superusers)."""

from django.contrib import admin

from provisioning.models import DirectoryGroup, DirectoryUser
from provisioning.roles import is_administrator

_default_has_permission = admin.site.has_permission


def _portal_admin_site_permission(request):
    # Administrators reach the directory admin without being staff; other models keep Django's rules.
    return (request.user.is_active and is_administrator(request.user)) or _default_has_permission(request)


admin.site.has_permission = _portal_admin_site_permission
admin.site.site_header = "Provisioning Portal — Directory"
admin.site.site_title = "Provisioning Portal"
admin.site.site_url = "/"


class AdministratorsEdit:
    """Administrators may browse, create, edit and delete directory objects; Helpdesk may not."""

    def has_module_permission(self, request):
        return is_administrator(request.user)

    def has_view_permission(self, request, obj=None):
        return is_administrator(request.user)

    has_add_permission = has_module_permission
    has_change_permission = has_view_permission
    has_delete_permission = has_view_permission


@admin.register(DirectoryUser)
class DirectoryUserAdmin(AdministratorsEdit, admin.ModelAdmin):
    list_display = ["display_name", "user_principal_name", "department", "job_title", "account_enabled"]
    list_filter = ["department", "account_enabled"]
    search_fields = ["display_name", "user_principal_name", "given_name", "surname", "mail", "employee_id"]
    readonly_fields = ["object_id", "created_at", "updated_at"]
    autocomplete_fields = ["manager"]


@admin.register(DirectoryGroup)
class DirectoryGroupAdmin(AdministratorsEdit, admin.ModelAdmin):
    list_display = ["display_name", "description", "security_enabled"]
    search_fields = ["display_name", "description"]
    readonly_fields = ["object_id", "created_at", "updated_at"]
    filter_horizontal = ["members"]
