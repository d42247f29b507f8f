from celery import shared_task

from escrow_project.common.idempotency import idempotency_records_purge


@shared_task(acks_late=True, soft_time_limit=100, time_limit=120)
def purge_idempotency_records() -> int:
    return idempotency_records_purge()
