"""One chunk of a cycle: claimed with a lease, its objects driven through the pipeline, recorded as they finish.

Any worker claims the next chunk of the cycle's current step (all chunks of a step finish before the
next step starts: managers before their reports, users before groups). The lease is renewed with every
flush (at least twice a second); a worker that dies stops renewing it, and once it has expired another
worker takes the chunk over. Each flush writes the finished objects' export state, log entries and the
chunk's done list in one transaction, so a takeover neither repeats nor loses one; an object whose create
may have been sent by the dead worker is looked up before it is created (context.possibly_sent).
"""

import logging
import math
import os
import socket
import threading
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Min, Q
from django.utils import timezone

from provisioning.engine import quarantine
from provisioning.engine import source as sources
from provisioning.engine.calls import BulkPolicy, Driver
from provisioning.engine.context import INITIATED_BY, RunContext
from provisioning.engine.pacing import Pacer
from provisioning.engine.pipeline import DEFERRED, provision
from provisioning.engine.source import GROUP, USER
from provisioning.models import CycleChunk, DeletedDirectoryObject, PendingRemoval, ProvisioningCycle, RunState

logger = logging.getLogger(__name__)
Phase = ProvisioningCycle.Phase


class LeaseLost(Exception):
    """Another worker took this chunk over (our lease had expired): stop without writing."""


def worker_name():
    return f"{socket.gethostname()}:{os.getpid()}"


def parallel_chunks(app):
    """Chunks of one cycle that may run at once; together they stay within the app's concurrency limit."""
    return max(1, min(settings.PROVISIONING_CHUNKS_IN_PARALLEL, app.max_concurrent_requests))


def threads_per_chunk(app):
    return max(1, math.ceil(app.max_concurrent_requests / parallel_chunks(app)))


def lease():
    return timedelta(seconds=settings.PROVISIONING_LEASE_SECONDS)


def claimable(cycle, now=None):
    """The current step's chunks that nobody holds (pending, or their lease expired)."""
    now = now or timezone.now()
    open_chunks = CycleChunk.objects.filter(cycle=cycle).exclude(state=CycleChunk.State.DONE)
    step = open_chunks.aggregate(step=Min("step"))["step"]
    if step is None:
        return CycleChunk.objects.none()
    return open_chunks.filter(step=step).filter(Q(state=CycleChunk.State.PENDING) | Q(lease_expires_at__lte=now))


def running(cycle, now=None):
    now = now or timezone.now()
    return CycleChunk.objects.filter(cycle=cycle, state=CycleChunk.State.RUNNING, lease_expires_at__gt=now)


def claim_next(cycle_id, owner=None):
    """Lease the next chunk of a running cycle, or None (nothing claimable, or enough chunks running)."""
    owner = owner or worker_name()
    with transaction.atomic():
        cycle = ProvisioningCycle.objects.select_for_update().select_related("application").filter(pk=cycle_id).first()
        if cycle is None or cycle.state != RunState.RUNNING or cycle.stop_requested or cycle.phase == Phase.PLANNING:
            return None
        now = timezone.now()
        if running(cycle, now).count() >= parallel_chunks(cycle.application):
            return None
        chunk = claimable(cycle, now).order_by("id").first()
        if chunk is None:
            return None
        taken_over = chunk.state == CycleChunk.State.RUNNING
        chunk.state = CycleChunk.State.RUNNING
        chunk.lease_owner, chunk.lease_token = owner, uuid.uuid4()
        chunk.lease_expires_at = now + lease()
        chunk.attempts += 1
        chunk.started_at = chunk.started_at or now
        chunk.save(update_fields=["state", "lease_owner", "lease_token", "lease_expires_at", "attempts", "started_at"])
        ProvisioningCycle.objects.filter(pk=cycle.pk).update(phase=chunk.phase, heartbeat_at=now)
        if taken_over:
            logger.warning("cycle %s: chunk %s taken over by %s (attempt %s)", cycle.cycle_id, chunk.pk, owner, chunk.attempts)
    chunk.cycle = cycle
    return chunk


