BEAT_SCHEDULE = {
    "ledger-holds-expire": {"task": "ledger.tasks.holds_expire_task", "schedule": 60.0},
    "ledger-invariants-check": {"task": "ledger.tasks.invariants_check_task", "schedule": 900.0},
    "ledger-payouts-sweep": {"task": "ledger.tasks.payouts_sweep_task", "schedule": 300.0},
}
