"""Provisioning logs page: roles, the table partial, filters in the query string, keyset paging, the detail panel."""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.urls import reverse

from provisioning.models import ProvisioningLog
from provisioning.views.logs import PAGE_SIZE
from tests.factories import ApplicationFactory, OnDemandRunFactory, ProvisioningCycleFactory, ProvisioningLogFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
BASE = datetime(2025, 11, 20, 12, tzinfo=dt_timezone.utc)


@pytest.fixture
def app():
    return ApplicationFactory(default_mappings=False)


def logs_url(app, query=""):
    return reverse("apps:logs", args=[app.id]) + (f"?{query}" if query else "")


def rows(response):
    return list(response.context["logs"])


# Access


def test_anonymous_is_sent_to_sign_in(client, app):
    response = client.get(logs_url(app))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


@pytest.mark.parametrize("who", ["admin_client", "helpdesk_client"])
def test_both_roles_read_the_logs(request, who, app):
    entry = ProvisioningLogFactory(application=app, source_display_name="Jane Doe")
    response = request.getfixturevalue(who).get(logs_url(app))
    assert response.status_code == 200
    assert "Jane Doe" in response.text
    assert reverse("apps:log_detail", args=[app.id, entry.id]) in response.text


@pytest.mark.parametrize("who", ["admin_client", "helpdesk_client"])
def test_both_roles_open_the_detail(request, who, app):
    entry = ProvisioningLogFactory(application=app)
    response = request.getfixturevalue(who).get(reverse("apps:log_detail", args=[app.id, entry.id]))
    assert response.status_code == 200


def test_user_without_role_gets_403(client, app, django_user_model):
    client.force_login(django_user_model.objects.create_user("norole"))
    assert client.get(logs_url(app)).status_code == 403


def test_unknown_app_is_404(admin_client):
    assert admin_client.get(reverse("apps:logs", args=[999999])).status_code == 404


def test_post_is_not_allowed(admin_client, app):
    assert admin_client.post(logs_url(app)).status_code == 405


# The table


def test_only_this_apps_entries_newest_first(admin_client, app):
    older = ProvisioningLogFactory(application=app, created_at=BASE)
    newer = ProvisioningLogFactory(application=app, created_at=BASE + timedelta(minutes=1))
    ProvisioningLogFactory(application=ApplicationFactory(default_mappings=False))
    assert rows(admin_client.get(logs_url(app))) == [newer, older]


def test_columns(admin_client, app):
    ProvisioningLogFactory(
        application=app,
        created_at=BASE,
        source_display_name="Jane Doe",
        source_upn="jane@contoso.example",
        source_id="src-1",
        target_id="tgt-1",
        action=ProvisioningLog.Action.DISABLE,
        status=ProvisioningLog.Status.SKIPPED,
    )
    text = admin_client.get(logs_url(app)).text
    for expected in ["11/20/2025, 12:00:00 PM", "Jane Doe", "jane@contoso.example", "Disable", "pill-skipped", "src-1", "tgt-1"]:
        assert expected in text


def test_empty_app_explains_where_entries_come_from(admin_client, app):
    assert "No provisioning activity yet" in admin_client.get(logs_url(app)).text


def test_htmx_request_renders_only_the_table_partial(admin_client, app):
    ProvisioningLogFactory(application=app, source_display_name="Jane Doe")
    response = admin_client.get(logs_url(app, "status=success"), **HX)
    assert response.status_code == 200
    assert 'id="log-table"' in response.text
    assert "Jane Doe" in response.text
    assert "<html" not in response.text
    assert 'id="log-filters"' not in response.text
    # the filter messages ride along out of band
    assert 'id="err-status" hx-swap-oob="true"' in response.text


def test_full_page_has_the_filter_form_pushing_the_url(admin_client, app):
    text = admin_client.get(logs_url(app)).text
    assert 'id="log-filters"' in text
    assert 'hx-push-url="true"' in text
    assert 'hx-target="#log-table"' in text


# Filters in the query string


def test_filters_apply_from_the_query_string(admin_client, app):
    cycle = ProvisioningCycleFactory(application=app)
    failed = ProvisioningLogFactory(application=app, cycle=cycle, status="failure")
    ProvisioningLogFactory(application=app, cycle=cycle, status="success")
    ProvisioningLogFactory(application=app, status="failure")
    response = admin_client.get(logs_url(app, f"status=failure&cycle={cycle.cycle_id}"))
    assert rows(response) == [failed]
    assert "Clear filters" in response.text