def load_sources(chunk, skip):
    """The chunk's objects as pipeline Sources, without those already recorded."""
    ids = [i for i in chunk.object_ids if i not in skip]
    if chunk.phase in (Phase.USERS, Phase.REFERENCES):
        return sources.load_users(ids)
    if chunk.phase in (Phase.GROUPS, Phase.MEMBERS):
        return sources.load_groups(ids)
    removals = {r.pk: r for r in PendingRemoval.objects.filter(pk__in=ids)}
    loaded = {}
    for object_type, load in ((USER, sources.load_users), (GROUP, sources.load_groups)):
        pks = [r.source_pk for r in removals.values() if r.object_type == object_type and r.source_pk is not None]
        loaded.update({(s.object_type, s.pk): s for s in load(pks)})
    gone = [r.source_id for r in removals.values() if r.source_pk is None or (r.object_type, r.source_pk) not in loaded]
    tombstones = {(t.object_type, t.object_id): t for t in DeletedDirectoryObject.objects.filter(object_id__in=gone).order_by("deleted_at")}
    result = []
    for pk in ids:
        removal = removals.get(pk)
        if removal is None:
            continue
        found = loaded.get((removal.object_type, removal.source_pk))
        if found is None and (removal.object_type, removal.source_id) in tombstones:
            found = sources.from_tombstone(tombstones[(removal.object_type, removal.source_id)])
        if found is not None:
            found.chunk_key = pk
            result.append(found)
    return result


def levels(chunk, objects):
    """The chunk's objects in the order they must run: one list, or one per manager level it holds."""
    if not chunk.level_sizes:
        return [objects]
    level_of, position = {}, 0
    for number, size in enumerate(chunk.level_sizes):
        for pk in chunk.object_ids[position:position + size]:
            level_of[pk] = number
        position += size
    grouped = [[] for _ in chunk.level_sizes]
    for subject in objects:
        grouped[level_of.get(subject.pk, len(grouped) - 1)].append(subject)
    return [group for group in grouped if group]


def bulk_policy(ctx):
    if not ctx.application.use_bulk or ctx.dry_run:
        return None
    features = ctx.target_features()
    if not (features.bulk and features.bulk_max_operations):
        return None
    return BulkPolicy(max_operations=max(1, min(features.bulk_max_operations, settings.PROVISIONING_BULK_OPERATIONS)),
                      max_payload_size=features.bulk_max_payload_size)


class Recorder(threading.Thread):
    """Writes a chunk's finished objects from a thread (and database connection) of its own, every half
    second, while the driver goes on sending requests; renews the lease and reads Stop with each write.

    A caller already inside a transaction (a test, a management command wrapping the cycle) must see the
    writes in it, and another connection would wait for that transaction's locks forever: then the
    driver's tick writes instead (`threaded` False)."""

    def __init__(self, ctx, chunk, pacer, done_ids, counts, interval=None):
        super().__init__(name=f"chunk-{chunk.pk}-recorder", daemon=True)
        self.ctx, self.chunk, self.pacer = ctx, chunk, pacer
        self.done_ids, self.counts = done_ids, counts
        self.interval = interval or settings.PROVISIONING_RECORD_SECONDS
        self.stop_requested = self.lost = False
        self.error = None
        self.threaded = not connections["default"].in_atomic_block
        self._finish = threading.Event()

    def begin(self):
        if self.threaded:
            self.start()

    def tick(self):
        """The driver's tick: writes here when not on a thread of its own."""
        if not self.threaded and not self.lost and self.error is None:
            self.write()

    def run(self):
        try:
            while not self._finish.wait(self.interval):
                self.write()
                if self.lost or self.error:
                    return
            self.write()
        finally:
            connections.close_all()  # this thread's connections (a thread of its own: see __init__)

    def finish(self):
        if self.threaded:
            self._finish.set()
            self.join()
        else:
            self.tick()
        if self.error is not None:
            raise self.error

    def write(self):
        try:
            self.ctx.write(self.ctx.take(), also=self._progress)
        except LeaseLost:
            logger.warning("cycle %s: lost the lease of chunk %s; another worker continues it", self.chunk.cycle.cycle_id, self.chunk.pk)
            self.lost = True
            return
        except Exception as exc:  # noqa: BLE001 - the driver stops and the task fails; the lease expires
            logger.exception("cycle %s: recording chunk %s failed", self.chunk.cycle.cycle_id, self.chunk.pk)
            self.error = exc
            return
        self.pacer.sync()
        if ProvisioningCycle.objects.filter(pk=self.chunk.cycle_id, stop_requested=True).exists():
            self.stop_requested = True

    def _progress(self, outcomes):
        """Inside the write's transaction: the chunk's done list and counts, and the lease renewed."""
        for outcome in outcomes:
            self.done_ids.add(getattr(outcome.source, "chunk_key", outcome.source.pk))
            if outcome.status == DEFERRED:
                continue
            if outcome.log is None:
                unchanged = self.counts.setdefault("unchanged", {})
                unchanged["skipped"] = unchanged.get("skipped", 0) + 1
                continue
            if outcome.reference_failure and outcome.status == "failure":
                # Counted apart too, as Entra's escrow thresholds count references apart.
                reference = self.counts.setdefault("reference", {})
                reference["failure"] = reference.get("failure", 0) + 1
            by_status = self.counts.setdefault(outcome.action, {})
            by_status[outcome.status] = by_status.get(outcome.status, 0) + 1
        now = timezone.now()
        kept = CycleChunk.objects.filter(pk=self.chunk.pk, lease_token=self.chunk.lease_token, state=CycleChunk.State.RUNNING).update(
            done_ids=sorted(self.done_ids), done=len(self.done_ids), counts=self.counts, lease_expires_at=now + lease())
        if not kept:
            raise LeaseLost()
        ProvisioningCycle.objects.filter(pk=self.chunk.cycle_id).update(heartbeat_at=now)


