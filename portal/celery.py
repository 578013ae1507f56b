"""The Celery application: the engine's runner. Tasks live in provisioning/tasks.py."""

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

# CELERY_BROKER_URL=embedded:// (the default): the SQLite broker of portal/broker.py.
TRANSPORT_ALIASES.setdefault("embedded", "portal.broker:Transport")

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
