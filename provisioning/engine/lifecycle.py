"""The run life cycle shared by cycles and on-demand runs: claim once, heartbeat while working, finish once.

Every transition is a conditional UPDATE, so two workers (or a task delivered twice) cannot both claim a
run, and a finished run stays finished. A running run whose heartbeat is older than the lease was
interrupted (its worker died): `is_interrupted` says so, and the cycle resumes from its chunks.
"""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from provisioning.models import RunState


def lease_seconds():
    return settings.PROVISIONING_LEASE_SECONDS


def claim(run):
    """QUEUED → RUNNING; True for the one caller that wins."""
    now = timezone.now()
    claimed = type(run).objects.filter(pk=run.pk, state=RunState.QUEUED).update(state=RunState.RUNNING, started_at=now, heartbeat_at=now)
    if claimed:
        run.state, run.started_at, run.heartbeat_at = RunState.RUNNING, now, now
    return bool(claimed)


def heartbeat(run):
    now = timezone.now()
    type(run).objects.filter(pk=run.pk, state=RunState.RUNNING).update(heartbeat_at=now)
    run.heartbeat_at = now


def finish(run, state, error=""):
    """RUNNING (or QUEUED) → a final state; False when it had already finished."""
    now = timezone.now()
    done = type(run).objects.filter(pk=run.pk, state__in=[RunState.QUEUED, RunState.RUNNING]).update(
        state=state, error=error, finished_at=now, heartbeat_at=now)
    if done:
        run.state, run.error, run.finished_at = state, error, now
    return bool(done)


def is_interrupted(run, now=None):
    """Running, but nobody has worked on it for longer than a lease: its worker died."""
    if run.state != RunState.RUNNING or run.heartbeat_at is None:
        return False
    return (now or timezone.now()) - run.heartbeat_at > timedelta(seconds=lease_seconds())
