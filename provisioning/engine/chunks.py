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
import socket
import os
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

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


def bulk_policy(ctx):
    if not ctx.application.use_bulk:
        return None
    features = ctx.target_features()
    if not (features.bulk and features.bulk_max_operations):
        return None
    return BulkPolicy(max_operations=max(1, min(features.bulk_max_operations, settings.PROVISIONING_BULK_OPERATIONS)),
                      max_payload_size=features.bulk_max_payload_size)


def run_chunk(chunk):
    """Drive the chunk's objects to the end (or to Stop / a lost lease); returns "done", "stopped" or "lost"."""
    cycle = chunk.cycle
    app = cycle.application
    phase = chunk.phase
    ctx = RunContext(
        application=app,
        initiated_by=INITIATED_BY.CYCLE,
        initiated_by_user=cycle.requested_by.get_username() if cycle.requested_by_id else "",
        cycle=cycle,
        verify=False,
        defer_removals=phase in (Phase.USERS, Phase.GROUPS, Phase.MEMBERS),
        log_unchanged=cycle.kind == ProvisioningCycle.Kind.INITIAL and phase in (Phase.USERS, Phase.GROUPS),
        lease_token=chunk.lease_token,
    )
    done_ids = set(chunk.done_ids)
    counts = {k: dict(v) for k, v in (chunk.counts or {}).items()}
    objects = load_sources(chunk, done_ids)
    ctx.prepare(objects)
    pacer = Pacer(app.pk)
    status = {"stop": False, "lost": False}

    def record_progress(outcomes):
        for outcome in outcomes:
            key = getattr(outcome.source, "chunk_key", outcome.source.pk)
            done_ids.add(key)
            if outcome.status == DEFERRED:
                continue
            if outcome.log is None:
                counts["unchanged"] = {"skipped": counts.get("unchanged", {}).get("skipped", 0) + 1}
                continue
            by_status = counts.setdefault(outcome.action, {})
            by_status[outcome.status] = by_status.get(outcome.status, 0) + 1
        now = timezone.now()
        kept = CycleChunk.objects.filter(pk=chunk.pk, lease_token=chunk.lease_token, state=CycleChunk.State.RUNNING).update(
            done_ids=sorted(done_ids), done=len(done_ids), counts=counts, lease_expires_at=now + lease())
        if not kept:
            raise LeaseLost()
        ProvisioningCycle.objects.filter(pk=cycle.pk).update(heartbeat_at=now)

    def tick():
        if status["lost"]:
            return
        try:
            ctx.flush(also=record_progress)
        except LeaseLost:
            logger.warning("cycle %s: lost the lease of chunk %s; another worker continues it", cycle.cycle_id, chunk.pk)
            status["lost"] = True
            ctx.outcomes = []
            return
        pacer.sync()
        if ProvisioningCycle.objects.filter(pk=cycle.pk, stop_requested=True).exists():
            status["stop"] = True

    driver = Driver(ctx.client, concurrency=threads_per_chunk(app), pacer=pacer, bulk=lambda: bulk_policy(ctx), tick=tick)
    try:
        driver.run(objects, start=lambda subject: provision(ctx, subject), finish=lambda subject, outcome: ctx.record(outcome),
                   should_stop=lambda: status["stop"] or status["lost"])
    finally:
        ctx.close()
    if status["lost"]:
        return "lost"
    if status["stop"] and len(done_ids) < len(chunk.object_ids):
        CycleChunk.objects.filter(pk=chunk.pk, lease_token=chunk.lease_token).update(state=CycleChunk.State.PENDING, lease_expires_at=None)
        return "stopped"
    CycleChunk.objects.filter(pk=chunk.pk, lease_token=chunk.lease_token).update(
        state=CycleChunk.State.DONE, finished_at=timezone.now(), lease_expires_at=None)
    return "done"