def test_failure_email_link_for_an_on_demand_run(admin_client, app):
    run = OnDemandRunFactory(application=app)
    failed = ProvisioningLogFactory(application=app, on_demand_run=run, status="failure")
    ProvisioningLogFactory(application=app, status="failure")
    response = admin_client.get(logs_url(app, f"status=failure&run={run.id}"))
    assert rows(response) == [failed]
    assert 'name="run"' in response.text  # the run filter is shown so it can be removed


def test_form_shows_the_current_filter_values(admin_client, app):
    text = admin_client.get(logs_url(app, "status=failure&action=update&identity=jane")).text
    assert '<option value="failure" selected>' in text
    assert '<option value="update" selected>' in text
    assert 'value="jane"' in text


def test_no_match_says_so_and_offers_clearing(admin_client, app):
    ProvisioningLogFactory(application=app, status="success")
    text = admin_client.get(logs_url(app, "status=failure")).text
    assert "No log entries match these filters." in text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=broken", "Status must be Success, Failure, Skipped or Warning (broken is not one)."),
        ("date=custom&start=yesterday", "Enter the start as a date and time, e.g. 2025-11-23T09:00."),
        ("cycle=nope", "A Cycle ID is a GUID like"),
    ],
)
def test_invalid_filter_shows_a_message_next_to_it_and_no_rows(admin_client, app, query, message):
    ProvisioningLogFactory(application=app)
    response = admin_client.get(logs_url(app, query))
    assert response.status_code == 200
    assert message in response.text
    assert "Fix the filters marked in red" in response.text
    assert rows(response) == []
    assert 'aria-invalid="true"' in response.text


def test_invalid_filter_message_arrives_out_of_band_for_htmx(admin_client, app):
    response = admin_client.get(logs_url(app, "action=purge"), **HX)
    assert response.status_code == 200
    assert 'id="err-action" hx-swap-oob="true"><span class="field-error">Action must be' in response.text


# Keyset paging


@pytest.fixture
def many(app):
    """PAGE_SIZE * 2 + 5 entries, one minute apart; two share the same second to exercise the id tie-break."""
    entries = [
        ProvisioningLogFactory(application=app, created_at=BASE + timedelta(minutes=i)) for i in range(PAGE_SIZE * 2 + 4)
    ]
    entries.append(ProvisioningLogFactory(application=app, created_at=entries[PAGE_SIZE].created_at))
    return sorted(entries, key=lambda e: (e.created_at, e.id), reverse=True)


def test_pages_older_and_newer_without_gaps_or_repeats(admin_client, app, many):
    first = admin_client.get(logs_url(app))
    assert rows(first) == many[:PAGE_SIZE]
    assert first.context["has_older"] and not first.context["has_newer"]

    second = admin_client.get(logs_url(app, f"older={many[PAGE_SIZE - 1].id}"))
    assert rows(second) == many[PAGE_SIZE : PAGE_SIZE * 2]
    assert second.context["has_older"] and second.context["has_newer"]

    third = admin_client.get(logs_url(app, f"older={many[PAGE_SIZE * 2 - 1].id}"))
    assert rows(third) == many[PAGE_SIZE * 2 :]
    assert not third.context["has_older"] and third.context["has_newer"]

    back = admin_client.get(logs_url(app, f"newer={many[PAGE_SIZE * 2].id}"))
    assert rows(back) == many[PAGE_SIZE : PAGE_SIZE * 2]
    assert back.context["has_newer"]


def test_older_link_keeps_the_filters(admin_client, app, many):
    text = admin_client.get(logs_url(app, "status=success")).text
    assert f"?status=success&amp;older={many[PAGE_SIZE - 1].id}" in text


def test_paging_respects_filters(admin_client, app):
    failures = [ProvisioningLogFactory(application=app, status="failure", created_at=BASE + timedelta(minutes=i)) for i in range(PAGE_SIZE + 2)]
    ProvisioningLogFactory(application=app, status="success", created_at=BASE - timedelta(days=1))
    newest_first = failures[::-1]
    response = admin_client.get(logs_url(app, f"status=failure&older={newest_first[PAGE_SIZE - 1].id}"))
    assert rows(response) == newest_first[PAGE_SIZE:]
    assert not response.context["has_older"]


def test_page_does_not_count_the_table(admin_client, app, django_assert_max_num_queries, many):
    # session + user + groups + app + one page; no COUNT(*) of the log table
    with django_assert_max_num_queries(8) as captured:
        admin_client.get(logs_url(app, f"older={many[PAGE_SIZE - 1].id}"))
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)


