"""Shared fixtures. Integration tests run against a real Kafka broker: the one named by
KAFKA_BOOTSTRAP_SERVERS, or else the project's local broker (deploy/kafka-local), started here
if it is not running and stopped again at the end. A broker that cannot be reached fails the
tests; it never skips them."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _reachable(bootstrap: str) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def _kafka_local(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ROOT / "deploy" / "kafka-local"), command],
                          capture_output=True, text=True)


@pytest.fixture(scope="session")
def bootstrap() -> Iterator[str]:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        if not _reachable(configured):
            pytest.fail(f"KAFKA_BOOTSTRAP_SERVERS={configured} does not answer")
        yield configured
        return
    # One started here is stopped at the end (`make broker-start` keeps one between runs).
    was_running = _kafka_local("status").returncode == 0
    result = _kafka_local("start")
    if result.returncode != 0:
        pytest.fail("could not start the local Kafka broker:\n" + result.stdout + result.stderr)
    port = os.environ.get("SUNLIGHT_KAFKA_PORT", "9092")
    address = f"127.0.0.1:{port}"
    try:
        if not _reachable(address):
            pytest.fail(f"local Kafka broker at {address} does not answer")
        yield address
    finally:
        if not was_running:
            _kafka_local("stop")
