"""Filters of the Provisioning logs page, as Entra offers them: Date, Status, Action, Identity, Cycle ID, Change ID.

Every filter lives in the query string, so a filtered view can be shared (the failure email links here with
`?status=failure&cycle=<Cycle ID>` or `&run=<on-demand run>`). Bad values become form errors that name the
filter and say what to enter; the view shows them instead of a table.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import django_filters
from django import forms
from django.db.models import Count, Q
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from provisioning.models import ProvisioningCycle, ProvisioningLog

# Entra's date presets, newest window first; "" (Any time) is ours: old cycles linked from emails stay visible.
DATE_PRESETS = [
    ("24h", "24 hours"),
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("1m", "One month"),
    ("custom", "Custom time interval"),
]
_PRESET_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}

# The activity chart: per hour up to a week, per day beyond, and never more than 92 days of bars.
HOURLY_UP_TO = timedelta(days=7)
CHART_AT_MOST = timedelta(days=92)
CHART_ANY_TIME = timedelta(hours=24)

# Identity terms shorter than this match the start of a word, not anywhere (see filter_identity).
SHORT_TERM = 3


def _one_month_before(moment):
    """The same day and time one calendar month earlier (31 March → 28/29 February)."""
    year, month = (moment.year, moment.month - 1) if moment.month > 1 else (moment.year - 1, 12)
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


class LogFilterForm(forms.Form):
    """Cross-field checks the single filters cannot make: a custom interval needs an order and an end."""

    def clean(self):
        cleaned = super().clean()
        date = cleaned.get("date")
        start, end = cleaned.get("start"), cleaned.get("end")
        if date == "custom" and not (start or end) and not self.has_error("start") and not self.has_error("end"):
            self.add_error("start", "Enter a start or an end (or both) for a custom time interval.")
        if date and date != "custom" and (start or end):
            self.add_error("date", "Start and end apply to a custom time interval: choose Custom time interval.")
        if start and end and start > end:
            self.add_error("end", "The end must be after the start.")
        return cleaned


class ProvisioningLogFilterSet(django_filters.FilterSet):
    date = django_filters.ChoiceFilter(
        label="Date",
        choices=DATE_PRESETS,
        empty_label="Any time",
        method="filter_date",
        error_messages={"invalid_choice": "Choose a date range from the list (%(value)s is not one)."},
    )
    start = django_filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        label="Start",
        error_messages={"invalid": "Enter the start as a date and time, e.g. 2025-11-23T09:00."},
    )
    end = django_filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="lte",
        label="End",
        error_messages={"invalid": "Enter the end as a date and time, e.g. 2025-11-23T18:00."},
    )
    status = django_filters.ChoiceFilter(
        label="Status",
        choices=ProvisioningLog.Status.choices,
        empty_label="All",
        error_messages={"invalid_choice": "Status must be Success, Failure, Skipped or Warning (%(value)s is not one)."},
    )
    action = django_filters.ChoiceFilter(
        label="Action",
        choices=ProvisioningLog.Action.choices,
        empty_label="All",
        error_messages={
            "invalid_choice": "Action must be Create, Update, Delete, Disable or Other (%(value)s is not one)."
        },
    )
    identity = django_filters.CharFilter(
        label="Identity",
        method="filter_identity",
        max_length=256,
        help_text="Display name, user principal name, source ID or target ID",
    )
    cycle = django_filters.UUIDFilter(
        label="Cycle ID",
        method="filter_cycle",
        error_messages={"invalid": "A Cycle ID is a GUID like 3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f."},
    )
    change = django_filters.UUIDFilter(
        label="Change ID",
        field_name="change_id",
        error_messages={"invalid": "A Change ID is a GUID like 3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f."},
    )
    error_code = django_filters.CharFilter(
        label="Error code",
        field_name="error_code",
        max_length=128,
        help_text="e.g. TooManyRequests, as the Overview's failure reasons link to it",
    )
    run = django_filters.NumberFilter(
        label="On-demand run",
        field_name="on_demand_run_id",
        min_value=1,
        error_messages={
            "invalid": "An on-demand run is a number, as in the link of its email.",
            "min_value": "An on-demand run is a number from 1 up, as in the link of its email.",
        },
    )

    class Meta:
        model = ProvisioningLog
        fields = []  # all declared above, in the order the page shows them
        form = LogFilterForm

    def filter_date(self, queryset, name, value):
        # "custom" is carried by start/end; the presets count back from now.
        now = timezone.now()
        if value in _PRESET_WINDOWS:
            return queryset.filter(created_at__gte=now - _PRESET_WINDOWS[value])
        if value == "1m":
            return queryset.filter(created_at__gte=_one_month_before(now))
        return queryset

    def filter_identity(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # An ID (or a whole UPN) matches exactly, through an index. Only when nothing has that ID do names
        # match, case-insensitively, as Entra's Identity box does: OR-ing both in one query would make the
        # database scan every entry even for an ID.
        if " " not in value:
            by_id = queryset.filter(Q(source_id=value) | Q(target_id=value))
            if by_id.exists():
                return by_id
            if "@" in value:
                by_upn = queryset.filter(source_upn__iexact=value)
                if by_upn.exists():
                    return by_upn
        if len(value) < SHORT_TERM:
            # Trigram indexes cannot serve "contains" under three letters (a full scan of the log table);
            # they can serve "a word starts with", which is what a short term usually means (Wu, Xu, Li).
            words = Q(source_display_name__istartswith=value) | Q(source_upn__istartswith=value)
            for separator in " -":
                words |= Q(source_display_name__icontains=separator + value)
            for separator in ".-_":
                words |= Q(source_upn__icontains=separator + value)
            return queryset.filter(words)
        return queryset.filter(Q(source_display_name__icontains=value) | Q(source_upn__icontains=value))

    def filter_cycle(self, queryset, name, value):
        # Filter on the cycle's primary key (the indexed foreign key) rather than joining on its GUID: with the join
        # the database walks the Date index of the whole table looking for the cycle's entries.
        cycle_pk = ProvisioningCycle.objects.filter(cycle_id=value).values_list("pk", flat=True).first()
        return queryset.filter(cycle_id=cycle_pk) if cycle_pk else queryset.none()

    def outcomes(self, now=None):
        """Successes and failures of the filtered entries per hour (per day over a week): one aggregate query,
        plus one indexed look-up of the newest entry when no date is chosen (the chart then shows the 24 hours
        up to it, so an old cycle's entries are still drawn)."""
        now = now or timezone.now()
        data = self.form.cleaned_data if self.is_bound else {}
        preset, start, end = data.get("date"), data.get("start"), data.get("end")
        queryset = self.qs.order_by()
        if preset in _PRESET_WINDOWS:
            start, end = now - _PRESET_WINDOWS[preset], now
        elif preset == "1m":
            start, end = _one_month_before(now), now
        elif not (start or end):
            newest = queryset.order_by("-created_at").values_list("created_at", flat=True).first()
            if newest is None:
                return Outcomes([], "hour", "")
            start, end = newest - CHART_ANY_TIME, newest
        end = end or now
        start = max(start or end - CHART_ANY_TIME, end - CHART_AT_MOST)
        per, trunc = ("hour", TruncHour) if end - start <= HOURLY_UP_TO else ("day", TruncDay)
        tz = timezone.get_current_timezone()
        rows = (queryset.filter(created_at__gte=start, created_at__lte=end)
                .annotate(bucket=trunc("created_at", tzinfo=tz)).values("bucket")
                .annotate(success=Count("id", filter=Q(status=ProvisioningLog.Status.SUCCESS)),
                          failure=Count("id", filter=Q(status=ProvisioningLog.Status.FAILURE)))
                .order_by("bucket"))
        found = {row["bucket"]: (row["success"], row["failure"]) for row in rows}
        buckets = [(moment, *found.get(moment, (0, 0))) for moment in _bucket_starts(start, end, per, tz)]
        local = "%-m/%-d/%Y, %-I:%M %p"
        window = f"{timezone.localtime(start, tz).strftime(local)} to {timezone.localtime(end, tz).strftime(local)}"
        return Outcomes(buckets, per, window)

    @property
    def is_filtered(self):
        """True when any filter has a value (the page then offers "Clear filters")."""
        return self.is_bound and any(self.form.data.get(name) for name in self.filters)


@dataclass(frozen=True)
class Outcomes:
    buckets: list  # [(start of the hour or day, successes, failures)], oldest first, empty hours included
    per: str  # "hour" | "day"
    window: str  # "11/30/2026, 2:00 PM to 12/1/2026, 2:00 PM"


def _bucket_starts(start, end, per, tz):
    """Every hour (or local day) from the one holding start to the one holding end, as the database truncates."""
    local = timezone.localtime(start, tz)
    if per == "hour":
        moment = local.replace(minute=0, second=0, microsecond=0)
        while moment <= end:
            yield moment
            moment = timezone.localtime(moment + timedelta(hours=1), tz)
        return
    day = local.date()
    while True:
        moment = timezone.make_aware(datetime(day.year, day.month, day.day), tz)
        if moment > end:
            return
        yield moment
        day += timedelta(days=1)
