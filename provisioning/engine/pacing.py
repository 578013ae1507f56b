"""One app's traffic to its target, shared by every thread of a worker and, through the database, every worker.

* **Pause** — a 429 or 503 holds every request until its Retry-After (or a growing backoff with jitter
  when it gives none): `throttle`. Other workers see it in `Application.throttled_until`.
* **Halt** — the target refused the credentials (401/403), or stopped answering as a SCIM service for
  many requests in a row: no new request is sent at all (`halted`), and the chunk ends so that the job
  can be quarantined. Other workers see the quarantine in `Application.job_status`.

The driver asks `gate()` before it sends each request; every PROVISIONING_GATE_SECONDS at most it reads
the shared state, so another worker's pause or halt reaches this one within that time. Plain Python
apart from `sync`, which the driver's thread (the one with the database connection) calls.
"""

import random
import threading
import time
from datetime import UTC, datetime

from django.conf import settings

from provisioning.scim.errors import BROKEN, CREDENTIAL, TRANSIENT, ScimConnectionError, ScimRateLimited, error_kind

# Without Retry-After: 1 s, 2 s, 4 s … up to this, with jitter so that workers do not retry in step.
MAX_BACKOFF_SECONDS = 30.0


def backoff(attempt):
    """The pause before the attempt-th retry: exponential, capped, with ±50 % jitter."""
    return min(MAX_BACKOFF_SECONDS, 2 ** max(0, attempt - 1)) * (0.5 + random.random())


class Halt(Exception):
    """No request may go to this target any more in this cycle; str() says why (the quarantine's sentence)."""

    def __init__(self, reason, description, error=None):
        super().__init__(description)
        self.reason, self.description, self.error = reason, description, error


class Pacer:
    def __init__(self, application_id=None):
        self.application_id = application_id
        self._lock = threading.Lock()
        self._until = 0.0  # wall-clock time.time(), comparable across processes through the database
        self._published = 0.0
        self._synced = 0.0
        self.halt = None  # a Halt once the target refused the credentials or stopped answering
        self.broken_in_a_row = 0
        self.throttled = 0  # 429/503 answers seen

    @property
    def until(self):
        return self._until

    @property
    def paused(self):
        return self._until > time.time()

    def wait(self, stop=None):
        """Sleep until the target may be called again (returns early when stop() says so, or on a halt)."""
        while True:
            delay = self._until - time.time()
            if delay <= 0 or self.halt is not None or (stop is not None and stop()):
                return
            time.sleep(min(delay, 0.5))

    def throttle(self, retry_after, attempt):
        """The target answered 429/503: hold all traffic for Retry-After seconds, or a growing backoff."""
        pause = retry_after if retry_after is not None else backoff(attempt)
        with self._lock:
            self.throttled += 1
            self._until = max(self._until, time.time() + pause)

    def answered(self, exc=None):
        """Note how a request ended (exc None: a usable answer). Sets the halt when the target refuses the
        credentials, or has not answered as SCIM for PROVISIONING_BROKEN_TARGET_REQUESTS requests in a row."""
        if exc is None:
            self.broken_in_a_row = 0
            return
        kind = error_kind(exc)
        if isinstance(exc, ScimRateLimited) or getattr(exc, "status", None) == 503:
            self.throttle(getattr(exc, "retry_after", None), getattr(exc, "tries", 1))
            self.sync()  # publish the pause now, not at the next gate: the other workers stop sooner
        if kind == CREDENTIAL and self.halt is None:
            request = f"{exc.method} {exc.path}".strip()
            self.halt = Halt("credentials", f"The target refused the Secret Token: {request} answered {exc.status or 'an error'}.", exc)
        elif kind == BROKEN or (kind == TRANSIENT and isinstance(exc, ScimConnectionError)):
            self.broken_in_a_row += 1
            if self.broken_in_a_row >= settings.PROVISIONING_BROKEN_TARGET_REQUESTS and self.halt is None:
                self.halt = Halt("broken", f"The last {self.broken_in_a_row} requests to the target got no SCIM answer; the last: {exc}", exc)
        else:
            self.broken_in_a_row = 0

    def gate(self):
        """May a request go now? False while paused or once halted; reads the shared state now and then."""
        if self.application_id is not None and time.monotonic() - self._synced >= settings.PROVISIONING_GATE_SECONDS:
            self.sync()
        return self.halt is None and not self.paused

    def sync(self):
        """Share this process's pause with the other workers and adopt theirs, and their quarantine."""
        self._synced = time.monotonic()
        if self.application_id is None:
            return
        from provisioning.models import Application

        mine = self._until
        if mine > self._published:
            moment = datetime.fromtimestamp(mine, UTC)
            Application.objects.filter(pk=self.application_id).exclude(throttled_until__gte=moment).update(throttled_until=moment)
            self._published = mine
        row = Application.objects.filter(pk=self.application_id).values_list("throttled_until", "job_status").first()
        if row is None:
            return
        theirs, status = row
        if theirs is not None:
            with self._lock:
                self._until = max(self._until, theirs.timestamp())
        if status == Application.JobStatus.QUARANTINE and self.halt is None:
            self.halt = Halt("quarantined", "Another worker put the provisioning job in quarantine.")
