"""The Celery app. Tasks are DjangoTask, so `delay_on_commit` enqueues only after commit."""

from __future__ import annotations

import os
from importlib import import_module

from celery import Celery
from celery.signals import setup_logging, worker_process_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "escrow_project.settings.local")

app = Celery("escrow_project", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Declared in code so the schedule is reviewed like code; django-celery-beat mirrors it in the admin.
# Each app declares its periodic tasks in `<app>/schedule.py` as BEAT_SCHEDULE (a plain dict).
SCHEDULE_MODULES = [
    "escrow_project.common.schedule",
    "ledger.schedule",
    "audit.schedule",
    "notifications.schedule",
    "verifications.schedule",
    "endorsements.schedule",
    "transactions.schedule",
]


def collect_beat_schedule() -> dict[str, dict[str, object]]:
    schedule: dict[str, dict[str, object]] = {}
    for module_name in SCHEDULE_MODULES:
        try:
            module = import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        schedule.update(module.BEAT_SCHEDULE)
    return schedule


app.conf.beat_schedule = collect_beat_schedule()


@setup_logging.connect
def _use_django_logging(**_: object) -> None:
    """Keep Celery from replacing the structlog configuration from Django's settings."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@app.on_after_configure.connect
def _structlog_celery(sender: Celery, **_: object) -> None:
    from django_structlog.celery.steps import DjangoStructLogInitStep

    sender.steps["worker"].add(DjangoStructLogInitStep)


@worker_process_shutdown.connect
def _metrics_of_exited_child(pid: int | None = None, **_: object) -> None:
    """In multiprocess metrics mode a pool child's live gauges must go with it (its counters stay)."""
    from escrow_project.common.metrics import process_exited

    process_exited(pid or os.getpid())