def run_chunk(chunk):
    """Drive the chunk's objects to the end (or to Stop, a lost lease, a halt); returns "done", "stopped", "lost"
    or "halted" (then chunk.halt says why)."""
    cycle = chunk.cycle
    app = cycle.application
    phase = chunk.phase
    ctx = RunContext(
        application=app,
        initiated_by=INITIATED_BY.CHANGE if cycle.initiated_by_change else INITIATED_BY.CYCLE,
        initiated_by_user=cycle.requested_by.get_username() if cycle.requested_by_id else "",
        cycle=cycle,
        verify=False,
        defer_removals=phase in (Phase.USERS, Phase.GROUPS, Phase.MEMBERS),
        log_unchanged=cycle.kind == ProvisioningCycle.Kind.INITIAL and phase in (Phase.USERS, Phase.GROUPS),
        lease_token=chunk.lease_token,
        phase=phase,
    )
    done_ids = set(chunk.done_ids)
    started = time.monotonic()
    objects = load_sources(chunk, done_ids)
    ctx.prepare(objects)
    prepared = time.monotonic()
    pacer = Pacer(app.pk)
    recorder = Recorder(ctx, chunk, pacer, done_ids, {k: dict(v) for k, v in (chunk.counts or {}).items()})
    recorder.begin()
    driver = Driver(ctx.client, concurrency=threads_per_chunk(app), pacer=pacer, bulk=lambda: bulk_policy(ctx), tick=recorder.tick,
                    tick_seconds=recorder.interval, on_halt=lambda halt: quarantine.enter(app, *quarantine.for_halt(app, halt), cycle=cycle))
    stopping = lambda: recorder.stop_requested or recorder.lost or recorder.error is not None  # noqa: E731
    halt = None
    try:
        for level in levels(chunk, objects):
            # Managers of the next level are linked (in ctx's export state) once this level is driven.
            halt = driver.run(level, start=lambda subject: provision(ctx, subject), finish=lambda subject, outcome: ctx.record(outcome),
                              should_stop=stopping)
            if stopping() or halt is not None:
                break
    finally:
        driven = time.monotonic()
        ctx.close()
        recorder.finish()
    logger.info("cycle %s: %s chunk %s, %s objects in %.2f s (prepare %.2f s, requests %.2f s, last write %.2f s; %s requests)",
                cycle.cycle_id, phase, chunk.pk, len(objects), time.monotonic() - started, prepared - started, driven - prepared,
                time.monotonic() - driven, driver.requests)
    if recorder.lost:
        return "lost"
    if halt is not None:
        # The objects not done wait for the next attempt; the caller quarantines the job.
        CycleChunk.objects.filter(pk=chunk.pk, lease_token=chunk.lease_token).update(state=CycleChunk.State.PENDING, lease_expires_at=None)
        chunk.halt = halt
        return "halted"
    if recorder.stop_requested and len(done_ids) < len(chunk.object_ids):
        CycleChunk.objects.filter(pk=chunk.pk, lease_token=chunk.lease_token).update(state=CycleChunk.State.PENDING, lease_expires_at=None)
        return "stopped"
    CycleChunk.objects.filter(pk=chunk.pk, lease_token=chunk.lease_token).update(
        state=CycleChunk.State.DONE, finished_at=timezone.now(), lease_expires_at=None)
    return "done"
