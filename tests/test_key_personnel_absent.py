"""key_personnel_absent: weekly on-site ratio of an award's key people, judged on event time
with allowed lateness; yellow, red after 3 failing weeks or when working elsewhere; the same
findings whatever the arrival order within the lateness; late records counted, not applied."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import orjson
import pytest

from detectors import testing
from detectors.base import Event
from detectors.findings import alert_id, to_cloudevent
from detectors.key_personnel_absent import KeyPersonnelAbsent
from detectors.registry import Registry
from detectors.runner import Runner
from schemas import event_ts, validate

REG = Registry()
PROJECT, OTHER = "NR524-3", "PRJ-OTHER"
MONDAY = date(2026, 5, 4)  # a Monday
DAY = 86400.0


def ts_of(when: str) -> float:
    return event_ts({"event_time": when})


def award(people: dict[str, float], *, day: date = MONDAY, hour: int = 9,
          event_id: str = "aw-524", project: str = PROJECT) -> Event:
    record = {"event_id": event_id, "event_time": f"{day}T{hour:02d}:00:00+08:00",
              "region": "330182", "stage": "award", "project_id": project, "buyer_id": "TB-1",
              "category": "works", "amount": 3.2e7, "bidder_id": "C-ROAD",
              "key_personnel": [{"person_id": p, "role": "technical_lead",
                                 "required_onsite_ratio": r} for p, r in people.items()]}
    return Event("bids", record, event_ts(record), "bids", 0, 0)


def check_in(person: str, day: date, project: str = PROJECT, *, hour: int = 8,
             kind: str = "check_in") -> Event:
    record = {"event_id": f"a-{person}-{day}-{project}-{kind}",
              "event_time": f"{day}T{hour:02d}:00:00+08:00", "region": "330182", "kind": kind,
              "project_id": project, "site_id": f"S-{project}", "person_id": person,
              "company_id": "C-ROAD"}
    return Event("attendance", record, event_ts(record), "attendance", 0, 0)


def weeks(person: str, *plan: str, start: date = MONDAY) -> list[Event]:
    """Check-ins from a plan per week: 5 letters for Mon..Fri, ``P`` here, ``Q`` elsewhere,
    ``B`` both, ``.`` nowhere."""
    out = []
    for k, week in enumerate(plan):
        for d, where in enumerate(week):
            day = start + timedelta(weeks=k, days=d)
            if where in "PB":
                out.append(check_in(person, day))
            if where in "QB":
                out.append(check_in(person, day, OTHER, hour=14))
    return out


def drive(events: list[Any], detector: KeyPersonnelAbsent | None = None,
          advance_as_we_go: bool = True) -> tuple[list, list[str], dict[str, Any]]:
    """The detector alone through the real Runner: per event and key, a late check, else
    process; windows judged whenever the watermark (largest event time seen, or a float in
    ``events``: a watermark tick) passes their due time. ``advance_as_we_go=False``: only the
    ticks move event time. Returns the findings, the late event ids and the states by key."""
    run = testing.drive(detector or KeyPersonnelAbsent(), events, REG, clock=advance_as_we_go)
    return run.findings, run.late, run.states()


def end_of(week: int, plus_days: float = 2.0) -> float:
    """The watermark at which week ``week`` (0 = MONDAY's) is due."""
    return ts_of(f"{MONDAY + timedelta(weeks=week + 1)}T00:00:00+08:00") + plus_days * DAY


def summary(findings: list) -> list[tuple]:
    return [(f.time, f.severity, f.evidence["week"]["monday"],
             f.evidence["failing_weeks_running"]) for f in findings]


def test_three_failing_weeks_running_escalate_to_red() -> None:
    events = [award({"P-LEAD": 0.8}),
              *weeks("P-LEAD", "P.P..", "P.P..", "P.P..", "PPPPP"), end_of(3)]
    findings, late, _ = drive(events)
    assert late == []
    assert summary(findings) == [
        ("2026-05-11T00:00:00+08:00", "yellow", "2026-05-04", 1),
        ("2026-05-18T00:00:00+08:00", "yellow", "2026-05-11", 2),
        ("2026-05-25T00:00:00+08:00", "red", "2026-05-18", 3),
    ]
    first, _, third = findings
    assert (first.route, first.sector, first.action) == ("regulator", "construction", "review")
    assert (third.route, third.subject) == ("discipline_inspection", f"project:{PROJECT}")
    assert first.basis == ("aw-524", "P-LEAD", "2026-05-04")
    evidence = first.evidence
    assert evidence["week"] == {
        "monday": "2026-05-04",
        "working_days": ["2026-05-04", "2026-05-05", "2026-05-06", "2026-05-07", "2026-05-08"],
        "on_site_days": ["2026-05-04", "2026-05-06"],
        "absent_days": ["2026-05-05", "2026-05-07", "2026-05-08"], "elsewhere": {}}
    assert evidence["observed"] == ("P-LEAD on site on 2 of 5 working days (0.40) in the week "
                                    "of 2026-05-04")
    assert evidence["threshold"] == "required_onsite_ratio 0.8 of working days"
    assert [r["event_id"] for r in evidence["records"]] == [
        "aw-524", f"a-P-LEAD-2026-05-04-{PROJECT}-check_in",
        f"a-P-LEAD-2026-05-06-{PROJECT}-check_in"]
    assert "3 failing weeks running" in third.summary
    for finding in findings:
        validate("alert", to_cloudevent(finding))


def test_on_another_site_on_absent_days_is_red_at_once() -> None:
    events = [award({"P-LEAD": 0.8}), *weeks("P-LEAD", "PPQQQ", "PPPPP"), end_of(1)]
    findings, _, _ = drive(events)
    [finding] = findings
    assert finding.severity == "red" and finding.evidence["failing_weeks_running"] == 1
    assert finding.evidence["week"]["elsewhere"] == {
        "2026-05-06": [OTHER], "2026-05-07": [OTHER], "2026-05-08": [OTHER]}
    assert len(finding.evidence["records"]) == 1 + 2 + 3  # award, 2 here, 3 elsewhere
    assert "on another project's site" in finding.summary


@pytest.mark.parametrize("plan", [
    ("PPPP.", "P.PPP", ".PPPP"),   # 4 of 5 days: exactly the required 0.8
    ("BPPBP", "PBPPP", "PPPPB"),   # elsewhere too, but only on days present here
    ("PPPPP", "PPPPP", "PPPPP"),
], ids=["present-enough", "elsewhere-same-day", "always"])
def test_near_misses_stay_silent(plan: tuple[str, ...]) -> None:
    findings, late, _ = drive([award({"P-LEAD": 0.8}), *weeks("P-LEAD", *plan), end_of(2)])
    assert (findings, late) == ([], [])


def test_other_people_and_check_outs_do_not_count() -> None:
    events = [award({"P-LEAD": 0.8}),
              *[check_in("P-WORKER", MONDAY + timedelta(days=d)) for d in range(5)],
              *[check_in("P-LEAD", MONDAY + timedelta(days=d), kind="check_out")
                for d in range(5)], end_of(0)]
    findings, _, _ = drive(events)
    assert [f.evidence["week"]["on_site_days"] for f in findings] == [[]]


def test_lower_ratio_of_another_role() -> None:
    events = [award({"P-LEAD": 0.8, "P-SAFETY": 0.4}), *weeks("P-LEAD", "PPPP."),
              *weeks("P-SAFETY", "P.P.."), end_of(0)]
    assert drive(events)[0] == []


def test_award_late_in_the_week_starts_with_the_next_week() -> None:
    thursday = MONDAY + timedelta(days=3)
    events = [award({"P-LEAD": 0.8}, day=thursday), *weeks("P-LEAD", ".....", "PPPP."),
              end_of(1)]
    assert drive(events)[0] == []  # Thu-Fri of the award's week (2 days) are not judged


def test_award_on_tuesday_judges_its_week_from_tuesday() -> None:
    tuesday = MONDAY + timedelta(days=1)
    events = [award({"P-LEAD": 0.8}, day=tuesday), *weeks("P-LEAD", ".PPP."), end_of(0)]
    [finding] = drive(events)[0]
    assert finding.evidence["week"]["working_days"] == [
        "2026-05-05", "2026-05-06", "2026-05-07", "2026-05-08"]
    assert finding.evidence["observed"].startswith("P-LEAD on site on 3 of 4 working days")


def test_attendance_before_its_award_counts() -> None:
    events = [*weeks("P-LEAD", "PPPPP", "PPP.."), award({"P-LEAD": 0.8}), end_of(1)]
    findings, _, _ = drive(events)
    assert summary(findings) == [("2026-05-18T00:00:00+08:00", "yellow", "2026-05-11", 1)]


def test_an_award_arriving_after_its_weeks_were_due_is_judged_on_kept_check_ins() -> None:
    events = [*weeks("P-LEAD", "P.P..", "PPPPP"), end_of(1), award({"P-LEAD": 0.8})]
    findings, _, _ = drive(events)
    assert summary(findings) == [("2026-05-11T00:00:00+08:00", "yellow", "2026-05-04", 1)]


def test_late_inside_the_lateness_counts_and_beyond_it_is_late() -> None:
    friday = MONDAY + timedelta(days=4)
    inside = [award({"P-LEAD": 0.8}), *weeks("P-LEAD", "PPP.."),
              end_of(0, plus_days=1.5),       # past the week's end, inside the lateness
              check_in("P-LEAD", friday),     # late, but in time: 4 of 5
              end_of(0)]
    findings, late, _ = drive(inside)
    assert (findings, late) == ([], [])
    beyond = [award({"P-LEAD": 0.8}), *weeks("P-LEAD", "PPP.."), end_of(0),
              check_in("P-LEAD", friday)]    # the week was judged: too late
    findings, late, states = drive(beyond)
    assert summary(findings) == [("2026-05-11T00:00:00+08:00", "yellow", "2026-05-04", 1)]
    assert late == [f"a-P-LEAD-{friday}-{PROJECT}-check_in"]
    assert str(friday) not in states["P-LEAD"]["days"]  # not applied


def _season() -> list[Event]:
    return [award({"P-LEAD": 0.8, "P-SAFETY": 0.6}),
            award({"P-SUB": 0.8}, event_id="aw-other", project=OTHER, hour=10),
            *weeks("P-LEAD", "P.P..", "PPQQQ", "P.P..", "PPPPP"),
            *weeks("P-SAFETY", "PPP..", "P....", "PP...", "PPPP."),
            *[check_in("P-SUB", MONDAY + timedelta(days=d), OTHER) for d in range(0, 28, 2)]]


def _signature(findings: list) -> list[tuple]:
    return sorted((alert_id(f), f.time, f.severity, orjson.dumps(f.evidence))
                  for f in findings)


def test_same_findings_whatever_the_arrival_order_within_the_lateness() -> None:
    events = _season()
    reference, late, _ = drive(sorted(events, key=lambda e: e.ts) + [end_of(3)])
    assert late == [] and len(reference) >= 5
    assert {f.severity for f in reference} == {"yellow", "red"}
    expected = _signature(reference)
    for seed in range(25):
        rng = random.Random(seed)
        # Each record delayed by up to 1.9 days (the lateness is 2), judged as we go.
        arrivals = sorted(events, key=lambda e: e.ts + rng.uniform(0, 1.9 * DAY))
        findings, late, _ = drive([*arrivals, end_of(3)])
        assert late == [] and _signature(findings) == expected
        # Each week's records in any order (awards included), judged as we go.
        by_week: dict[str, list[Event]] = {}
        for event in events:
            by_week.setdefault(str(date.fromisoformat(event.day) - timedelta(
                days=date.fromisoformat(event.day).weekday())), []).append(event)
        shuffled = []
        for week in sorted(by_week):
            chunk = by_week[week][:]
            rng.shuffle(chunk)
            shuffled.extend(chunk)
        findings, late, _ = drive([*shuffled, end_of(3)])
        assert late == [] and _signature(findings) == expected


def test_any_order_at_all_when_nothing_is_judged_or_pruned_before_the_end() -> None:
    # With check-ins kept longer than the whole season, the detector's result does not depend
    # on the order of process() calls at all.
    detector = KeyPersonnelAbsent(retention_days=60)
    events = _season()
    expected = _signature(drive([*sorted(events, key=lambda e: e.ts), end_of(3)], detector)[0])
    for seed in range(25):
        shuffled = events[:]
        random.Random(seed).shuffle(shuffled)
        findings, _, _ = drive([*shuffled, end_of(3)], detector, advance_as_we_go=False)
        assert _signature(findings) == expected


def test_red_weeks_and_lateness_are_parameters() -> None:
    detector = KeyPersonnelAbsent(red_weeks=2, allowed_lateness_days=1)
    events = [award({"P-LEAD": 0.8}), *weeks("P-LEAD", "P....", "P...."), end_of(1, 1.0)]
    findings, _, _ = drive(events, detector)
    assert [f.severity for f in findings] == ["yellow", "red"]
    assert detector.version != KeyPersonnelAbsent().version


def test_tracking_ends_after_max_weeks_and_state_expires() -> None:
    detector = KeyPersonnelAbsent(max_weeks=2)
    events = [award({"P-LEAD": 0.8}), *weeks("P-LEAD", "PPPPP", "PPPPP", ".....", "....."),
              end_of(3)]
    findings, _, states = drive(events, detector)
    assert findings == []  # weeks 3 and 4 are past the tracked 2
    assert states["P-LEAD"]["jobs"] == []
    later = end_of(3) + 200 * DAY  # past the retention (182 days)
    findings, _, states = drive([*events, later], detector)
    assert states == {}  # no assignment, no recent check-ins: forgotten


def test_check_ins_are_forgotten_by_the_watermark_beyond_retention() -> None:
    detector = KeyPersonnelAbsent(retention_days=14)
    runner = Runner({"bids": [detector], "attendance": [detector]}, {}, REG)
    for d in range(0, 60):
        event = check_in("P-WORKER", MONDAY + timedelta(days=d))
        runner.handle(event, "P-WORKER")
        runner.commit()
    days = sorted(runner.detector_state("key_personnel_absent", "P-WORKER")["days"])
    assert len(days) <= 16 and days[-1] == str(MONDAY + timedelta(days=59))
    # An award older than the retention is late (counted), not judged on missing check-ins.
    outcome = runner.handle(award({"P-WORKER": 0.8}), "P-WORKER")
    assert outcome.late == ["key_personnel_absent"] and outcome.findings == []


def test_keys_fan_an_award_out_to_each_key_person() -> None:
    detector = KeyPersonnelAbsent()
    assert detector.keys(award({"P-B": 0.8, "P-A": 0.5})) == ("P-A", "P-B")
    assert detector.keys(check_in("P-A", MONDAY, kind="check_out")) == ()
    assert detector.keys(check_in("P-A", MONDAY)) == ("P-A",)


def test_through_the_runner_late_records_are_reported() -> None:
    detector = KeyPersonnelAbsent()
    runner = Runner({"bids": [detector], "attendance": [detector]}, {}, REG)
    found, late = [], []
    friday = MONDAY + timedelta(days=4)
    for event in [award({"P-LEAD": 0.8}), *weeks("P-LEAD", "PPP.."),
                  check_in("P-LEAD", MONDAY + timedelta(days=9, hours=0), hour=12),
                  check_in("P-LEAD", friday)]:
        for key in runner.route(event):
            outcome = runner.handle(event, key, 0)
            found.extend(outcome.findings)
            late.extend(outcome.late)
            runner.mark_seen(event, key)
    # The Wednesday check-in of the next week carried the watermark past the first week's
    # due time (Monday + 7 + 2 days), so the week was judged; the Friday check-in came after.
    assert [f.severity for f in found] == ["yellow"]
    assert late == ["key_personnel_absent"]
