"""``sunlight worker --processes N|auto``: N worker processes of one consumer group from one
command, so an operator runs one unit per machine and every core takes a share of the
partitions.

Worker ``i`` (0-based) gets the web port ``base + i`` and the data folder ``<base>-i``, so
each keeps its own state and its ``/metrics`` stays scrapeable. A worker that exits while the
supervisor is running is started again after a pause that doubles with each exit in a row
(1 s, 2 s, 4 s ... at most :data:`BACKOFF_CAP_S`), and goes back to 1 s once a worker has run
for :data:`STABLE_S`. SIGTERM or SIGINT to the supervisor is passed on to every worker, and
the supervisor waits for them to stop (each finishes its in-flight work and commits); one that
has not stopped after ``stop_timeout_s`` is killed.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("sunlight.supervisor")

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 60.0
#: A worker that ran this long before exiting counts as healthy: its next restart is quick.
STABLE_S = 60.0


def process_count(text: str) -> int:
    """``auto`` (one per core this process may run on) or a whole number >= 1.

    >>> process_count("3")
    3
    >>> process_count("auto") == len(os.sched_getaffinity(0))
    True
    """
    if text.strip().lower() == "auto":
        return len(os.sched_getaffinity(0))
    value = int(text)
    if value < 1:
        raise ValueError(f"{text!r} is not a number of processes >= 1")
    return value


def backoff(failures: int, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S) -> float:
    """Seconds to wait before restarting a worker that exited ``failures`` times in a row.

    >>> [backoff(n) for n in (1, 2, 3, 7, 8, 20)]
    [1.0, 2.0, 4.0, 60.0, 60.0, 60.0]
    """
    return min(cap, base * 2 ** max(0, min(failures - 1, 32)))


@dataclass(frozen=True)
class Slot:
    """What makes worker ``index`` distinct from its siblings on one machine."""

    index: int
    web_port: int
    data_dir: Path


def slots(count: int, base_port: int, base_dir: Path) -> list[Slot]:
    """Worker i: port ``base_port + i``, folder ``<base_dir>-i``.

    >>> [(s.web_port, s.data_dir.name) for s in slots(2, 6066, Path("var/worker"))]
    [(6066, 'worker-0'), (6067, 'worker-1')]
    """
    if base_port + count - 1 > 65535:
        raise ValueError(f"ports {base_port}..{base_port + count - 1} go beyond 65535")
    return [Slot(i, base_port + i, base_dir.with_name(f"{base_dir.name}-{i}"))
            for i in range(count)]


@dataclass
class Child:
    slot: Slot
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float = 0.0
    restarts: int = 0
    exits: list[int] = field(default_factory=list)


class Supervisor:
    """Starts a worker per slot and keeps it running until asked to stop."""

    def __init__(self, slots: Sequence[Slot], command: Callable[[Slot], list[str]],
                 stop_timeout_s: float = 60.0, poll_s: float = 0.2) -> None:
        self.children = [Child(slot) for slot in slots]
        self.command = command
        self.stop_timeout_s = stop_timeout_s
        self.poll_s = poll_s
        self.stopping: int | None = None  # the signal asked to stop with

    def _start(self, child: Child) -> None:
        # A process group of its own: a terminal's Ctrl-C reaches the supervisor only, which
        # passes it on once (twice would make a worker skip its orderly stop).
        child.process = subprocess.Popen(self.command(child.slot), process_group=0)
        child.started = time.monotonic()
        log.info("worker %d started: pid %d, web port %d, data %s", child.slot.index,
                 child.process.pid, child.slot.web_port, child.slot.data_dir)

    def _signalled(self, signum: int, _frame: object) -> None:
        self.stopping = signum

    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._signalled)
        for child in self.children:
            self._start(child)
        while self.stopping is None:
            now = time.monotonic()
            for child in self.children:
                process = child.process
                if process is not None and (code := process.poll()) is not None:
                    ran = now - child.started
                    child.failures = 1 if ran >= STABLE_S else child.failures + 1
                    child.exits.append(code)
                    child.process = None
                    child.restart_at = now + backoff(child.failures)
                    log.warning("worker %d (pid %d) exited %d after %.0fs; restarting in %.0fs",
                                child.slot.index, process.pid, code, ran,
                                child.restart_at - now)
                elif process is None and now >= child.restart_at:
                    child.restarts += 1
                    self._start(child)
            time.sleep(self.poll_s)
        return self._stop(self.stopping)

    def _stop(self, signum: int) -> int:
        running = [c.process for c in self.children
                   if c.process is not None and c.process.poll() is None]
        log.info("stopping %d worker(s) (%s)", len(running), signal.Signals(signum).name)
        for process in running:
            process.send_signal(signum)
        deadline = time.monotonic() + self.stop_timeout_s
        for process in running:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in %.0fs: killed", process.pid,
                            self.stop_timeout_s)
                process.kill()
                process.wait()
        return 0


def supervise(count: int, base_port: int, base_dir: Path, log_level: str = "info") -> int:
    """Run ``count`` workers (``sunlight worker`` each, same environment) until signalled."""
    logging.basicConfig(level=log_level.upper(),
                        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s")

    def command(slot: Slot) -> list[str]:
        return [sys.executable, "-m", "stream.cli", "worker", "--web-port", str(slot.web_port),
                "--data-dir", str(slot.data_dir)]

    return Supervisor(slots(count, base_port, base_dir), command).run()
