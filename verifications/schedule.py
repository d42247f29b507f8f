BEAT_SCHEDULE = {
    "verifications-escalate-overdue": {
        "task": "verifications.tasks.tasks_escalate_overdue",
        "schedule": 300.0,
    },
}
