from celery.schedules import crontab

BEAT_SCHEDULE = {
    "ledger-holds-expire": {"task": "ledger.tasks.holds_expire_task", "schedule": 60.0},
    "ledger-invariants-check": {"task": "ledger.tasks.invariants_check_task", "schedule": 900.0},
    "ledger-payouts-sweep": {"task": "ledger.tasks.payouts_sweep_task", "schedule": 300.0},
    "ledger-reconciliation-breaks-gauge": {"task": "ledger.tasks.reconciliation_breaks_gauge", "schedule": 300.0},
    # Daily at 00:30 UTC, when the rail's day is complete.
    "ledger-rail-statement": {"task": "ledger.tasks.rail_statement_task", "schedule": crontab(hour=0, minute=30)},
}
