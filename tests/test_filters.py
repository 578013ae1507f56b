"""ProvisioningLogFilterSet: one test per filter, combinations, and the message each bad value gets."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.utils import timezone

from provisioning.filters import ProvisioningLogFilterSet, _one_month_before
from provisioning.models import ProvisioningLog
from tests.factories import (
    ApplicationFactory,
    OnDemandRunFactory,
    ProvisioningCycleFactory,
    ProvisioningLogFactory,
)

pytestmark = pytest.mark.django_db

Action = ProvisioningLog.Action
Status = ProvisioningLog.Status


@pytest.fixture
def app():
    return ApplicationFactory(default_mappings=False)


def filtered(app, **params):
    filterset = ProvisioningLogFilterSet(params, queryset=ProvisioningLog.objects.filter(application=app))
    assert filterset.is_valid(), filterset.errors
    return set(filterset.qs)


def errors(app, **params):
    filterset = ProvisioningLogFilterSet(params, queryset=ProvisioningLog.objects.filter(application=app))
    assert not filterset.is_valid()
    return filterset.errors


def log(app, **kwargs):
    return ProvisioningLogFactory(application=app, **kwargs)


def test_no_filters_returns_every_entry_of_the_queryset(app):
    entries = {log(app), log(app)}
    assert filtered(app) == entries


def test_status(app):
    failed = log(app, status=Status.FAILURE)
    log(app, status=Status.SUCCESS)
    assert filtered(app, status="failure") == {failed}


def test_status_all_is_empty_value(app):
    entries = {log(app, status=Status.FAILURE), log(app, status=Status.SKIPPED)}
    assert filtered(app, status="") == entries


def test_action(app):
    disabled = log(app, action=Action.DISABLE)
    log(app, action=Action.CREATE)
    assert filtered(app, action="disable") == {disabled}


@pytest.mark.parametrize("field", ["source_display_name", "source_upn"])
def test_identity_matches_names_anywhere_case_insensitively(app, field):
    jane = log(app, **{field: "Jane.Doe@Contoso.example" if field == "source_upn" else "Jane Doe"})
    log(app, source_display_name="Someone Else", source_upn="someone@contoso.example")
    assert filtered(app, identity="jane") == {jane}


def test_identity_matches_source_and_target_id_exactly(app):
    by_source = log(app, source_id="6a1e0d2c-0000-4000-8000-000000000001")
    by_target = log(app, target_id="T-42")
    log(app, target_id="T-420")
    assert filtered(app, identity="6a1e0d2c-0000-4000-8000-000000000001") == {by_source}
    assert filtered(app, identity="T-42") == {by_target}


def test_identity_ignores_surrounding_spaces(app):
    jane = log(app, source_display_name="Jane Doe")
    assert filtered(app, identity="  Jane  ") == {jane}


def test_cycle(app):
    cycle = ProvisioningCycleFactory(application=app)
    in_cycle = log(app, cycle=cycle)
    log(app, cycle=ProvisioningCycleFactory(application=app))
    log(app)
    assert filtered(app, cycle=str(cycle.cycle_id)) == {in_cycle}


def test_change(app):
    entry = log(app)
    log(app)
    assert filtered(app, change=str(entry.change_id)) == {entry}


def test_run(app):
    run = OnDemandRunFactory(application=app)
    entry = log(app, on_demand_run=run)
    log(app)
    assert filtered(app, run=str(run.id)) == {entry}


@pytest.mark.parametrize(
    ("preset", "inside", "outside"),
    [
        ("24h", timedelta(hours=23), timedelta(hours=25)),
        ("7d", timedelta(days=6, hours=23), timedelta(days=7, hours=1)),
        ("30d", timedelta(days=29, hours=23), timedelta(days=30, hours=1)),
    ],
)
def test_date_presets(app, preset, inside, outside):
    now = timezone.now()
    recent = log(app, created_at=now - inside)
    log(app, created_at=now - outside)
    assert filtered(app, date=preset) == {recent}


def test_date_one_month_counts_back_a_calendar_month(app):
    now = timezone.now()
    boundary = _one_month_before(now)
    recent = log(app, created_at=boundary + timedelta(minutes=5))
    log(app, created_at=boundary - timedelta(minutes=5))
    assert filtered(app, date="1m") == {recent}


def test_one_month_before_clamps_to_the_end_of_a_shorter_month():
    assert _one_month_before(datetime(2025, 3, 31, 9, tzinfo=dt_timezone.utc)) == datetime(2025, 2, 28, 9, tzinfo=dt_timezone.utc)
    assert _one_month_before(datetime(2024, 3, 31, 9, tzinfo=dt_timezone.utc)) == datetime(2024, 2, 29, 9, tzinfo=dt_timezone.utc)
    assert _one_month_before(datetime(2025, 1, 15, tzinfo=dt_timezone.utc)) == datetime(2024, 12, 15, tzinfo=dt_timezone.utc)


def test_custom_interval_with_start_and_end(app):
    inside = log(app, created_at=datetime(2025, 11, 20, 12, tzinfo=dt_timezone.utc))
    log(app, created_at=datetime(2025, 11, 19, 12, tzinfo=dt_timezone.utc))
    log(app, created_at=datetime(2025, 11, 22, 12, tzinfo=dt_timezone.utc))
    assert filtered(app, date="custom", start="2025-11-20T00:00", end="2025-11-21T00:00") == {inside}


def test_custom_interval_with_only_a_start(app):
    later = log(app, created_at=datetime(2025, 11, 20, 12, tzinfo=dt_timezone.utc))
    log(app, created_at=datetime(2025, 11, 19, 12, tzinfo=dt_timezone.utc))
    assert filtered(app, date="custom", start="2025-11-20T00:00") == {later}


def test_start_without_a_preset_applies_as_a_custom_interval(app):
    later = log(app, created_at=datetime(2025, 11, 20, 12, tzinfo=dt_timezone.utc))
    log(app, created_at=datetime(2025, 11, 19, 12, tzinfo=dt_timezone.utc))
    assert filtered(app, start="2025-11-20T00:00") == {later}


def test_combination_of_cycle_action_and_status(app):
    cycle = ProvisioningCycleFactory(application=app)
    wanted = log(app, cycle=cycle, action=Action.CREATE, status=Status.FAILURE)
    log(app, cycle=cycle, action=Action.CREATE, status=Status.SUCCESS)
    log(app, cycle=cycle, action=Action.UPDATE, status=Status.FAILURE)
    log(app, action=Action.CREATE, status=Status.FAILURE)
    assert filtered(app, cycle=str(cycle.cycle_id), action="create", status="failure") == {wanted}


def test_combination_of_identity_status_and_date(app):
    now = timezone.now()
    wanted = log(app, source_display_name="Jane Doe", status=Status.FAILURE, created_at=now - timedelta(hours=1))
    log(app, source_display_name="Jane Doe", status=Status.FAILURE, created_at=now - timedelta(days=3))
    log(app, source_display_name="Jane Doe", status=Status.SUCCESS, created_at=now - timedelta(hours=1))
    log(app, source_display_name="John Roe", status=Status.FAILURE, created_at=now - timedelta(hours=1))
    assert filtered(app, identity="jane", status="failure", date="24h") == {wanted}


def test_unknown_status_says_which_values_exist(app):
    assert errors(app, status="broken")["status"] == [
        "Status must be Success, Failure, Skipped or Warning (broken is not one)."
    ]


def test_unknown_action_says_which_values_exist(app):
    assert errors(app, action="purge")["action"] == [
        "Action must be Create, Update, Delete, Disable or Other (purge is not one)."
    ]


def test_unknown_date_preset(app):
    assert "Choose a date range from the list" in errors(app, date="forever")["date"][0]


def test_malformed_start_says_the_format(app):
    assert errors(app, date="custom", start="yesterday")["start"] == [
        "Enter the start as a date and time, e.g. 2025-11-23T09:00."
    ]


def test_malformed_end_says_the_format(app):
    assert errors(app, date="custom", end="2025-13-45")["end"] == ["Enter the end as a date and time, e.g. 2025-11-23T18:00."]


def test_end_before_start(app):
    assert errors(app, date="custom", start="2025-11-21T00:00", end="2025-11-20T00:00")["end"] == [
        "The end must be after the start."
    ]


def test_custom_interval_needs_a_start_or_an_end(app):
    assert errors(app, date="custom")["start"] == ["Enter a start or an end (or both) for a custom time interval."]


def test_preset_and_start_together_are_refused(app):
    assert "choose Custom time interval" in errors(app, date="7d", start="2025-11-20T00:00")["date"][0]


def test_malformed_cycle_id(app):
    assert errors(app, cycle="not-a-guid")["cycle"] == ["A Cycle ID is a GUID like 3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f."]


def test_malformed_change_id(app):
    assert errors(app, change="12345")["change"] == ["A Change ID is a GUID like 3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f."]


@pytest.mark.parametrize("value", ["abc", "0", "-3"])
def test_malformed_run(app, value):
    assert errors(app, run=value)["run"][0].startswith("An on-demand run is a number")


def test_identity_longer_than_a_name_is_refused(app):
    assert "identity" in errors(app, identity="x" * 300)


def test_is_filtered(app):
    queryset = ProvisioningLog.objects.filter(application=app)
    assert not ProvisioningLogFilterSet(None, queryset=queryset).is_filtered
    assert not ProvisioningLogFilterSet({"older": "5"}, queryset=queryset).is_filtered
    assert ProvisioningLogFilterSet({"status": "failure"}, queryset=queryset).is_filtered


def test_unknown_cycle_matches_nothing(app):
    log(app, cycle=ProvisioningCycleFactory(application=app))
    assert filtered(app, cycle="3f2c9a1e-8b7d-4c6e-9f01-2a3b4c5d6e7f") == set()


def test_identity_with_a_space_is_a_name_even_if_an_id_has_it(app):
    jane = log(app, source_display_name="Jane Doe")
    assert filtered(app, identity="Jane Doe") == {jane}


def test_identity_shorter_than_three_letters_matches_the_start_of_a_word(app):
    wu = log(app, source_display_name="Jun Wu", source_upn="jun.wu@contoso.example")
    wolf = log(app, source_display_name="Wulf Berg", source_upn="wberg@contoso.example")
    log(app, source_display_name="Andrew Lee", source_upn="alee@contoso.example")  # "wu" inside a word only
    assert filtered(app, identity="wu") == {wu, wolf}


def test_identity_whole_upn_matches_exactly_in_any_case(app):
    jane = log(app, source_upn="jane.doe@contoso.example")
    log(app, source_upn="mary.jane.doe@contoso.example")
    assert filtered(app, identity="JANE.DOE@contoso.example") == {jane}
    assert len(filtered(app, identity="doe@contoso.example")) == 2  # not a whole UPN: contains


# The activity chart's numbers (FilterSet.outcomes)


def outcomes(app, now, **params):
    filterset = ProvisioningLogFilterSet(params or None, queryset=ProvisioningLog.objects.filter(application=app))
    assert not filterset.is_bound or filterset.is_valid(), filterset.errors
    return filterset.outcomes(now=now)


def test_outcomes_of_a_preset_count_back_from_now_per_hour_with_empty_hours(app):
    now = timezone.now().replace(minute=30, second=0, microsecond=0)
    ProvisioningLogFactory(application=app, created_at=now - timedelta(hours=2, minutes=10), status="failure")
    ProvisioningLogFactory(application=app, created_at=now - timedelta(minutes=5), status="success")
    ProvisioningLogFactory(application=app, created_at=now - timedelta(minutes=1), status="skipped")
    result = outcomes(app, now, date="24h")
    assert result.per == "hour" and len(result.buckets) == 25
    counted = [(start, s, f) for start, s, f in result.buckets if s or f]
    assert counted == [(now.replace(minute=0) - timedelta(hours=2), 0, 1), (now.replace(minute=0), 1, 0)]
    assert [b[0] for b in result.buckets] == sorted(b[0] for b in result.buckets)


def test_outcomes_of_a_month_are_per_day(app):
    now = timezone.now()
    ProvisioningLogFactory(application=app, created_at=now - timedelta(days=20), status="success")
    result = outcomes(app, now, date="1m")
    assert result.per == "day" and 28 <= len(result.buckets) <= 32
    assert sum(s for _, s, _ in result.buckets) == 1


def test_outcomes_with_no_entries_and_no_date_are_empty(app):
    assert outcomes(app, timezone.now()).buckets == []
