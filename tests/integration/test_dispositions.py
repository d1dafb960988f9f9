"""Verification results flow back: dispositions move the precision metric; a disposition for
an alert Sunlight never published goes to dead-letters with that reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.harness import World

pytestmark = pytest.mark.integration

VILLAGE = "VC-330784-021"
PRECISION = 'sunlight_detector_precision{detector="ineligible_subsidy_payee"}'


def disposition(alert_id: str, verdict: str, at: str) -> dict:
    return {"alert_id": alert_id, "verdict": verdict, "decided_by": "inspector-7",
            "decided_at": at}


def wait_precision(world: World, value: float) -> None:
    worker = world.workers[0]
    worker.wait_metric(PRECISION, value, timeout=60)
    assert abs(worker.metrics()[PRECISION] - value) < 1e-9


def test_dispositions_move_precision(bootstrap: str, tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path)
    try:
        worker = world.start_worker()
        worker.wait_ready()
        for pid in ("P-A", "P-B"):
            world.produce("registry", {"record_type": "person", "person_id": pid, "roles": [
                {"role": "village_cadre", "org_id": VILLAGE, "region": "330784",
                 "start": "2020-01-01"}]}, key=pid)
        world.flush()
        worker.wait_metric('sunlight_registry_records{record_type="person"}', 2)
        for i, pid in enumerate(("P-A", "P-B")):
            world.produce("payments", {
                "event_id": f"d-pay-{i}", "event_time": "2026-05-14T09:30:00+08:00",
                "region": "330784", "status": "executed", "payer_id": VILLAGE,
                "payee_id": pid, "payee_kind": "person", "purpose": "work_subsidy",
                "amount": 700.0})
        world.flush()
        alerts = {a["subject"]: a["id"] for a in world.read("alerts", expect=2, settle=1)}
        assert set(alerts) == {"person:P-A", "person:P-B"}

        world.produce("alert-dispositions", disposition(
            alerts["person:P-A"], "confirmed", "2026-05-20T10:00:00+08:00"))
        world.produce("alert-dispositions", disposition(
            alerts["person:P-B"], "dismissed", "2026-05-20T11:00:00+08:00"))
        world.produce("alert-dispositions", disposition(
            "00000000-0000-0000-0000-000000000000", "confirmed", "2026-05-20T12:00:00+08:00"))
        world.flush()
        worker.wait_metric('sunlight_dispositions_total{detector="ineligible_subsidy_payee",'
                           'verdict="dismissed"}', 1)
        wait_precision(world, 0.5)
        metrics = worker.metrics()
        assert metrics['sunlight_alert_verdicts{detector="ineligible_subsidy_payee",'
                       'region="330784",verdict="confirmed"}'] == 1
        [letter] = world.read("dead-letters", expect=1, settle=1)
        assert letter["reason_code"] == "unknown_alert"
        assert "00000000-0000-0000-0000-000000000000" in letter["reason"]

        # On appeal the dismissed alert is confirmed: precision rises to 1.
        world.produce("alert-dispositions", disposition(
            alerts["person:P-B"], "confirmed", "2026-06-01T10:00:00+08:00"))
        world.flush()
        wait_precision(world, 1.0)
    finally:
        world.close()
