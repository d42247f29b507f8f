from __future__ import annotations

import pytest

from escrow_project.celery import app as celery_app


@pytest.fixture
def eager_celery():
    """Tasks queued on commit run in-process, as the worker would run them."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _notification_settings(settings):
    settings.NOTIFICATIONS_WEBHOOK_ALLOW_INSECURE = True
    settings.NOTIFICATIONS_SMS_BACKEND = "notifications.channels.sms.LoggingSmsBackend"


@pytest.fixture
def receiver():
    from tests.notifications.receiver import Receiver

    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def _no_stray_broker_messages(request):
    """Tests that commit for real queue delivery tasks on the broker with no worker to take them:
    drop them afterwards, so no worker started later (a test's or `make run`'s) runs them."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction") and not celery_app.conf.task_always_eager:
        celery_app.control.purge()
