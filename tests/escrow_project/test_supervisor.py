"""run_platform's supervisor with real child processes: exits are restarted, crash loops stop it."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
import redis

from escrow_project.common.management.commands.run_platform import embedded_redis
from escrow_project.common.supervisor import ChildSpec, CrashLoop, Supervisor

PY = sys.executable


def _until(condition, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _poll_for(supervisor: Supervisor, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        supervisor.poll()
        time.sleep(0.02)


def _supervisor(tmp_path: Path, specs, events, **kwargs) -> Supervisor:
    options = {"backoff_initial": 0.1, "backoff_max": 0.4, "stable_after": 5.0, "crash_limit": 5, "crash_window": 60.0}
    return Supervisor(specs, log_dir=tmp_path / "log", on_event=events.append, **{**options, **kwargs})


def test_a_child_that_exits_is_restarted_with_growing_backoff_and_its_output_goes_to_its_log(tmp_path):
    events: list[str] = []
    counter = tmp_path / "runs"
    script = f"open({str(counter)!r}, 'a').write('x'); print('hello from the child'); raise SystemExit(3)"
    supervisor = _supervisor(tmp_path, [ChildSpec("flaky", [PY, "-c", script])], events, crash_limit=99)
    supervisor.start()
    try:

        def ran_four_times() -> bool:
            supervisor.poll()
            return counter.exists() and len(counter.read_text()) >= 4

        assert _until(ran_four_times)
    finally:
        supervisor.stop()

    assert supervisor.children["flaky"].restarts >= 3
    exits = [e for e in events if "exited" in e]
    assert exits[0].startswith("flaky exited with code 3 after 0 s; restarting in 0 s")
    assert any("restarted (pid" in e for e in events)
    assert "hello from the child" in (tmp_path / "log" / "flaky.log").read_text()


def test_a_killed_child_comes_back_and_the_others_keep_running(tmp_path):
    events: list[str] = []
    specs = [ChildSpec(name, [PY, "-c", "import time; time.sleep(600)"]) for name in ("web", "worker")]
    supervisor = _supervisor(tmp_path, specs, events)
    supervisor.start()
    try:
        worker = supervisor.children["worker"].process
        web = supervisor.children["web"].process
        assert worker is not None
        assert web is not None
        os.kill(worker.pid, signal.SIGKILL)

        def back() -> bool:
            supervisor.poll()
            current = supervisor.children["worker"].process
            return current is not None and current.pid != worker.pid

        assert _until(back)
        assert supervisor.children["web"].process is web
        assert web.poll() is None
        assert any(e.startswith("worker exited with signal SIGKILL") for e in events)
    finally:
        supervisor.stop()
    assert web.poll() is not None  # stop() ended everyone


def test_a_crash_loop_stops_the_platform(tmp_path):
    events: list[str] = []
    supervisor = _supervisor(tmp_path, [ChildSpec("broken", [PY, "-c", "raise SystemExit(1)"])], events, crash_limit=3)
    supervisor.start()
    try:
        with pytest.raises(CrashLoop) as caught:
            _poll_for(supervisor, seconds=20)
    finally:
        supervisor.stop()

    assert "broken exited 3 times within 60 s" in str(caught.value)
    assert supervisor.children["broken"].restarts == 2


def test_the_bundled_redis_answers_and_comes_back_after_a_kill(tmp_path):
    spec, url = embedded_redis(tmp_path)
    events: list[str] = []
    supervisor = _supervisor(tmp_path, [spec], events)
    supervisor.start()  # returns once the server answers on its socket
    try:
        client = redis.Redis.from_url(url)
        client.set("queued", "work")
        client.execute_command("BGREWRITEAOF")
        assert _until(lambda: client.info("persistence")["aof_rewrite_in_progress"] == 0)
        first = supervisor.children["redis"].process
        assert first is not None
        os.kill(first.pid, signal.SIGKILL)

        def answers_again() -> bool:
            supervisor.poll()
            try:
                return redis.Redis.from_url(url).get("queued") == b"work"
            except redis.ConnectionError:
                return False

        assert _until(answers_again)  # restarted, and the append-only file kept the queued data
    finally:
        supervisor.stop()
