"""Download of the provisioning logs, as Entra's Download offers it: CSV or JSON of the entries the filters select.

The log table may hold millions of entries, so nothing here loads them at once: `entries` reads them in
keyset pages of CHUNK_SIZE rows (each page one indexed range scan on (Date, id), newest first), and the
writers yield text line by line for a streaming response. The JSON has every field of an entry but the SCIM
traffic (it is in the entry's Request and response tab; a million entries of it would be gigabytes).

CSV cells that begin with = + - @ (or a tab or carriage return) are prefixed with an apostrophe: spreadsheet
programs would otherwise run them as formulas (OWASP "CSV injection"), and log entries carry text the source
directory and the target chose.
"""

import csv
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q

# Rows per query: a page of values() dicts (with their steps, for JSON) is a few MB, and 1,000,000 entries
# take 500 queries, each an index range scan that starts where the last page ended.
CHUNK_SIZE = 2000

FIELDS = [
    ("created_at", "Date"),
    ("change_id", "Change ID"),
    ("cycle__cycle_id", "Cycle ID"),
    ("application__job_id", "Job ID"),
    ("initiated_by", "Initiated by"),
    ("initiated_by_user", "Initiated by user"),
    ("action", "Action"),
    ("status", "Status"),
    ("object_type", "Source object type"),
    ("source_id", "Source ID"),
    ("source_display_name", "Source display name"),
    ("source_upn", "Source user principal name"),
    ("target_id", "Target ID"),
    ("error_code", "Error code"),
    ("error_description", "Error description"),
    ("recommended_fix", "Recommended fix"),
    ("modified_properties", "Modified properties"),
    ("duration_ms", "Duration (ms)"),
]
JSON_ONLY = ["steps", "retry_of_id"]
JSON_KEYS = {"cycle__cycle_id": "cycle_id", "application__job_id": "job_id", "retry_of_id": "retry_of"}
DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r")


def entries(queryset, *, chunk_size=None, fields=None):
    """Every entry of the queryset as a dict of `fields`, newest first, one page of chunk_size rows per query."""
    chunk_size = chunk_size or CHUNK_SIZE
    names = list(fields or [name for name, _ in FIELDS])
    ordered = queryset.order_by("-created_at", "-id").values("id", *names)
    last = None
    while True:
        page = ordered
        if last is not None:
            at, pk = last
            page = ordered.filter(created_at__lte=at).filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
        rows = list(page[:chunk_size])
        yield from rows
        if len(rows) < chunk_size:
            return
        last = rows[-1]["created_at"], rows[-1]["id"]


def safe_cell(value):
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(DANGEROUS_START) else text


def _modified(properties):
    return "; ".join(f"{p.get('name')}: {p.get('old') if p.get('old') is not None else '(none)'} → "
                     f"{p.get('new') if p.get('new') is not None else '(none)'}" for p in properties or [])


class _Line:
    """csv.writer's file: hands back each line it writes."""

    def write(self, text):
        return text


def csv_lines(rows):
    """The CSV, one line at a time, header first (UTF-8 with a BOM so Excel reads the accents)."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow([label for _, label in FIELDS])
    for row in rows:
        values = []
        for name, _ in FIELDS:
            value = row.get(name)
            if name == "modified_properties":
                value = _modified(value)
            elif name == "created_at" and value is not None:
                value = value.isoformat()
            values.append(safe_cell(value))
        yield writer.writerow(values)


def json_chunks(rows):
    """A JSON array of the entries, one entry per chunk."""
    yield "[\n"
    first = True
    for row in rows:
        row = {JSON_KEYS.get(key, key): value for key, value in row.items() if key != "id"}
        yield ("" if first else ",\n") + json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False)
        first = False
    yield "\n]\n"


def download(queryset, fmt):
    """(content iterator, content type, file extension) for fmt "csv" or "json"."""
    if fmt == "json":
        names = [name for name, _ in FIELDS] + JSON_ONLY
        return json_chunks(entries(queryset, fields=names)), "application/json", "json"
    return csv_lines(entries(queryset)), "text/csv; charset=utf-8", "csv"
