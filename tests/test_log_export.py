"""Download of the provisioning logs: keyset pages, CSV cells neutralised, JSON of every entry."""

import csv
import io
import json

import pytest

from provisioning import log_export
from provisioning.log_export import csv_lines, entries, json_chunks, safe_cell
from provisioning.models import ProvisioningLog
from tests.factories import ApplicationFactory, ProvisioningLogFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value, expected", [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"),
    ("+1", "'+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("Jane = Doe", "Jane = Doe"), ("", ""), (None, ""), (37, "37"),
])
def test_cells_that_would_run_as_formulas_are_neutralised(value, expected):
    assert safe_cell(value) == expected


def test_entries_are_read_in_keyset_pages_newest_first_without_gaps(django_assert_num_queries):
    app = ApplicationFactory(default_mappings=False)
    made = ProvisioningLogFactory.create_batch(25, application=app)
    queryset = ProvisioningLog.objects.filter(application=app)
    with django_assert_num_queries(3):  # 10 + 10 + 5 rows: the last short page ends it
        rows = list(entries(queryset, chunk_size=10))
    expected = sorted(made, key=lambda e: (e.created_at, e.id), reverse=True)
    assert [r["change_id"] for r in rows] == [e.change_id for e in expected]


def test_entries_with_the_same_date_are_not_lost_between_pages():
    app = ApplicationFactory(default_mappings=False)
    same = ProvisioningLogFactory.create_batch(7, application=app, created_at=ProvisioningLogFactory().created_at)
    rows = list(entries(ProvisioningLog.objects.filter(application=app), chunk_size=3))
    assert {r["change_id"] for r in rows} == {e.change_id for e in same}


def test_csv_has_a_header_and_one_row_per_entry_neutralised():
    app = ApplicationFactory(default_mappings=False)
    ProvisioningLogFactory(application=app, source_display_name="=cmd|' /C calc'!A0", status="failure", error_code="X",
                           modified_properties=[{"name": "title", "old": None, "new": "Lead"}])
    text = "".join(csv_lines(entries(ProvisioningLog.objects.filter(application=app))))
    assert text.startswith("\ufeffDate,Change ID,Cycle ID,Job ID")
    header, row = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    values = dict(zip(header, row, strict=True))
    assert values["Source display name"] == "'=cmd|' /C calc'!A0"
    assert values["Modified properties"] == "title: (none) → Lead"
    assert values["Job ID"] == app.job_id and values["Status"] == "failure"


def test_json_is_one_array_of_every_entry_with_its_steps():
    app = ApplicationFactory(default_mappings=False)
    entry = ProvisioningLogFactory(application=app, steps=[{"key": "import", "status": "success"}])
    content, content_type, extension = log_export.download(ProvisioningLog.objects.filter(application=app), "json")
    [item] = json.loads("".join(content))
    assert (content_type, extension) == ("application/json", "json")
    assert item["change_id"] == str(entry.change_id) and item["steps"] == [{"key": "import", "status": "success"}]
    assert item["job_id"] == app.job_id and "traffic" not in item


def test_json_of_nothing_is_an_empty_array():
    assert json.loads("".join(json_chunks(iter([])))) == []
