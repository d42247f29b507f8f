from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Daily at 00:40 UTC, after the ledger's rail statement check of 00:30.
    "escrow-three-way": {"task": "transactions.tasks.escrow_three_way_task", "schedule": crontab(hour=0, minute=40)},
    "escrow-unblock-sweep": {"task": "transactions.tasks.escrow_unblock_sweep", "schedule": 60.0},
    "escrow-state-gauge": {"task": "transactions.tasks.escrow_state_gauge", "schedule": 60.0},
}
