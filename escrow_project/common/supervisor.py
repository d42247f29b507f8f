"""Keeps a set of child processes running: the heart of `run_platform`.

A child that exits is started again after a backoff (1 s, doubling to 30 s; back to 1 s once it
had run for a minute), and the restart is reported. The supervisor gives up only on a crash loop:
one child exiting `crash_limit` times within `crash_window` seconds, which no restart will fix.
Each child's stdout and stderr go to `<log_dir>/<name>.log`, so the console stays readable.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    # Called after each start, before the next child starts (e.g. wait until a socket answers).
    ready: Callable[[], None] | None = None


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    failures_in_row: int = 0
    restart_at: float | None = None
    exits: deque[float] = field(default_factory=deque)
    last_exit: int | None = None


class CrashLoop(Exception):
    """A child crashed too often too quickly; the platform stops."""


Event = Callable[[str], None]


class Supervisor:
    def __init__(
        self,
        specs: list[ChildSpec],
        *,
        log_dir: Path,
        on_event: Event = print,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        stable_after: float = 60.0,
        crash_limit: int = 5,
        crash_window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.children = {spec.name: Child(spec) for spec in specs}
        self.log_dir = log_dir
        self.on_event = on_event
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.crash_limit = crash_limit
        self.crash_window = crash_window
        self.clock = clock
        self._logs: dict[str, IO[bytes]] = {}

    def log_path(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, only: list[str] | None = None) -> None:
        """Start the children not started yet (those named in `only`, else all), in declaration order."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, child in self.children.items():
            if child.process is None and child.restart_at is None and (only is None or name in only):
                self._spawn(child)

    def _spawn(self, child: Child) -> None:
        log = self._logs.get(child.spec.name)
        if log is None:
            log = self._logs[child.spec.name] = self.log_path(child.spec.name).open("ab", buffering=0)
        env = {**os.environ, **(child.spec.env or {})}
        child.process = subprocess.Popen(  # noqa: S603 - our own argv
            child.spec.argv,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops the children in order
        )
        child.started_at = self.clock()
        child.restart_at = None
        if child.spec.ready is not None:
            child.spec.ready()

    def poll(self) -> None:
        """Notice exits, schedule and perform restarts; raises CrashLoop."""
        now = self.clock()
        for name, child in self.children.items():
            process = child.process
            if process is not None and process.poll() is not None:
                child.last_exit = process.returncode
                child.process = None
                ran = now - child.started_at
                child.failures_in_row = 1 if ran >= self.stable_after else child.failures_in_row + 1
                child.exits.append(now)
                while child.exits and child.exits[0] < now - self.crash_window:
                    child.exits.popleft()
                if len(child.exits) >= self.crash_limit:
                    raise CrashLoop(
                        f"{name} exited {len(child.exits)} times within {self.crash_window:.0f} s "
                        f"(last exit {process.returncode}); see {self.log_path(name)}"
                    )
                delay = min(self.backoff_max, self.backoff_initial * 2 ** (child.failures_in_row - 1))
                child.restart_at = now + delay
                self.on_event(
                    f"{name} exited with {_exit_text(process.returncode)} after {ran:.0f} s; "
                    f"restarting in {delay:.0f} s (see {self.log_path(name)})"
                )
            elif child.process is None and child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._spawn(child)
                assert child.process is not None
                self.on_event(f"{name} restarted (pid {child.process.pid}, restart {child.restarts})")

    def run(self, should_stop: Callable[[], bool], tick: float = 0.2) -> None:
        while not should_stop():
            self.poll()
            time.sleep(tick)

    def status(self) -> list[tuple[str, str, int]]:
        """(name, state, restarts) per child."""
        rows = []
        for name, child in self.children.items():
            state = f"running (pid {child.process.pid})" if child.process is not None else "waiting to restart"
            rows.append((name, state, child.restarts))
        return rows

    def stop(self, timeout: float = 15.0, last: list[str] | None = None) -> None:
        """SIGTERM every child, wait, SIGKILL the stragglers; the `last` ones only once the others are gone."""
        first = [name for name in self.children if name not in (last or [])]
        for group in (first, [name for name in (last or []) if name in self.children]):
            self._stop_group(group, timeout)
        for log in self._logs.values():
            log.close()
        self._logs.clear()

    def _stop_group(self, names: list[str], timeout: float) -> None:
        processes = [p for p in (self.children[name].process for name in names) if p is not None]
        for process in processes:
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"
