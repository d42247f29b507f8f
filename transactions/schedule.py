BEAT_SCHEDULE = {
    "escrow-unblock-sweep": {"task": "transactions.tasks.escrow_unblock_sweep", "schedule": 60.0},
    "escrow-state-gauge": {"task": "transactions.tasks.escrow_state_gauge", "schedule": 60.0},
}
