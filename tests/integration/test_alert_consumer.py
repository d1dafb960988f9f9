"""The README's example consumer (examples/route_alerts.py, shown verbatim in the README) on a
real broker: red alerts reach the inspectors' inbox, yellow the regulator's, each once
(duplicates dropped, also after a restart); an inbox that fails leaves the alert uncommitted
and the next run delivers it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from alert_consumer import Alert, AlertConsumer
from tests.integration.harness import ROOT, World
from tests.test_alert_consumer import alert

pytestmark = pytest.mark.integration

EXAMPLE = ROOT / "examples" / "route_alerts.py"


def test_the_readme_shows_the_example_that_is_tested() -> None:
    code = EXAMPLE.read_text()
    body = code[code.index("import json"):]
    assert body in (ROOT / "README.md").read_text()


def inbox(folder: Path, name: str) -> list[str]:
    path = folder / name
    return [orjson.loads(line)["id"] for line in path.read_text().splitlines()] \
        if path.is_file() else []


def start_router(world: World, folder: Path) -> subprocess.Popen[bytes]:
    """Start the example in ``folder`` (its inboxes)."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": world.bootstrap,
           "SUNLIGHT_TOPIC_PREFIX": world.prefix, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(EXAMPLE)], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def run_router(world: World, folder: Path, until: int) -> str:
    """Run the example until its inboxes hold ``until`` lines (and 3 s more, time to deliver
    anything extra), then Ctrl-C it; returns its output. Ctrl-C must stop it cleanly: the
    alert in hand finished, committed, the group left, exit code 0."""
    router = start_router(world, folder)
    deadline = time.monotonic() + 60
    while (len(inbox(folder, "inspectors.jsonl")) + len(inbox(folder, "regulator.jsonl"))
           < until and time.monotonic() < deadline and router.poll() is None):
        time.sleep(0.3)
    time.sleep(3)
    router.send_signal(signal.SIGINT)
    try:
        output = router.communicate(timeout=30)[0].decode()
    except subprocess.TimeoutExpired:
        router.kill()
        output = router.communicate()[0].decode()
        pytest.fail(f"the router did not stop within 30 s of Ctrl-C; its output:\n{output}")
    assert router.returncode == 0, output
    return output


def test_example_routes_red_and_yellow_once_and_redelivers_after_a_failure(
        bootstrap: str, tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path)
    folder = tmp_path / "router"
    folder.mkdir()
    try:
        red = alert("red", "330784", "person:P-1", basis="pay-1")
        yellow = alert("yellow", "330110", "project:X9", route="regulator", basis="bid-1")
        elsewhere = alert("red", "331102", "person:P-2", basis="pay-2")  # not our county
        for event in (red, yellow, elsewhere, red):  # red twice: at-least-once delivery
            world.produce("alerts", event, key=event["subject"])
        world.produce("alerts", b'{"not": "an alert"}', key="junk")
        world.flush()

        # The inspectors' inbox cannot be written (a folder stands in its place): the router
        # fails on the red alert and stops; nothing red is lost.
        (folder / "inspectors.jsonl").mkdir()
        router = start_router(world, folder)
        first = router.communicate(timeout=60)[0].decode()
        assert router.returncode != 0 and "IsADirectoryError" in first
        (folder / "inspectors.jsonl").rmdir()

        second = run_router(world, folder, until=2)
        # The junk record was reported (by whichever run read its partition) and skipped.
        assert (first + second).count("not a valid alert") == 1
        assert inbox(folder, "inspectors.jsonl") == [red["id"]]
        assert inbox(folder, "regulator.jsonl") == [yellow["id"]]

        # A third run after more traffic: the old red copy again (redelivered by a restarted
        # worker) is dropped; the new yellow one is delivered.
        later = alert("yellow", "330784", "project:X10", route="regulator", basis="bid-2")
        for event in (red, later):
            world.produce("alerts", event, key=event["subject"])
        world.flush()
        run_router(world, folder, until=3)
        assert inbox(folder, "inspectors.jsonl") == [red["id"]]
        assert inbox(folder, "regulator.jsonl") == [yellow["id"], later["id"]]
    finally:
        world.close()


def test_a_handler_that_raises_gets_the_alert_again(bootstrap: str, tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path)
    try:
        events = [alert("red", "330784", f"person:P-{i}", basis=f"pay-{i}") for i in range(6)]
        for event in events:
            world.produce("alerts", event, key=event["subject"])
        world.flush()
        handled: list[str] = []
        failing = events[3]["id"]
        attempts: list[str] = []

        def handler(a: Alert) -> None:
            if a.id == failing and not attempts:  # fails the first time only
                attempts.append(failing)
                raise RuntimeError("downstream unavailable")
            handled.append(a.id)

        with AlertConsumer(bootstrap, "handler-test", world.topic("alerts")) as consumer:
            with pytest.raises(RuntimeError):
                consumer.run(handler, idle_timeout_s=10)
            stats = consumer.run(handler, idle_timeout_s=3)
        assert attempts == [failing]
        assert sorted(handled) == sorted(e["id"] for e in events)
        assert stats.duplicates == 0

        # Everything was committed: the group's next consumer has nothing left to hand on.
        with AlertConsumer(bootstrap, "handler-test", world.topic("alerts")) as consumer:
            assert consumer.run(handler, idle_timeout_s=3).handled == 0
    finally:
        world.close()
