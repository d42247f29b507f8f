"""Celery tasks: take ids, call one service. All idempotent (the service re-checks the row)."""

from celery import shared_task

from notifications import services


# time_limit stays below NOTIFICATIONS_DELIVERY_LEASE_SECONDS (60), so no two workers ever send one row at once.
@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=45, time_limit=55)
def deliver_notification(notification_id: int) -> str:
    return services.notification_deliver(notification_id=notification_id)


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def sweep_outbox() -> int:
    return services.outbox_sweep()


@shared_task(acks_late=True, soft_time_limit=250, time_limit=300)
def send_digests() -> int:
    return services.digest_send_due()


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=50, time_limit=60)
def expand_fanout(fanout_id: int) -> int:
    return services.notification_fanout_expand(fanout_id=fanout_id)


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60)
def sweep_fanouts() -> int:
    return services.notification_fanouts_sweep()
