from django.contrib import admin

from provisioning.models import DirectoryGroup, DirectoryUser


@admin.register(DirectoryUser)
class DirectoryUserAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user_principal_name", "department", "job_title", "account_enabled"]
    list_filter = ["department", "account_enabled"]
    search_fields = ["display_name", "user_principal_name", "given_name", "surname", "mail", "employee_id"]
    readonly_fields = ["object_id", "created_at", "updated_at"]
    autocomplete_fields = ["manager"]


@admin.register(DirectoryGroup)
class DirectoryGroupAdmin(admin.ModelAdmin):
    list_display = ["display_name", "description", "security_enabled"]
    search_fields = ["display_name", "description"]
    readonly_fields = ["object_id", "created_at", "updated_at"]
    filter_horizontal = ["members"]
