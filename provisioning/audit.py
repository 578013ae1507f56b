"""The audit log: one call where the configuration changes, e.g.

    with audit.changes(app, "Update provisioning settings", by=request.user):
        form.save()

records who, when, which app and each changed field as old → new (read from the database before and after,
so a form that already copied its values onto the instance cannot hide them). Secrets show as "changed".
`audit.record(...)` writes an entry for an event without fields (Start, Restart, an import).
"""

from contextlib import contextmanager

from django.utils import timezone

from provisioning.models import Application, AuditEntry

Category = AuditEntry.Category
CHANGED = "changed"
# Stored encrypted or otherwise secret: the entry says that it changed, never the value.
SECRET_FIELDS = {"secret_token_encrypted", "password"}
# Bookkeeping the engine changes on its own: not configuration.
IGNORED_FIELDS = {"id", "created_at", "updated_at", "job_status", "next_cycle_at", "watermark", "throttled_until",
                  "target_features", "job_id"}


def actor(by):
    """A request's user, a user, or a name ("manage.py import_directory")."""
    if by is None:
        return "system"
    if isinstance(by, str):
        return by
    return getattr(by, "get_username", lambda: str(by))() or str(by)


def _application(obj):
    if obj is None or isinstance(obj, Application):
        return obj
    for name in ("application", "object_mapping", "scoping_filter"):
        related = getattr(obj, name, None)
        if related is not None:
            return _application(related)
    return None


def _display(field, value):
    if value is None or value == "":
        return ""
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def snapshot(obj):
    """{field label: display value} of an object's configuration as stored now ({} if it does not exist)."""
    if obj is None or obj.pk is None:
        return {}
    stored = type(obj)._default_manager.filter(pk=obj.pk).first()
    if stored is None:
        return {}
    values = {}
    for field in stored._meta.concrete_fields:
        if field.name in IGNORED_FIELDS:
            continue
        label = "Secret Token" if field.name == "secret_token_encrypted" else str(field.verbose_name)
        raw = getattr(stored, field.attname)
        values[label] = (CHANGED if raw else "", raw) if field.name in SECRET_FIELDS else (_display(field, getattr(stored, field.name)), None)
    if hasattr(stored, "clauses"):  # a scoping filter: its clauses are its content
        values["Clauses"] = (" AND ".join(f"{c.attribute} {c.operator} {c.value}".strip() for c in stored.clauses.order_by("position")), None)
    return values


def diff(before, after):
    """[{"name", "old", "new"}] for what differs between two snapshots; a secret is "changed"."""
    changed = []
    for name in dict.fromkeys([*before, *after]):
        old, new = before.get(name, ("", None)), after.get(name, ("", None))
        if old[1] is not None or new[1] is not None:  # a secret: compare what is stored, show nothing of it
            if old[1] != new[1]:
                changed.append({"name": name, "old": "set" if old[1] else "not set", "new": CHANGED if new[1] else "removed"})
        elif old[0] != new[0]:
            changed.append({"name": name, "old": old[0], "new": new[0]})
    return changed


def record(activity, *, by, application=None, category=Category.PROVISIONING, target="", changes=()):
    app = _application(application)
    return AuditEntry.objects.create(
        created_at=timezone.now(), application=app, application_name=app.name if app else "",
        initiated_by=actor(by)[:150], category=category, activity=activity[:128], target=str(target)[:512],
        modified_properties=list(changes),
    )


class _Watched:
    def __init__(self, obj):
        self.obj = obj


@contextmanager
def changes(obj, activity, *, by, category=Category.PROVISIONING, target=None, application=None):
    """Record activity with the fields of obj that the block changed (nothing when nothing changed).

    Deleting obj in the block records its fields as removed. Creating one: pass None (or the unsaved
    object) and set the yielded handle's .obj to what was saved (`watched.obj = form.save()`).
    """
    watched = _Watched(obj)
    before = snapshot(obj)
    yield watched
    after = snapshot(watched.obj)
    changed = diff(before, after)
    if changed:
        record(activity, by=by, application=application or _application(watched.obj), category=category,
               target=str(watched.obj) if target is None else target, changes=changed)
