"""`sunlight dispose` on a real broker and worker: a verdict on a published alert is written to
alert-dispositions and moves the worker's precision metric; an id never published is refused
(exit 2, one line) and nothing is written."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from schemas import validate
from tests.integration.harness import ROOT, World, pay_cadres

pytestmark = pytest.mark.integration

VILLAGE = "VC-330784-041"
PRECISION = 'sunlight_detector_precision{detector="ineligible_subsidy_payee"}'


def sunlight(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": world.bootstrap,
           "SUNLIGHT_TOPIC_PREFIX": world.prefix}
    return subprocess.run([sys.executable, "-m", "stream.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_dispose_writes_a_verdict_that_moves_precision(bootstrap: str, tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path)
    try:
        worker = world.start_worker()
        worker.wait_ready()
        pay_cadres(world, VILLAGE, ("P-DA", "P-DB"))
        alerts = {a["subject"]: a["id"] for a in world.read("alerts", expect=2, settle=1)}

        never = "00000000-0000-0000-0000-00000000beef"
        refused = sunlight(world, "dispose", never, "confirmed")
        assert refused.returncode == 2
        assert refused.stderr.strip().splitlines() == [
            f"sunlight dispose: no alert with id {never!r} was published on "
            f"{world.topic('alerts')}; nothing written"]

        done = sunlight(world, "dispose", alerts["person:P-DA"], "confirmed",
                        "--note", "payee confirmed as cadre by the township", "--by", "insp-3")
        assert done.returncode == 0, done.stderr
        worker.wait_metric(PRECISION, 1.0, timeout=60)

        assert sunlight(world, "dispose", alerts["person:P-DB"], "dismissed").returncode == 0
        written = world.read("alert-dispositions", expect=2, settle=1)
        for record in written:
            validate("disposition", {k: v for k, v in record.items() if k != "_key"})
            assert record["_key"] == record["alert_id"]
        by_alert = {record["alert_id"]: record for record in written}  # partitions: any order
        assert len(written) == len(by_alert) == 2
        written_a, written_b = by_alert[alerts["person:P-DA"]], by_alert[alerts["person:P-DB"]]
        assert (written_a["verdict"], written_a["decided_by"], written_a["note"]) == (
            "confirmed", "insp-3", "payee confirmed as cadre by the township")
        assert written_b["verdict"] == "dismissed" and "note" not in written_b
        assert never not in orjson.dumps([written_a, written_b]).decode()
        # 1 confirmed of 2 decided: the precision metric moves down to 0.5.
        worker.wait_metric('sunlight_dispositions_total{detector="ineligible_subsidy_payee",'
                           'verdict="dismissed"}', 1)
        precision = 1.0
        for _ in range(60):  # exported every 15 s
            precision = worker.metrics()[PRECISION]
            if precision == 0.5:
                break
            time.sleep(1)
        assert precision == 0.5
    finally:
        world.close()
