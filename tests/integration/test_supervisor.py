"""``sunlight worker --processes 2`` on the real broker: two workers of one group come up, each
ready on its own port; one killed with SIGKILL is started again and is ready again; SIGTERM to
the supervisor stops both and it exits 0."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.integration.harness import World

pytestmark = pytest.mark.integration


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rpartition(")")[2].split()
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(entry.name))
    return sorted(out)


def test_two_supervised_workers_restart_and_stop(bootstrap: str, tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path)
    try:
        supervisor = world.start_worker(args=("--processes", "2"),
                                        SUNLIGHT_DATA_DIR=str(tmp_path / "data"))
        ports = (supervisor.port, supervisor.port + 1)
        for port in ports:
            supervisor.wait_ready(timeout=180, port=port)
        first = children(supervisor.process.pid)
        assert len(first) == 2, supervisor.tail()
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("data-")) == [
            "data-0", "data-1"]

        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = children(supervisor.process.pid)
            if len(now) == 2 and first[0] not in now:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"killed worker not restarted:\n{supervisor.tail()}")
        assert first[1] in now  # the other one was left alone
        for port in ports:
            supervisor.wait_ready(timeout=180, port=port)

        supervisor.process.send_signal(signal.SIGTERM)
        assert supervisor.process.wait(timeout=120) == 0, supervisor.tail()
        assert not [pid for pid in now if Path(f"/proc/{pid}").exists()], supervisor.tail()
    finally:
        world.close()
