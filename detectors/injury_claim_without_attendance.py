"""injury_claim_without_attendance: an injury payout to someone never on the site.

The case (BRIEF.md, Shaoxing): work-injury records were forged to draw injury insurance. Fires
on an ``injury_insurance`` payment for a project whose payee has no ``check_in`` on that project
in the ``lookback_days`` (30) before the payment. Attendance is late and out of order, so a
claim is judged only once event time has passed it by ``allowed_lateness_days``: a check-in that
arrives after the claim but inside the lateness still clears it. A claimant with attendance on
the project stays silent. Check-ins are kept ``retention_days`` (90) plus the lookback behind
the watermark, so a claim read after the attendance it concerns (whichever feed was read first)
sees every check-in; a record older than that is late (counted), never judged on half the
attendance.

>>> from detectors.registry import Registry
>>> d, reg = InjuryClaimWithoutAttendance(), Registry()
>>> claim = Event("payments", {"event_id": "inj-1", "event_time": "2026-05-20T10:00:00+08:00",
...     "region": "330602", "status": "executed", "payer_id": "SI-330602",
...     "payee_id": "P-5", "payee_kind": "person", "purpose": "injury_insurance",
...     "amount": 42000, "project_id": "PRJ-1"}, ts=20 * 86400.0)
>>> state, found = d.process(claim, "P-5", None, reg)
>>> found, d.due(state)
([], 1900800.0)
>>> state, [finding] = d.advance("P-5", state, 23 * 86400.0, reg)
>>> finding.evidence["observed"]
'0 check-ins by P-5 on project PRJ-1 from 2026-04-20 to 2026-05-20'
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, timedelta
from functools import lru_cache
from operator import itemgetter
from typing import Any

from detectors.base import REVIEW, YELLOW, Detector, Event, Finding
from detectors.clock import DAY, iso_date, midnight, utc_ordinal
from detectors.evidence import evidence, record_ref
from detectors.registry import Registry

#: A project's newest check-in day (its days are sorted).
_LAST = itemgetter(-1)


# forget() runs after every event: the dates it needs are remembered, not computed per event.
@lru_cache(maxsize=1024)
def _days_before(day: str, days: int) -> str:
    return (date.fromisoformat(day) - timedelta(days=days)).isoformat()


class InjuryClaimWithoutAttendance(Detector):
    """Fires: A payment for one of ``purposes`` on a project whose payee has no ``check_in`` on
    that project in the ``lookback_days`` before it; judged once event time has passed the
    claim by ``allowed_lateness_days``.

    Silent: A claimant with a check-in on the project in the lookback, even one arriving
    after the claim inside the lateness; a record older than ``retention_days`` is late
    (counted), never judged.

    Evidence: The claim (``records``: project, payer, amount, status).

    Parameters:
        lookback_days: days before the claim in which a check-in on its project clears it.
        allowed_lateness_days: a claim is judged once event time has passed it by this much:
            a check-in arriving in that time still clears it.
        purposes: payment purposes judged (injury insurance by default).
        retention_days: how far behind the watermark a claim or check-in is still judged
            (kept with the lookback); an older record is late.
    """

    name = "injury_claim_without_attendance"
    feeds = frozenset({"payments", "attendance"})
    key_kind = "person"
    logic_version = 1
    stateful = True
    defaults = {"lookback_days": 30, "allowed_lateness_days": 2.0,
                "purposes": ("injury_insurance",),
                #: How far behind the watermark a claim or check-in is still judged.
                "retention_days": 90.0}

    def key(self, event: Event) -> str | None:
        record = event.record
        if event.feed == "attendance":
            return record["person_id"] if record["kind"] == "check_in" else None
        if (record["purpose"] in self.params["purposes"] and record["payee_kind"] == "person"
                and record.get("project_id")):
            return record["payee_id"]
        return None

    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        state = {"ci": dict((state or {}).get("ci", {})), "claims": list((state or {}).get(
            "claims", []))}
        record = event.record
        if event.feed == "attendance":
            # A project's days are kept sorted, without repeats: the day goes in its place,
            # in a new list (the old state's is shared, never changed).
            days, day = state["ci"].get(record["project_id"], []), event.day
            at = bisect_left(days, day)
            if at == len(days) or days[at] != day:
                days = [*days[:at], day, *days[at:]]
            state["ci"][record["project_id"]] = days
        else:
            due = event.ts + self.params["allowed_lateness_days"] * DAY
            claim = [due, event.event_id, record["project_id"], event.day, event.time,
                     record["payer_id"], record["amount"], record["status"]]
            if claim not in state["claims"]:
                state["claims"].append(claim)
                state["claims"].sort()
        return state, []

    def due(self, state: Any) -> float | None:
        if not state:
            return None
        if state["claims"]:
            return state["claims"][0][0]
        newest = max(map(_LAST, state["ci"].values()))  # forgotten after that (days sorted)
        return midnight(newest) + (self.params["lookback_days"] + 2) * DAY + self.retention_s()

    def advance(
        self, key: str, state: Any, watermark: float, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        findings = []
        pending = []
        for claim in state["claims"]:
            if claim[0] > watermark:
                pending.append(claim)
                continue
            _, event_id, project, day, time, payer, amount, status = claim
            first = (date.fromisoformat(day) - timedelta(days=self.params["lookback_days"]))
            seen = [d for d in state["ci"].get(project, []) if first.isoformat() <= d <= day]
            if not seen:
                findings.append(self._finding(key, claim, first.isoformat()))
        return self.forget({"ci": state["ci"], "claims": pending},
                           watermark - self.retention_s()), findings

    def forget(self, state: Any, horizon: float) -> Any:
        # Check-ins older than any claim still to come (or waiting) can look back to: a day
        # before the horizon's date (the records' own UTC offsets), minus the lookback.
        lookback = self.params["lookback_days"]
        first = iso_date(max(1, utc_ordinal(horizon) - 1 - lookback))
        for claim in state["claims"]:
            first = min(first, _days_before(claim[3], lookback))
        # Usually every day of a project is kept: known by its first (they are sorted), not a
        # test per day; then the list is shared, not copied (process() never changes one).
        ci = {p: kept for p, days in state["ci"].items()
              if (kept := days if days and days[0] >= first
                  else [d for d in days if d >= first])}
        if not ci and not state["claims"]:
            return None
        return {"ci": ci, "claims": state["claims"]}

    def _finding(self, payee: str, claim: list, first: str) -> Finding:
        _, event_id, project, day, time, payer, amount, status = claim
        return self.finding(
            subject=f"person:{payee}",
            severity=YELLOW,
            route="regulator",
            sector="social_insurance",
            action=REVIEW,
            score=1.0,
            summary=(f"injury_insurance payment {event_id} of {amount} yuan to {payee} for "
                     f"project {project}, who has no check-in on that project in the "
                     f"{self.params['lookback_days']} days before it"),
            time=time,
            basis=(event_id,),
            evidence=evidence(
                records=[record_ref("payments", event_id, time,
                                    {"payer_id": payer, "project_id": project,
                                     "amount": amount, "status": status})],
                observed=f"0 check-ins by {payee} on project {project} from {first} to "
                         f"{day}",
                threshold="at least 1 check-in on the project in the "
                          f"{self.params['lookback_days']} days before the payment",
            ),
        )
