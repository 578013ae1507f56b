"""Celery tasks: thin callers of provisioning.engine. They take ids and re-read rows."""

from celery import shared_task

from provisioning.engine import cycle as cycles
from provisioning.engine import on_demand
from provisioning.models import OnDemandRun, ProvisioningCycle


@shared_task
def run_on_demand(run_id):
    run = OnDemandRun.objects.filter(pk=run_id).first()
    if run is not None:
        on_demand.provision_on_demand(run)


@shared_task
def run_cycle(cycle_id):
    cycle = ProvisioningCycle.objects.filter(pk=cycle_id).first()
    if cycle is not None:
        cycles.run_cycle(cycle)


@shared_task
def start_due_cycles():
    for cycle in cycles.queue_due_cycles():
        run_cycle.delay(cycle.pk)
