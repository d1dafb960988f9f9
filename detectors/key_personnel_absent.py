"""key_personnel_absent: the contract's key people are not on site: illegal subcontracting.

The case (BRIEF.md, National Road 524): the contractor's technical lead was on site far less
than the contract requires; the work had in fact been passed on to an unqualified subcontractor
(4 more sections were found the same way). An award names its ``key_personnel``, each with a
``required_onsite_ratio``; real-name attendance shows who checked in where.

For each key person of an award, per ISO week (Monday to Friday are the working days; from the
award's week on, the award's own week counting from the award's day and judged only when it
has at least ``min_working_days`` of them; for ``max_weeks`` weeks), the share of working days
with a ``check_in`` on the award's project is compared with the required ratio. A week that
falls short is one finding: yellow, to the construction regulator; red, to the discipline
inspectors, when it is the ``red_weeks``-th (3) failing week running, or when on a day absent
from this project the person checked in on another project's site (working elsewhere).

Event time, not arrival: a week is judged once, when the watermark (the largest event time the
runner has seen) passes the week's end plus ``allowed_lateness_days`` (2). Check-ins that arrive
late but before that still count; a check-in for a week already judged is late
(:meth:`is_late`: the runner counts it in ``sunlight_late_records_total`` and logs it). The
state is keyed by person, so it holds the person's assignments and all their check-ins, on this
project and others. Check-ins are kept ``retention_days`` (182: the 26 weeks an assignment is
tracked) behind the watermark, so an award that arrives after the attendance it covers (a bids
system down, then backfilling) judges every past week at once, as a replay in event-time order
does; an award older than that is late (counted), never judged on half its check-ins. The
findings are the same whatever the arrival order.

>>> from detectors.registry import Registry
>>> from schemas import event_ts
>>> def ev(feed, record):
...     return Event(feed, record, event_ts(record))
>>> award = ev("bids", {"event_id": "aw-524", "event_time": "2026-05-04T09:00:00+08:00",
...     "region": "330182", "stage": "award", "project_id": "NR524-3", "buyer_id": "TB-1",
...     "category": "works", "amount": 3.2e7, "bidder_id": "C-ROAD", "key_personnel": [
...     {"person_id": "P-LEAD", "role": "technical_lead", "required_onsite_ratio": 0.8}]})
>>> def check_in(day, project="NR524-3"):
...     return ev("attendance", {"event_id": f"a-{day}", "event_time": f"{day}T08:00:00+08:00",
...         "region": "330182", "kind": "check_in", "project_id": project,
...         "site_id": "S-1", "person_id": "P-LEAD", "company_id": "C-ROAD"})
>>> d, reg = KeyPersonnelAbsent(), Registry()
>>> state, _ = d.process(check_in("2026-05-04"), "P-LEAD", None, reg)  # before the award
>>> state, _ = d.process(award, "P-LEAD", state, reg)
>>> state, _ = d.process(check_in("2026-05-06", "OTHER-9"), "P-LEAD", state, reg)
>>> d.due(state) == event_ts({"event_time": "2026-05-13T00:00:00+08:00"})  # Mon + 7 + 2 days
True
>>> state, [finding] = d.advance("P-LEAD", state, d.due(state), reg)
>>> finding.severity, finding.time
('red', '2026-05-11T00:00:00+08:00')
>>> finding.evidence["observed"]
'P-LEAD on site on 1 of 5 working days (0.20) in the week of 2026-05-04'
>>> finding.evidence["week"]["elsewhere"]
{'2026-05-06': ['OTHER-9']}
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

from detectors.base import RED, REVIEW, YELLOW, Detector, Event, Finding
from detectors.clock import DAY, add_days, iso_date, midnight, monday_of, utc_ordinal
from detectors.evidence import evidence
from detectors.links import expiry
from detectors.registry import Registry

AWARD_FIELDS = ("stage", "project_id", "buyer_id", "bidder_id", "category", "region")


def local_time(day: str, offset_s: int) -> str:
    """RFC 3339 of 00:00 on ``day`` at the offset, e.g. ``2026-05-11T00:00:00+08:00``."""
    tz = timezone(timedelta(seconds=offset_s))
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tz).isoformat()


class KeyPersonnelAbsent(Detector):
    """Fires: A week in which a key person of an award checked in on its project on fewer
    working days than the award's ``required_onsite_ratio``: yellow, to the construction
    regulator; red, to the discipline inspectors, at the ``red_weeks``-th failing week
    running or when the person checked in on another site instead.

    Silent: A week at or above the ratio, the award's own week with fewer than
    ``min_working_days`` working days left, weeks beyond ``max_weeks``; a check-in for a
    week already judged is late (counted).

    Evidence: The award (``records``), the week, its working days, the days on site and
    absent, and any site the person was at instead.

    Parameters:
        allowed_lateness_days: a week is judged once the watermark passes its end plus this.
        red_weeks: failing weeks running that make a finding red.
        max_weeks: weeks from the award's week for which an assignment is tracked.
        retention_days: how far behind the watermark a check-in or award is still judged
            (check-ins are kept this long for awards that arrive after them); an older
            record is late.
        min_working_days: the award's own (partial) week is judged only with this many
            working days left.
    """

    name = "key_personnel_absent"
    feeds = frozenset({"bids", "attendance"})
    key_kind = "person"
    logic_version = 1
    stateful = True
    defaults = {
        "allowed_lateness_days": 2.0,
        #: Failing weeks running that make a finding red.
        "red_weeks": 3,
        #: Weeks from the award's week for which an assignment is tracked.
        "max_weeks": 26,
        #: Check-ins are kept this long behind the watermark, for awards that arrive after
        #: them; an older record is late.
        "retention_days": 182.0,
        #: The award's own (partial) week is judged only with this many working days left.
        "min_working_days": 3,
    }

    # -- routing --------------------------------------------------------------------------
    def keys(self, event: Event) -> tuple[str, ...]:
        record = event.record
        if event.feed == "attendance":
            return (record["person_id"],) if record["kind"] == "check_in" else ()
        if event.feed == "bids" and record["stage"] == "award" and record.get("key_personnel"):
            return tuple(sorted({p["person_id"] for p in record["key_personnel"]}))
        return ()

    def key(self, event: Event) -> str | None:
        keys = self.keys(event)
        return keys[0] if keys else None

    # -- windows --------------------------------------------------------------------------
    def _week_due(self, monday: str, offset_s: int) -> float:
        return (midnight(add_days(monday, 7), offset_s)
                + self.params["allowed_lateness_days"] * DAY)

    def due(self, state: Any) -> float | None:
        if not state:
            return None
        if state["jobs"]:
            return min(self._week_due(job["next"], job["off"]) for job in state["jobs"])
        newest = max(state["days"])  # forgotten once the newest check-in is beyond retention
        return expiry(midnight(add_days(newest, 2), 0), self.retention_s())

    def is_late(self, event: Event, key: str, state: Any) -> bool:
        if event.feed != "attendance" or not state:
            return False
        day, week = event.day, monday_of(event.day)
        return any(job["start"] <= day and job["first"] <= week < job["next"]
                   for job in state["jobs"])

    # -- state ----------------------------------------------------------------------------
    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        if key not in self.keys(event):
            return state, []
        state = state or {"days": {}, "jobs": []}
        days = dict(state["days"])  # only the day changed is copied (the rest is shared)
        jobs = list(state["jobs"])
        record = event.record
        if event.feed == "attendance":
            day = event.day
            seen = days[day] = dict(days.get(day, {}))
            mark = [event.time, event.event_id]
            old = seen.get(record["project_id"])
            seen[record["project_id"]] = mark if old is None else min(old, mark)
        elif all(job["award"] != event.event_id for job in jobs):
            jobs.append(self._job(event, key))
            jobs.sort(key=lambda job: job["award"])
        return {"days": days, "jobs": jobs}, []

    def _job(self, award: Event, person: str) -> dict[str, Any]:
        record = award.record
        mine = [p for p in record["key_personnel"] if p["person_id"] == person]
        start = award.day
        week = monday_of(start)
        first = week
        left = sum(1 for i in range(5) if add_days(week, i) >= start)
        if left < self.params["min_working_days"]:
            first = add_days(week, 7)
        offset = datetime.fromisoformat(award.time).utcoffset()
        return {
            "award": award.event_id,
            "project": record["project_id"],
            "company": record.get("bidder_id"),
            "role": "+".join(sorted({p["role"] for p in mine})),
            "ratio": max(float(p["required_onsite_ratio"]) for p in mine),
            "start": start,
            "first": first,
            "next": first,
            "last": add_days(week, 7 * (self.params["max_weeks"] - 1)),
            "off": int(offset.total_seconds()) if offset else 0,
            "run": 0,
            "ref": award.ref(*AWARD_FIELDS),
        }

    def forget(self, state: Any, horizon: float) -> Any:
        # A day before the horizon's (a day's margin for the records' own UTC offsets), unless
        # a job still has to judge it.
        first = iso_date(max(1, utc_ordinal(horizon) - 1))
        for job in state["jobs"]:
            first = min(first, job["next"])
        # Usually every day is kept: known by min() of the ISO dates in C, not a sort or a
        # test per day; then the map is shared, not copied (process() copies it to change it).
        # Judging looks days up by date, so their order in the map does not matter.
        kept = state["days"]
        days = (kept if not kept or min(kept) >= first
                else {day: seen for day, seen in kept.items() if day >= first})
        if not days and not state["jobs"]:
            return None
        return {"days": days, "jobs": state["jobs"]}

    # -- judgement ------------------------------------------------------------------------
    def advance(
        self, key: str, state: Any, watermark: float, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        if not state:
            return state, []
        findings: list[Finding] = []
        jobs = []
        for job in state["jobs"]:
            job = dict(job)
            while job["next"] <= job["last"] and self._week_due(job["next"], job["off"]) \
                    <= watermark:
                finding = self._judge(key, job, state["days"])
                if finding is not None:
                    findings.append(finding)
                job["next"] = add_days(job["next"], 7)
            if job["next"] <= job["last"]:
                jobs.append(job)
        return self.forget({"days": state["days"], "jobs": jobs},
                           watermark - self.retention_s()), findings

    def _judge(self, person: str, job: dict[str, Any],
               days: dict[str, dict[str, list[str]]]) -> Finding | None:
        week, project = job["next"], job["project"]
        working = [d for d in (add_days(week, i) for i in range(5)) if d >= job["start"]]
        if not working:
            return None
        present = [d for d in working if project in days.get(d, {})]
        ratio = len(present) / len(working)
        if ratio >= job["ratio"]:
            job["run"] = 0
            return None
        job["run"] += 1
        absent = [d for d in working if d not in present]
        elsewhere = {d: sorted(p for p in days.get(d, {}) if p != project) for d in absent}
        elsewhere = {d: p for d, p in elsewhere.items() if p}
        running = job["run"] >= self.params["red_weeks"]
        red = running or bool(elsewhere)
        reasons = []
        if running:
            reasons.append(f"{job['run']} failing weeks running")
        if elsewhere:
            reasons.append("on another project's site on "
                           + ", ".join(f"{d} ({', '.join(p)})" for d, p in elsewhere.items()))
        checkins = [
            {"topic": "attendance", "event_id": days[d][p][1], "event_time": days[d][p][0],
             "fields": {"person_id": person, "project_id": p}}
            for d in working for p in sorted(days.get(d, {}))
            if p == project or d in elsewhere
        ]
        observed = (f"{person} on site on {len(present)} of {len(working)} working days "
                    f"({ratio:.2f}) in the week of {week}")
        return self.finding(
            subject=f"project:{project}",
            severity=RED if red else YELLOW,
            route="discipline_inspection" if red else "regulator",
            sector="construction",
            action=REVIEW,
            score=round(0.5 + 0.5 * (job["ratio"] - ratio) / job["ratio"], 4),
            summary=(
                f"{job['role']} {person} of {job['company']} was on the site of project "
                f"{project} on {len(present)} of {len(working)} working days in the week of "
                f"{week} (required {job['ratio']:.0%})"
                + (f"; {'; '.join(reasons)}" if reasons else "")
            ),
            time=local_time(add_days(week, 7), job["off"]),
            basis=(job["award"], person, week),
            evidence=evidence(
                records=[job["ref"], *checkins],
                registry_links=[],
                observed=observed,
                threshold=f"required_onsite_ratio {job['ratio']} of working days",
                week={"monday": week, "working_days": working, "on_site_days": present,
                      "absent_days": absent, "elsewhere": elsewhere},
                failing_weeks_running=job["run"],
                reasons=reasons,
            ),
        )
