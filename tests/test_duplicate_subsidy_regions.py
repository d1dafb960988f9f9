"""duplicate_subsidy_regions: the same payee paid by two regions within 31 days."""

from __future__ import annotations

import itertools
from typing import Any

from detectors.base import Event, Finding
from detectors.duplicate_subsidy_regions import DuplicateSubsidyRegions
from detectors.registry import Registry
from detectors.runner import Runner
from detectors.testing import drive
from tests.records import payment_event


def run(events: list[Event], detector: DuplicateSubsidyRegions | None = None,
        **runner_options: Any) -> list[Finding]:
    return drive(detector or DuplicateSubsidyRegions(), events, **runner_options).findings


def pay(i: int, day: str, region: str) -> Event:
    return payment_event(f"w{i}", "P-7", day=day, region=region, payer=f"VC-{region}-001")


def test_two_regions_within_the_window_fire_once_on_the_later_payment() -> None:
    [finding] = run([pay(1, "2026-05-01", "331102"), pay(2, "2026-05-25", "330602")])
    assert finding.basis == ("w2",)
    assert finding.time == "2026-05-25T10:00:00+08:00"
    assert (finding.severity, finding.sector) == ("yellow", "civil_affairs")
    assert [r["event_id"] for r in finding.evidence["records"]] == ["w1", "w2"]
    assert finding.evidence["observed"].startswith("2 regions")


def test_same_finding_whatever_the_arrival_order() -> None:
    events = [pay(1, "2026-05-01", "331102"), pay(2, "2026-05-10", "330602"),
              pay(3, "2026-05-12", "331102")]
    orders = {tuple(sorted(f.basis for f in run(list(p))))
              for p in itertools.permutations(events)}
    assert orders == {(("w2",), ("w3",))}


def test_a_retried_payment_does_not_fire_again() -> None:
    first = pay(1, "2026-05-01", "331102")
    # dedupe_max_ids=0: the Runner remembers no id, so the retry reaches the detector itself.
    found = run([first, pay(2, "2026-05-10", "330602"), pay(2, "2026-05-10", "330602")],
                dedupe_max_ids=0)
    assert len(found) == 1


def test_near_misses_stay_silent() -> None:
    # the same region twice; two regions 40 days apart
    assert run([pay(1, "2026-05-01", "331102"), payment_event(
        "w2", "P-7", day="2026-05-03", region="331102", payer="VC-331102-002")]) == []
    assert run([pay(1, "2026-04-01", "331102"), pay(2, "2026-05-11", "330602")]) == []


def test_state_is_forgotten_by_the_watermark() -> None:
    detector = DuplicateSubsidyRegions()
    runner = Runner({"payments": [detector]}, {}, Registry())
    for month in range(1, 13):
        runner.handle(pay(month, f"2026-{month:02d}-01", "331102"), "P-7")
        runner.commit()
    assert len(runner.detector_state(detector.name, "P-7")["p"]) <= 3
    # A payment beyond the retention behind the watermark is late, never paired.
    assert runner.handle(pay(99, "2026-09-15", "330784"), "P-7").late == [detector.name]
