"""Shared fixtures. Integration tests run against a real Kafka broker: the one named by
KAFKA_BOOTSTRAP_SERVERS, or else the project's local broker (deploy/kafka-local), started here
if it is not running. A broker that cannot be reached fails the tests; it never skips them."""

from __future__ import annotations

import os
import socket
import subprocess
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


@pytest.fixture(scope="session")
def bootstrap() -> str:
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        if not _reachable(configured):
            pytest.fail(f"KAFKA_BOOTSTRAP_SERVERS={configured} does not answer")
        return configured
    result = subprocess.run([str(ROOT / "deploy" / "kafka-local"), "start"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail("could not start the local Kafka broker:\n" + result.stdout + result.stderr)
    port = os.environ.get("SUNLIGHT_KAFKA_PORT", "9092")
    address = f"127.0.0.1:{port}"
    if not _reachable(address):
        pytest.fail(f"local Kafka broker at {address} does not answer")
    return address
