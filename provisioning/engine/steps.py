"""The five steps of the per-object pipeline, recorded as plain dicts (the ProvisioningLog.steps format).

One recorder per object; it reports after every step so on-demand pages show steps as they complete.
"""

from dataclasses import dataclass, field
from typing import Callable

from provisioning.scim.answers import visible, visible_json

TEST_CONNECTION = "test_connection"
IMPORT = "import"
SCOPE = "scope"
MATCH = "match"
ACTION = "action"

SUCCESS = "success"
FAILURE = "failure"
SKIPPED = "skipped"
WARNING = "warning"

STEP_NAMES = {
    TEST_CONNECTION: "Test connection",
    IMPORT: "Import {noun}",
    SCOPE: "Determine if {noun} is in scope",
    MATCH: "Match {noun} between source and target system",
    ACTION: "Perform action",
}


# A log entry's size must not grow with what a target sends (a 50 MiB displayName, 200,000 duplicate ids):
# every text is cut at these lengths, saying how much was left out.
DESCRIPTION_LIMIT = 2_000
CELL_LIMIT = 1_000
ROW_LIMIT = 200


def clip(text, limit=DESCRIPTION_LIMIT):
    """The text, or its first `limit` characters and how many were left out."""
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters left out)"


def section(title, columns, rows):
    rows = list(rows)
    shown = [[clip(display(c), CELL_LIMIT) for c in row] for row in rows[:ROW_LIMIT]]
    if len(rows) > ROW_LIMIT:
        shown.append([f"… and {len(rows) - ROW_LIMIT:,} more rows left out"] + [""] * (len(columns) - 1))
    return {"title": clip(title, CELL_LIMIT), "columns": list(columns), "rows": shown}


def display(value):
    """How a value reads in the steps: lists joined, booleans as Entra writes them, null spelled out."""
    if value is None:
        return "(null)"
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        return ", ".join(display(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {display(v)}" for k, v in value.items())
    return str(value)


@dataclass
class StepRecorder:
    noun: str  # "user" | "group"
    on_change: Callable[[list], None] | None = None
    steps: list = field(default_factory=list)

    def record(self, key, status, description, sections=()):
        name = STEP_NAMES[key].format(noun=self.noun)
        self.steps.append(
            # Target text is shown escaped where it would colour, hide or reverse the page (answers.visible).
            {"key": key, "name": name, "status": status, "description": visible(clip(description)),
             "sections": visible_json(list(sections))}
        )
        if self.on_change:
            self.on_change(self.steps)
