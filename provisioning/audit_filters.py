"""Filters of the Audit logs page, as Entra offers them: Date, Application, Category, Activity, Initiated by, Target.

All in the query string (a filtered view can be shared); a bad value is a form error naming the filter.
"""

from datetime import timedelta

import django_filters
from django.utils import timezone

from provisioning.models import Application, AuditEntry

DATE_PRESETS = [("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days")]
_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


class AuditEntryFilterSet(django_filters.FilterSet):
    date = django_filters.ChoiceFilter(
        label="Date", choices=DATE_PRESETS, empty_label="Any time", method="filter_date",
        error_messages={"invalid_choice": "Choose a date range from the list (%(value)s is not one)."},
    )
    application = django_filters.ModelChoiceFilter(
        label="Application", queryset=Application.objects.order_by("name"), empty_label="All applications",
        error_messages={"invalid_choice": "That application does not exist (any more): choose one from the list."},
    )
    category = django_filters.ChoiceFilter(
        label="Category", choices=AuditEntry.Category.choices, empty_label="All categories",
        error_messages={"invalid_choice": "Choose a category from the list (%(value)s is not one)."},
    )
    activity = django_filters.CharFilter(label="Activity", lookup_expr="icontains", max_length=128)
    initiated_by = django_filters.CharFilter(label="Initiated by (actor)", lookup_expr="icontains", max_length=150)
    target = django_filters.CharFilter(label="Target", lookup_expr="icontains", max_length=256)

    class Meta:
        model = AuditEntry
        fields = []

    def filter_date(self, queryset, name, value):
        return queryset.filter(created_at__gte=timezone.now() - _WINDOWS[value]) if value in _WINDOWS else queryset

    @property
    def is_filtered(self):
        return self.is_bound and any(self.data.get(name) for name in self.filters)
