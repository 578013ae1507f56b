"""Watermark reset: a configuration change makes the next cycle a full one."""


def require_full_cycle(app) -> None:
    """After a mapping or scoping change the next cycle re-evaluates every object, as Entra restarts the job.

    An incremental cycle only reads objects changed since the watermark, so without this a user left out
    by a new scoping filter, or due a newly mapped attribute, would wait for its next source change.
    """
    type(app).objects.filter(pk=app.pk).update(watermark=None)
    app.watermark = None
