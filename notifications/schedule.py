BEAT_SCHEDULE = {
    "notifications-sweep-outbox": {
        "task": "notifications.tasks.sweep_outbox",
        "schedule": 30.0,
    },
    "notifications-sweep-fanouts": {
        "task": "notifications.tasks.sweep_fanouts",
        "schedule": 30.0,
    },
    "notifications-send-digests": {
        "task": "notifications.tasks.send_digests",
        "schedule": 3600.0,
    },
}
