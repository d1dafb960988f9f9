"""`sunlight alerts` driven by Textual's test pilot against a real broker: the alerts appear
(a redelivered one once) with per-detector counts, filters narrow them, an alert opens with its
summary, evidence, registry path, observed value and threshold, and a key records a verdict
that is written to alert-dispositions and shown once read back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from detectors.base import Finding
from detectors.findings import to_cloudevent
from stream.cli.browser import AlertBrowser, AlertScreen
from tests.integration.harness import World

pytestmark = pytest.mark.integration


def finding_alert(severity: str, region: str, subject: str, detector: str, basis: str) -> dict:
    return to_cloudevent(Finding(
        detector=detector, detector_version="1.0", subject=subject, severity=severity,
        route="discipline" if severity == "red" else "regulator", sector="public_payments",
        action="review", score=0.8, summary=f"{detector} finding on {subject}",
        time="2026-05-14T09:30:00+08:00", basis=(basis,),
        evidence={"records": [{"topic": "payments", "event_id": basis,
                               "fields": {"region": region, "amount": 700}}],
                  "registry_links": [{"path": f"{subject} -> village_cadre VC-{region}-001"}],
                  "observed": f"observed for {basis}", "threshold": "at most 0 such links"}))


async def until(pilot: Pilot, condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.2)


def shown(app: AlertBrowser) -> list[str]:
    table = app.query_one("#alerts", DataTable)
    return [row.value for row in table.rows]


def test_browse_filter_open_and_dispose(bootstrap: str, tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path)
    alerts = [
        finding_alert("red", "330784", "person:P-1", "ineligible_subsidy_payee", "pay-1"),
        finding_alert("yellow", "330784", "project:X9", "split_labour_materials", "bid-1"),
        finding_alert("red", "330110", "person:P-2", "deceased_recipient", "pay-2"),
        finding_alert("yellow", "330110", "project:X10", "split_labour_materials", "bid-2"),
    ]
    try:
        for alert in [*alerts, alerts[0]]:  # the first one redelivered
            world.produce("alerts", alert, key=alert["subject"])
        world.flush()
        ids = [a["id"] for a in alerts]

        async def drive() -> None:
            app = AlertBrowser(world.settings, from_beginning=True, decided_by="insp-9")
            async with app.run_test(size=(180, 50)) as pilot:
                await until(pilot, lambda: len(shown(app)) == 4)
                assert sorted(shown(app)) == sorted(ids)
                counts = app.query_one("#counts", DataTable)
                assert [[str(c) for c in counts.get_row_at(i)]
                        for i in range(counts.row_count)] == [
                    ["deceased_recipient", "1", "0"], ["ineligible_subsidy_payee", "1", "0"],
                    ["split_labour_materials", "0", "2"]]

                async def apply(text: str) -> list[str]:
                    await pilot.press("/")
                    app.query_one("#filter").value = ""
                    await pilot.press(*text, "enter")
                    await pilot.pause()
                    return sorted(shown(app))

                assert await apply("severity=yellow") == sorted([ids[1], ids[3]])
                assert await apply("severity=red region=330110") == [ids[2]]
                assert await apply("detector=split_labour_materials X10") == [ids[3]]
                assert await apply("route=discipline subject=P-1") == [ids[0]]

                await pilot.press("enter")  # open the one alert shown
                assert isinstance(app.screen, AlertScreen)
                text = str(app.screen.query_one("#detail", Static).content)
                for part in ("ineligible_subsidy_payee finding on person:P-1", "pay-1",
                             "person:P-1 -> village_cadre VC-330784-001",
                             "observed for pay-1", "at most 0 such links",
                             "none recorded yet"):
                    assert part in text

                await pilot.click("#note")
                await pilot.press(*"seen the minutes", "shift+tab")  # back to the alert
                await pilot.press("c")

                def detail() -> str:
                    return str(app.screen.query_one("#detail", Static).content)

                # Shown once read back from alert-dispositions on the broker.
                await until(pilot, lambda: "confirmed by insp-9" in detail())
                assert "seen the minutes" in detail()
                await pilot.press("escape")
                await pilot.pause()
                table = app.query_one("#alerts", DataTable)
                assert str(table.get_row_at(0)[-1]) == "confirmed"

        asyncio.run(drive())
        [written] = world.read("alert-dispositions", expect=1, settle=1)
        assert (written["alert_id"], written["verdict"], written["decided_by"],
                written["note"], written["_key"]) == (ids[0], "confirmed", "insp-9",
                                                      "seen the minutes", ids[0])
    finally:
        world.close()


def test_live_shows_only_what_comes_next(bootstrap: str, tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path)
    try:
        old = finding_alert("red", "330784", "person:P-OLD", "deceased_recipient", "pay-o")
        world.produce("alerts", old, key=old["subject"])
        world.flush()
        new = finding_alert("yellow", "330784", "person:P-NEW", "deceased_recipient", "pay-n")

        async def drive() -> None:
            app = AlertBrowser(world.settings, from_beginning=False)
            async with app.run_test(size=(160, 40)) as pilot:
                await until(pilot, app.positioned.is_set)  # at the end of the topic
                world.produce("alerts", new, key=new["subject"])
                world.flush()
                await until(pilot, lambda: bool(shown(app)))
                await pilot.pause(1)
                assert shown(app) == [new["id"]]

        asyncio.run(drive())
    finally:
        world.close()
