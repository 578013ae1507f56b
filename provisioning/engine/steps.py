"""The five steps of the per-object pipeline, recorded as plain dicts (the ProvisioningLog.steps format).

One recorder per object; it reports after every step so on-demand pages show steps as they complete.
"""

from dataclasses import dataclass, field
from typing import Callable

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


def section(title, columns, rows):
    return {"title": title, "columns": list(columns), "rows": [[display(c) for c in row] for row in rows]}


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
            {"key": key, "name": name, "status": status, "description": description, "sections": list(sections)}
        )
        if self.on_change:
            self.on_change(self.steps)
