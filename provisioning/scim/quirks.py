"""What was learned about one target from its answers: the request shapes it takes and the paths it refuses.

Kept per app in Application.target_quirks (plain JSON, so every worker and the Provisioning page read the
same), as three kinds of lesson:

* shapes   — which of two request shapes the target takes, where the RFC and Entra's dialect differ:
             `active` as a JSON boolean or the string "False"; `add` or `replace` for a value the target
             does not hold yet; member removal by `members[value eq "id"]` or by a value list;
* refused  — PATCH paths the target answers 400/501 for in every shape (django-scim2 for title, emails,
             the enterprise extension, a group's displayName): left out of later PATCHes, so the rest of a
             change lands, and named as a warning in the log entry;
* dropped  — attributes the target answered a create without (it did not store them): not PATCHed again
             every cycle, and named as a warning.

{"shapes": {"active": {"use": "boolean", "why": "...", "at": "..."}},
 "refused": {"Users": {"title": {"status": 501, "why": "...", "at": "..."}}},
 "dropped": {"Users": {"title": {"why": "...", "at": "..."}}}}

This module is plain Python: the engine learns (RunContext.learn writes with a conditional update), the
payload builder asks `shape()`, the Provisioning page lists `lessons()` and Forget clears them.
"""

import copy
from dataclasses import dataclass, field

ACTIVE, ABSENT, MEMBER_REMOVAL = "active", "absent", "member_removal"

# Each shape: (RFC default, Entra-compatible default); the other value is the alternative tried once.
SHAPES = {
    ACTIVE: ("boolean", "string"),
    ABSENT: ("add", "replace"),
    MEMBER_REMOVAL: ("filter", "value_list"),
}
SHAPE_WORDS = {
    (ACTIVE, "boolean"): 'active as a JSON boolean (false)',
    (ACTIVE, "string"): 'active as the string "False"',
    (ABSENT, "add"): "add for a value the target does not hold yet",
    (ABSENT, "replace"): "replace for a value the target does not hold yet",
    (MEMBER_REMOVAL, "filter"): 'member removal by members[value eq "id"]',
    (MEMBER_REMOVAL, "value_list"): 'member removal by a value list ({"op": "remove", "path": "members", "value": [...]})',
}
REFUSED, DROPPED = "refused", "dropped"


def default_shape(key, entra_compatible):
    return SHAPES[key][1 if entra_compatible else 0]


def other_shape(key, shape):
    first, second = SHAPES[key]
    return second if shape == first else first


@dataclass
class Quirks:
    data: dict = field(default_factory=dict)
    entra_compatible: bool = False

    @classmethod
    def of(cls, application):
        return cls(copy.deepcopy(application.target_quirks or {}), bool(application.entra_compatible))

    def shape(self, key):
        """The shape to send: what the target was seen to take, else the app's dialect."""
        learned = (self.data.get("shapes") or {}).get(key)
        return learned["use"] if learned else default_shape(key, self.entra_compatible)

    def learned_shape(self, key):
        return bool((self.data.get("shapes") or {}).get(key))

    def left_out(self, resource, path):
        """(kind, why) when this path is not sent to the target any more, else None."""
        for kind in (REFUSED, DROPPED):
            lesson = _find(self.data.get(kind, {}).get(resource, {}), path)
            if lesson is not None:
                return kind, lesson.get("why", "")
        return None

    def lessons(self):
        """Rows for the Provisioning page: (what, lesson, since)."""
        rows = []
        for key, learned in sorted((self.data.get("shapes") or {}).items()):
            rows.append({"kind": "shape", "subject": key, "lesson": f"Sends {SHAPE_WORDS.get((key, learned['use']), learned['use'])}",
                         "why": learned.get("why", ""), "at": learned.get("at", "")})
        for kind, verb in ((REFUSED, "refuses it"), (DROPPED, "does not keep it")):
            for resource, paths in sorted((self.data.get(kind) or {}).items()):
                for path, lesson in sorted(paths.items()):
                    rows.append({"kind": kind, "subject": f"{resource}: {path}",
                                 "lesson": f"Leaves {path} out of updates of {resource} (the target {verb})",
                                 "why": lesson.get("why", ""), "at": lesson.get("at", "")})
        return rows


def _find(paths, path):
    if path in paths:
        return paths[path]
    lowered = path.lower()  # SCIM attribute names are case-insensitive
    return next((lesson for known, lesson in paths.items() if known.lower() == lowered), None)


# --- changes to the stored JSON (pure: RunContext.learn applies them with a conditional update) ----------


def with_shape(data, key, use, why, at):
    data = copy.deepcopy(data or {})
    data.setdefault("shapes", {})[key] = {"use": use, "why": why, "at": at}
    return data


def with_path(data, kind, resource, path, why, at, status=None):
    data = copy.deepcopy(data or {})
    lesson = {"why": why, "at": at}
    if status is not None:
        lesson["status"] = status
    data.setdefault(kind, {}).setdefault(resource, {})[path] = lesson
    return data


def without(data, kind=None, subject=None):
    """Forget one lesson (kind "shape"/"refused"/"dropped" and its subject as lessons() names it), or all."""
    if kind is None:
        return {}
    data = copy.deepcopy(data or {})
    if kind == "shape":
        (data.get("shapes") or {}).pop(subject, None)
    else:
        resource, _, path = (subject or "").partition(": ")
        (data.get(kind) or {}).get(resource, {}).pop(path, None)
        if not (data.get(kind) or {}).get(resource):
            (data.get(kind) or {}).pop(resource, None)
    return {k: v for k, v in data.items() if v}
