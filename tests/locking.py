"""Helpers for tests that race two processes over PostgreSQL row locks."""

from __future__ import annotations

import time
from typing import Any

from django.db import connection, connections


def until_someone_waits_for_a_lock() -> bool:
    """True once another backend of this database waits for a lock (up to 30 s)."""
    with connection.cursor() as cursor:
        for _ in range(600):
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # inside a transaction the view is frozen otherwise
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


def run_in_child(target: Any, queue: Any, name: str, args: tuple[Any, ...]) -> None:
    """A forked process's body: the result (or the error it died of, a deadlock included) goes to `queue`."""
    try:
        result: Any = target(*args)
    except BaseException as exc:  # noqa: BLE001 -- a deadlock here is what the test looks for
        result = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    finally:
        connections.close_all()
    queue.put((name, result))
