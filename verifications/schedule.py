BEAT_SCHEDULE = {
    "verifications-escalate-overdue": {
        "task": "verifications.tasks.tasks_escalate_overdue",
        "schedule": 300.0,
    },
    # Agent work whose message was lost (broker down or emptied, a worker killed) goes out again.
    "verifications-tasks-sweep": {"task": "verifications.tasks.tasks_sweep_task", "schedule": 60.0},
}