@pytest.mark.parametrize("query", ["older=abc", "older=999999", "newer=-1", "older=1&newer=2", "older=" + "9" * 40])
def test_bad_cursor_says_what_happened(admin_client, app, query):
    ProvisioningLogFactory(application=app)
    response = admin_client.get(logs_url(app, query))
    assert response.status_code == 200
    assert response.context["page_error"]
    assert rows(response) == []


def test_cursor_from_another_app_is_refused(admin_client, app):
    other = ProvisioningLogFactory(application=ApplicationFactory(default_mappings=False))
    response = admin_client.get(logs_url(app, f"older={other.id}"))
    assert "That page no longer exists" in response.context["page_error"]


# Detail


@pytest.fixture
def failed_entry(app):
    cycle = ProvisioningCycleFactory(application=app)
    return ProvisioningLogFactory(
        application=app,
        cycle=cycle,
        source_display_name="Jane Doe",
        source_upn="jane@contoso.example",
        source_id="0b5c3b1e-1111-4000-8000-000000000001",
        target_id="9f9f",
        action="update",
        status="failure",
        error_code="SchemaAttributeNotFound",
        error_description="Failed to update User 'Jane Doe' in App: unknown attribute costCenter",
        recommended_fix="Remove the costCenter mapping or add it to the target's schema.",
        modified_properties=[{"name": "title", "old": "Engineer", "new": "Lead"}, {"name": "department", "old": None, "new": "R&D"}],
        duration_ms=37,
        steps=[
            {
                "key": "import",
                "name": "Import user",
                "status": "success",
                "description": "Retrieved User 'Jane Doe' from the directory",
                "sections": [{"title": "Imported attributes", "columns": ["Attribute", "Value"], "rows": [["jobTitle", "Lead"]]}],
            },
            {"key": "scope", "name": "Determine if user is in scope", "status": "success", "description": "User is in scope", "sections": []},
            {
                "key": "match",
                "name": "Match user between source and target system",
                "status": "success",
                "description": "Matched by userName",
                "sections": [],
                "details": {"MatchedBy": "userName"},
            },
            {"key": "action", "name": "Perform action", "status": "failure", "description": "Failed to update User 'Jane Doe'", "sections": []},
        ],
    )


def test_detail_full_page_has_all_tabs(admin_client, app, failed_entry):
    response = admin_client.get(reverse("apps:log_detail", args=[app.id, failed_entry.id]))
    text = response.text
    assert "<html" in text
    for expected in [
        "Steps",
        "Troubleshooting &amp; Recommendations",
        "Modified Properties (2)",
        "Summary",
        "2.</span>",  # Import user is step 2 when Test connection passed
        "5.</span>",
        "Import user",
        "Perform action",
        "View details",
        "Imported attributes",
        "jobTitle",
        "MatchedBy",
        "SchemaAttributeNotFound",
        "unknown attribute costCenter",
        "Remove the costCenter mapping",
        "Engineer",
        "Lead",
        "R&amp;D",
        str(failed_entry.change_id),
        str(failed_entry.cycle.cycle_id),
        app.job_id,
        "jane@contoso.example",
        "0b5c3b1e-1111-4000-8000-000000000001",
        "9f9f",
        "37 ms",
        "Provisioning cycle",
    ]:
        assert expected in text, expected


