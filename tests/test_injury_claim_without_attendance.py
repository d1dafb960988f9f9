"""injury_claim_without_attendance: injury payouts to people never on the project's site."""

from __future__ import annotations

import itertools

from detectors.base import Event, Finding
from detectors.injury_claim_without_attendance import InjuryClaimWithoutAttendance
from detectors.testing import drive
from tests.records import check_in_event, payment_event


def claim(day: str = "2026-05-20", project: str = "PRJ-1") -> Event:
    return payment_event("inj-1", "P-5", day=day, purpose="injury_insurance", payer="SI-330602",
                         amount=42000.0, project_id=project)


def later(day: str) -> Event:
    """Any record far enough in event time to move the watermark past the claim's lateness."""
    return check_in_event(f"tick-{day}", "P-5", "PRJ-OTHER", day=day)


def run(events: list[Event]) -> list[Finding]:
    return drive(InjuryClaimWithoutAttendance(), events).findings


def test_claim_without_attendance_fires_after_the_lateness() -> None:
    found = run([claim(), check_in_event("c0", "P-5", "PRJ-1", day="2026-03-01"),
                 later("2026-05-23")])
    [finding] = found
    assert finding.subject == "person:P-5"
    assert (finding.severity, finding.sector) == ("yellow", "social_insurance")
    assert finding.time == "2026-05-20T10:00:00+08:00"
    assert "0 check-ins" in finding.evidence["observed"]
    assert finding.evidence["records"][0]["fields"]["project_id"] == "PRJ-1"


def test_not_judged_before_the_lateness_has_passed() -> None:
    assert run([claim(), later("2026-05-21")]) == []


def test_claimant_with_attendance_stays_silent_in_any_order() -> None:
    events = [claim(), check_in_event("c1", "P-5", "PRJ-1", day="2026-05-02"),
              later("2026-05-23")]
    for order in itertools.permutations(events[:2]):
        assert run([*order, events[2]]) == []


def test_check_in_arriving_late_but_inside_the_lateness_counts() -> None:
    events = [claim(), later("2026-05-21"),
              check_in_event("c1", "P-5", "PRJ-1", day="2026-05-19"), later("2026-05-23")]
    assert run(events) == []


def test_attendance_on_another_project_does_not_count() -> None:
    found = run([check_in_event("c1", "P-5", "PRJ-2", day="2026-05-15"), claim(),
                 later("2026-05-23")])
    assert len(found) == 1
