BEAT_SCHEDULE = {
    "purge-idempotency-records": {
        "task": "escrow_project.common.tasks.purge_idempotency_records",
        "schedule": 3600.0,
    },
}