def test_detail_for_htmx_is_only_the_panel(admin_client, app, failed_entry):
    response = admin_client.get(reverse("apps:log_detail", args=[app.id, failed_entry.id]), **HX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'class="log-detail"' in response.text
    assert "Close details" in response.text


def test_detail_numbers_test_connection_as_step_one(admin_client, app):
    entry = ProvisioningLogFactory(
        application=app,
        status="failure",
        steps=[{"key": "test_connection", "name": "Test connection", "status": "failure", "description": "401 Unauthorized", "sections": []}],
    )
    text = admin_client.get(reverse("apps:log_detail", args=[app.id, entry.id])).text
    assert "1.</span>" in text and "Test connection" in text


def test_detail_of_a_skipped_entry_points_to_the_steps(admin_client, app):
    entry = ProvisioningLogFactory(application=app, status="skipped", action="other")
    text = admin_client.get(reverse("apps:log_detail", args=[app.id, entry.id])).text
    assert "Skipped entries have no error; the reason is in the Steps tab." in text
    assert "No properties were modified." in text


def test_detail_from_another_app_is_404(admin_client, app):
    other = ProvisioningLogFactory(application=ApplicationFactory(default_mappings=False))
    assert admin_client.get(reverse("apps:log_detail", args=[app.id, other.id])).status_code == 404


def test_detail_anonymous_redirects(client, app, failed_entry):
    assert client.get(reverse("apps:log_detail", args=[app.id, failed_entry.id])).status_code == 302


def test_back_button_history_restore_gets_the_whole_page(admin_client, app):
    response = admin_client.get(logs_url(app, "status=failure"), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert "<html" in response.text
    assert 'id="log-filters"' in response.text


def test_responses_vary_on_the_htmx_header(admin_client, app):
    entry = ProvisioningLogFactory(application=app)
    assert "HX-Request" in admin_client.get(logs_url(app))["Vary"]
    assert "HX-Request" in admin_client.get(reverse("apps:log_detail", args=[app.id, entry.id]))["Vary"]


# The whole story: fix beside the step, links, the reason in the list, Request and response


def test_the_fix_and_code_sit_beside_the_failing_step_with_links(admin_client, app, failed_entry):
    failed_entry.recommended_fix = "Correct the target attribute under Mappings, or turn 'Entra-compatible requests' off."
    failed_entry.save()
    text = admin_client.get(reverse("apps:log_detail", args=[app.id, failed_entry.id])).text
    steps_tab = text.split('aria-label="Steps"')[1].split('aria-label="Troubleshooting')[0]
    fix = steps_tab.split('class="step-fix')[1]
    assert "SchemaAttributeNotFound" in fix
    assert f'href="{reverse("apps:mappings", args=[app.id, "user"])}"' in fix
    assert f'href="{reverse("apps:provisioning", args=[app.id])}#id_entra_compatible"' in fix
    assert steps_tab.index("Failed to update User") < steps_tab.index('class="step-fix')


def test_a_group_entrys_mapping_link_opens_the_group_mapping(admin_client, app):
    entry = ProvisioningLogFactory(application=app, object_type="group", status="failure", error_code="X",
                                   recommended_fix="Edit the scoping filter 'Pilots' (Mappings > Scoping).",
                                   steps=[{"key": "action", "name": "Perform action", "status": "failure", "description": "d", "sections": []}])
    text = admin_client.get(reverse("apps:log_detail", args=[app.id, entry.id])).text
    assert f'href="{reverse("apps:scoping", args=[app.id, "group"])}"' in text


def test_fix_text_is_escaped_around_its_links(admin_client, app):
    entry = ProvisioningLogFactory(application=app, status="failure", error_code="X",
                                   recommended_fix="<script>alert(1)</script> under Mappings",
                                   steps=[{"key": "action", "name": "Perform action", "status": "failure", "description": "d", "sections": []}])
    text = admin_client.get(reverse("apps:log_detail", args=[app.id, entry.id])).text
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;" in text


def test_skipped_rows_show_their_reason_in_the_list(admin_client, app):
    ProvisioningLogFactory(application=app, status="skipped", action="other",
                           error_description="User 'Sam' is not in scope: the user is not assigned to the application")
    ProvisioningLogFactory(application=app, status="failure", error_code="EntryConflict", error_description="long text")
    text = admin_client.get(logs_url(app)).text
    assert "the user is not assigned to the application" in text
    assert 'class="muted small log-reason"' in text and "EntryConflict" in text


TRAFFIC = [
    {"method": "GET", "url": "https://t.example/scim/Users?filter=userName+eq+%22jane%40contoso.example%22", "status": 200,
     "ms": 12, "request_headers": [["Accept", "application/scim+json"]], "response_headers": [["Content-Type", "application/scim+json"]],
     "response_body": '{"totalResults": 0, "Resources": []}'},
    {"omitted": 3},
    {"method": "PATCH", "url": "https://t.example/scim/Users/42", "status": 400, "ms": 20,
     "request_headers": [["Content-Type", "application/scim+json"]],
     "request_body": '{"Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}', "request_body_omitted": 0,
     "response_headers": [], "response_body": '{"detail": "title is read-only"}'},
    {"method": "POST", "url": "https://t.example/scim/Users", "status": None, "ms": 15000, "request_headers": [],
     "request_body": "x" * 10, "request_body_omitted": 990, "error": "Failed: POST /Users got no answer within 15 seconds"},
]


def test_request_and_response_tab_shows_each_exchange(admin_client, app, failed_entry):
    failed_entry.traffic = TRAFFIC
    failed_entry.save()
    text = admin_client.get(reverse("apps:log_detail", args=[app.id, failed_entry.id])).text
    tab = text.split('aria-label="Request and response"')[1].split('aria-label="Summary"')[0]
    assert "Request and response (6)" in text  # 3 kept + 3 left out
    assert 'filter=userName eq "jane@contoso.example"' in tab.replace("&quot;", '"')
    assert "… 3 more requests not kept" in tab
    assert "&quot;path&quot;: &quot;title&quot;" in tab  # the refused PATCH's operations, indented
    assert "title is read-only" in tab
    assert "no answer" in tab and "got no answer within 15 seconds" in tab and "990 more characters not kept" in tab
    assert "Bearer [redacted]" in tab


def test_an_entry_without_requests_says_so(admin_client, app):
    entry = ProvisioningLogFactory(application=app, status="skipped", action="other")
    text = admin_client.get(reverse("apps:log_detail", args=[app.id, entry.id])).text
    assert f"This entry sent no request to {app.name}" in text


# The activity chart: successes and failures per hour of the filtered entries, its own region


def chart_url(app, query=""):
    return reverse("apps:logs_chart", args=[app.id]) + (f"?{query}" if query else "")


def chart(response):
    import re
    import xml.etree.ElementTree as ET

    assert response.status_code == 200, response.content
    return ET.fromstring(re.search(r"<svg.*?</svg>", response.text, re.S).group(0))


def bar_values(svg, css):
    from provisioning.charts import SVG_NS

    rects = svg.findall(f".//{{{SVG_NS}}}g[@class='chart-column']/{{{SVG_NS}}}rect")
    return [int(r.get("data-value")) for r in rects if f"chart-{css}" in r.get("class", "").split()]


SVG = "{http://www.w3.org/2000/svg}"


def test_the_table_fetches_the_chart_for_the_same_filters(admin_client, app):
    entry = ProvisioningLogFactory(application=app)
    page = admin_client.get(logs_url(app, f"status=failure&older={entry.pk}"))  # the page's cursor is not the chart's
    assert f'hx-get="{chart_url(app, "status=failure")}"' in page.text
    partial = admin_client.get(logs_url(app, "status=failure&action=update"), **HX)
    # The chart sits outside the table's region: the partial replaces it out of band with one for the new filters.
    assert (f'<div id="log-chart" class="log-chart" hx-get="{chart_url(app, "status=failure&amp;action=update")}" '
            'hx-trigger="load" hx-swap="outerHTML" hx-swap-oob="true">') in partial.text
    bad = admin_client.get(logs_url(app, "status=bogus"), **HX).text
    assert '<div id="log-chart" class="log-chart" hx-swap-oob="true"></div>' in bad and "logs_chart" not in bad


def test_chart_counts_the_filtered_entries_per_hour_up_to_the_newest(admin_client, app):
    for minutes, status in ((0, "success"), (10, "success"), (20, "failure"), (70, "failure"), (75, "skipped"), (190, "success")):
        ProvisioningLogFactory(application=app, created_at=BASE + timedelta(minutes=minutes), status=status)
    ProvisioningLogFactory(created_at=BASE, status="failure")  # another app's
    svg = chart(admin_client.get(chart_url(app), **HX))
    assert svg.find(f"{SVG}title").text == "Successes and failures per hour, 11/19/2025, 3:10 PM to 11/20/2025, 3:10 PM"
    columns = svg.findall(f".//{SVG}g[@class='chart-column']")
    assert len(columns) == 25  # the 24 hours up to the newest entry, both ends' hours included
    assert bar_values(svg, "success") == [2, 1] and bar_values(svg, "failure") == [1, 1]
    assert svg.find(f"{SVG}desc").text.startswith("3 successes and 2 failures in 25 hours")

    svg = chart(admin_client.get(chart_url(app, "status=failure"), **HX))
    assert bar_values(svg, "success") == [] and bar_values(svg, "failure") == [1, 1]


def test_chart_over_a_custom_range_longer_than_a_week_is_per_day(admin_client, app):
    for day in (0, 0, 3, 9):
        ProvisioningLogFactory(application=app, created_at=BASE + timedelta(days=day), status="success")
    svg = chart(admin_client.get(chart_url(app, "date=custom&start=2025-11-19T00:00&end=2025-11-30T23:00")))
    assert "per day" in svg.find(f"{SVG}title").text
    assert len(svg.findall(f".//{SVG}g[@class='chart-column']")) == 12
    assert bar_values(svg, "success") == [2, 1, 1]


def test_chart_with_no_entries_and_with_bad_filters(admin_client, helpdesk_client, app):
    assert "<svg" not in admin_client.get(chart_url(app)).text
    ProvisioningLogFactory(application=app, status="success")
    svg = chart(helpdesk_client.get(chart_url(app, "date=24h&status=failure")))
    assert svg.find(f"{SVG}desc").text.startswith("0 successes and 0 failures in 25 hours")
    response = admin_client.get(chart_url(app, "status=bogus"))
    assert response.status_code == 400 and b"Fix the filters" in response.content
