"""Periodic tasks of the endorsements app (merged into Celery beat)."""

import os

# The tick only checks which insurer windows are due; each insurer's window length is its own.
_TICK = float(os.environ.get("ENDORSEMENTS_SCHEDULER_TICK_SECONDS", "10"))

BEAT_SCHEDULE = {
    "endorsements-scheduler-tick": {
        "task": "endorsements.tasks.scheduler_tick_task",
        "schedule": _TICK,
    },
    # SFTP insurers answer with files: their 999s and result files are fetched this often.
    "endorsements-inbox-poll": {
        "task": "endorsements.tasks.inbox_poll_all_task",
        "schedule": float(os.environ.get("ENDORSEMENTS_INBOX_POLL_SECONDS", "60")),
    },
    # A batch whose task was lost (broker down at upload, a worker killed) is handed over again.
    "endorsements-batches-sweep": {"task": "endorsements.tasks.batches_sweep_task", "schedule": 300.0},
    # ... and so is a delivery whose retry never came (the insurer dedupes by our key).
    "endorsements-dispatches-sweep": {"task": "endorsements.tasks.dispatches_sweep_task", "schedule": 300.0},
    # Accounts that will run dry within their warning period: HR is told (once a day per account).
    "endorsements-forecast-alerts": {"task": "endorsements.tasks.ea_forecast_alerts_task", "schedule": 3600.0},
    "endorsements-metrics-refresh": {
        "task": "endorsements.tasks.metrics_refresh_task",
        "schedule": 60.0,
    },
}
