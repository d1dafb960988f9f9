"""SUNLIGHT_LOG_FORMAT=json on a real worker: every line of its log is one JSON object a log
shipper can read, and person ids stay masked in it as in the text format."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.integration.harness import World, pay_cadres

pytestmark = pytest.mark.integration

VILLAGE = "VC-330784-077"
CADRE = "P-JSONLOG-CADRE"


def test_json_log_lines_with_person_ids_masked(bootstrap: str, tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path)
    try:
        worker = world.start_worker(SUNLIGHT_LOG_FORMAT="json")
        worker.wait_ready()
        pay_cadres(world, VILLAGE, [CADRE])
        world.produce("payments", b"not json")  # a warning line too
        world.flush()
        assert len(world.read("alerts", expect=1, timeout=90, settle=0)) == 1
        worker.wait_metric("sunlight_records_rejected_total"
                           f'{{reason="not_json",topic="{world.topic("payments")}"}}', 1)
        worker.stop()
        lines = [line for line in worker.log_path.read_text().splitlines() if line.strip()]
        entries = [orjson.loads(line) for line in lines]  # each line is one JSON object
        assert all({"time", "level", "logger", "message", "pid"} <= set(e) for e in entries)
        alert = [e for e in entries if e["message"].startswith("alert ")]
        assert len(alert) == 1 and alert[0]["level"] == "info"
        assert "person:P-J…#" in alert[0]["message"]  # masked, as in the text format
        assert any(e["level"] == "warning" and "not_json" in e["message"]
                   for e in entries)
        assert CADRE not in "\n".join(lines)
    finally:
        world.close()
