"""Celery tasks: thin callers of provisioning.engine. They take ids and re-read rows.

Two queues, so that Provision on demand never waits behind a cycle: the on-demand queue for on-demand
runs, the cycles queue for cycles (planning and chunks) and the beat tick; CELERY_TASK_ROUTES in
settings maps the tasks to them (Celery 5.7 deprecates `queue=` on the decorator). `celery -A portal
worker` serves both; production can run dedicated workers with -Q (README). A cycle's chunks are short tasks: each one runs
one chunk, advances the cycle and sends the next workers, so on-demand runs interleave with them.
"""

from celery import shared_task

from provisioning.engine import cycle as cycles
from provisioning import retention, webhook_sender
from provisioning.engine import changes, dry_run, on_demand
from provisioning.models import OnDemandRun


@shared_task(time_limit=300)
def run_on_demand(run_id):
    run = OnDemandRun.objects.filter(pk=run_id).first()
    if run is not None:
        on_demand.provision_on_demand(run)


@shared_task(time_limit=3600)
def run_cycle(cycle_id):
    """Claim and plan a queued cycle, then send as many chunk workers as it can use; while the app's previous
    cycle is still stopping, try again in two seconds."""
    workers = cycles.begin(cycle_id)
    if workers is cycles.WAIT:
        run_cycle.apply_async((cycle_id,), countdown=2)
        return
    _send_workers(cycle_id, workers)


@shared_task(time_limit=3600)
def plan_cycle(cycle_id):
    """Plan again a cycle whose worker died while planning."""
    from provisioning.models import ProvisioningCycle

    cycle = ProvisioningCycle.objects.filter(pk=cycle_id, state="running").first()
    if cycle is not None:
        _send_workers(cycle_id, cycles.plan(cycle))


@shared_task(time_limit=3600)
def run_cycle_chunk(cycle_id):
    """Run the next chunk of a cycle (any worker may), then send the workers it can use next."""
    _send_workers(cycle_id, cycles.work(cycle_id))


@shared_task(time_limit=3600)
def run_dry_run(dry_run_id):
    """A whole cycle evaluated with only reads sent (engine/dry_run.py); one process, rolled back."""
    dry_run.run_dry_run(dry_run_id)


@shared_task(time_limit=60)
def deliver_webhook(delivery_id):
    """One attempt at a webhook delivery; a failed one is tried again later, less and less often."""
    wait = webhook_sender.deliver(delivery_id)
    if wait is not None:
        deliver_webhook.apply_async((delivery_id,), countdown=wait)


@shared_task(time_limit=120)
def sync_changes():
    """Directory changes: queue a change cycle for each app that is due; look again while one waits for a cycle."""
    queued, again = changes.queue_change_cycles()
    for cycle in queued:
        run_cycle.delay(cycle.pk)
    if again is not None:
        sync_changes.apply_async(countdown=again)


@shared_task(time_limit=120)
def start_due_cycles():
    """Beat: queue due cycles, and give workers back to cycles whose workers died."""
    for cycle in cycles.queue_due_cycles():
        run_cycle.delay(cycle.pk)
    # A change whose task was lost with its worker is still marked: beat takes it.
    for cycle in changes.queue_change_cycles()[0]:
        run_cycle.delay(cycle.pk)
    for action, cycle_id, *rest in cycles.resume_cycles():
        if action == "begin":
            run_cycle.delay(cycle_id)
        elif action == "plan":
            plan_cycle.delay(cycle_id)
        else:
            _send_workers(cycle_id, rest[0])


def _send_workers(cycle_id, count):
    for _ in range(count):
        run_cycle_chunk.delay(cycle_id)


@shared_task(time_limit=3600)
def prune_old_entries():
    """Provisioning logs and audit entries past PORTAL_LOG_RETENTION_DAYS (beat, hourly)."""
    retention.prune_old_entries()
