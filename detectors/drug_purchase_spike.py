"""drug_purchase_spike: a hospital buys far more of a drug in a day than its own normal.

The case (BRIEF.md): the health regulator's "abnormal drug purchase" model raised 1,658
warnings; collided with prescriptions and integrity files (``prescriber_concentration``,
``escalation``) they narrowed to 22 people at high risk of kickbacks.

Per hospital and drug (key ``hospital_id|drug_code``), the purchased quantity is summed per
event-time day (the record's own calendar date). A day is judged once it is complete: when the
stream's watermark has passed the day's end plus ``allowed_lateness_hours``. Days with no purchase
are zeros. The day's total is scored by the online scorer (``detectors/scoring.py``: weekly rhythm,
slow trends, level shifts that become the new normal, sustained rises, sparse series, warm-up)
against that pair's own learned normal; an alert is a score at or above ``threshold``. Yellow, to
the health regulator. The finding's time is the day's latest purchase; its basis the pair and the
day, so a replay or a reordering names the same alert.

A purchase for a day already judged: in the pair's first ``retain`` days (when a new series is
often loaded as a backfill, read out of order from several partitions) it is added and the
model refitted in day order, so live and replay learn the same model; later it is late
(counted by the runner, not applied).

The state per pair, once past its first weeks: the scorer's 18 numbers, about 145 bytes of
JSON (``len(orjson.dumps(state))``), plus the day or two still open (~150 bytes each, with the
evidence of their largest purchases). In the first ``retain`` days, the daily totals too
(~17 bytes a day).

>>> from detectors.registry import Registry
>>> detector = DrugPurchaseSpike()
>>> def buy(day, qty):
...     record = {"event_id": f"b-{day}", "event_time": f"{day}T10:00:00+08:00",
...               "region": "330784", "kind": "purchase", "hospital_id": "H1",
...               "drug_code": "XB001", "quantity": qty, "supplier_id": "C1"}
...     return Event("prescriptions", record, _ts(record["event_time"]))
>>> from datetime import date, timedelta
>>> state, found = None, []
>>> for i in range(40):                     # 40 ordinary days, then a 6x day
...     day = (date(2026, 3, 1) + timedelta(days=i)).isoformat()
...     event = buy(day, 600 if i == 39 else 100 + i % 5)
...     state, _ = detector.process(event, "H1|XB001", state, Registry())
...     state, findings = detector.advance("H1|XB001", state, event.ts + 2 * 86400, Registry())
...     found += findings
>>> [(f.severity, f.subject, f.time) for f in found]
[('yellow', 'hospital_drug:H1|XB001', '2026-04-09T10:00:00+08:00')]
"""

from __future__ import annotations

from datetime import date, datetime
from operator import itemgetter
from typing import Any

from detectors.base import REVIEW, YELLOW, Detector, Event, Finding
from detectors.clock import HOUR, day_end
from detectors.evidence import evidence, record_ref
from detectors.registry import Registry
from detectors.scoring import DEFAULTS as SCORER_DEFAULTS
from detectors.scoring import SCORER_PARAMETERS_DOC, Scorer

#: An open day's end (epoch seconds): due() asks each open day's after every event.
_END = itemgetter("e")

SUBJECT_PREFIX = "hospital_drug:"


class DrugPurchaseSpike(Detector):
    __doc__ = """Fires: A hospital's daily total of a drug scores at or above ``threshold``
    against that pair's own learned normal (the online scorer), once the day is complete (the
    watermark past its end plus ``allowed_lateness_hours``). Yellow, to the health regulator.

    Silent: Days inside the weekly rhythm, trends and level shifts that became the new
    normal, the warm-up, the cooldown after an alert.

    Evidence: The day's largest purchases (``records``, ``evidence_records`` of them) and
    the score.

    Parameters:
        allowed_lateness_hours: a day is judged when event time has passed its end plus this.
        evidence_records: the largest purchases of the day cited as evidence.
    """ + SCORER_PARAMETERS_DOC

    name = "drug_purchase_spike"
    feeds = frozenset({"prescriptions"})
    key_kind = "hospital_drug"
    logic_version = 1
    stateful = True
    renamed = {"lateness_hours": "allowed_lateness_hours"}
    defaults = {
        **SCORER_DEFAULTS,
        #: A day is judged when event time has passed its end plus this.
        "allowed_lateness_hours": 12.0,
        #: The largest purchases of the day cited as evidence.
        "evidence_records": 3,
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.scorer = Scorer(**{name: self.params[name] for name in SCORER_DEFAULTS})
        self.lateness_s = self.params["allowed_lateness_hours"] * HOUR

    def key(self, event: Event) -> str | None:
        record = event.record
        if record.get("kind") != "purchase":
            return None
        return f"{record['hospital_id']}|{record['drug_code']}"

    def is_late(self, event: Event, key: str, state: Any) -> bool:
        if state is None or "r" in state:
            return False  # while the series keeps its days, a late one is put in order
        last = state["m"][0]
        return last is not None and _ordinal(event.day) <= last

    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        record = event.record
        new = _copy(state, days=False) if state is not None else {**self.scorer.start(),
                                                                   "o": {}}
        day = event.day
        quantity = float(record["quantity"])
        # A purchase for a day already judged, while the series keeps its days (its first
        # weeks: a backfill read out of order from several partitions): it is put in order.
        if self.scorer.take_late(new, quantity, _ordinal(day)):
            return new, []
        entry = new["o"].get(day)
        # The one day this purchase changes is copied (its fields are replaced, never changed
        # in place), not every open day's entry.
        entry = new["o"][day] = ({**entry} if entry is not None else
                                 {"q": 0.0, "e": day_end(event.time), "t": None, "r": []})
        entry["q"] = round(entry["q"] + quantity, 6)
        latest = [event.ts, event.event_id, event.time]
        if entry["t"] is None or (latest[0], latest[1]) > (entry["t"][0], entry["t"][1]):
            entry["t"] = latest
        top = entry["r"] + [[quantity, event.event_id, event.time, record.get("supplier_id")]]
        top.sort(key=lambda r: (-r[0], r[1]))
        entry["r"] = top[: self.params["evidence_records"]]
        return new, []

    def due(self, state: Any) -> float | None:
        days = state["o"]
        if not days:
            return None
        return min(map(_END, days.values())) + self.lateness_s

    def advance(
        self, key: str, state: Any, watermark: float, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        new = _copy(state)
        findings: list[Finding] = []
        for day in sorted(new["o"]):
            entry = new["o"][day]
            if entry["e"] + self.lateness_s > watermark:
                continue
            del new["o"][day]
            step = self.scorer.judge(new, entry["q"], _ordinal(day))
            if step.alert:
                findings.append(self._finding(key, day, entry, step))
        return new, findings

    def _finding(self, key: str, day: str, entry: dict[str, Any], step: Any) -> Finding:
        hospital, _, drug = key.rpartition("|")
        quantity, expected = entry["q"], step.expected
        ratio = quantity / expected if expected > 0 else float("inf")
        p = self.params
        return self.finding(
            subject=SUBJECT_PREFIX + key,
            severity=YELLOW,
            route="regulator",
            sector="health",
            action=REVIEW,
            score=step.score,
            summary=(
                f"hospital {hospital} bought {quantity:g} units of drug {drug} on {day}, "
                f"{ratio:.1f} times its usual {expected:.0f} for that weekday "
                f"(score {step.score:.2f})"
            ),
            time=entry["t"][2],
            basis=(key, day),
            evidence=evidence(
                records=[
                    record_ref("prescriptions", event_id, time,
                               {"kind": "purchase", "hospital_id": hospital, "drug_code": drug,
                                "quantity": qty, "supplier_id": supplier})
                    for qty, event_id, time, supplier in entry["r"]
                ],
                registry_links=[],
                observed=f"{quantity:g} units purchased on {day}",
                threshold=(
                    f"score >= {p['threshold']} (score 0.5 at {p['z_half']:g} robust standard "
                    f"deviations above the pair's learned normal for that weekday)"
                ),
                day=day,
                quantity=quantity,
                expected_quantity=round(expected, 2),
                z=round(step.z, 3),
            ),
        )


def _copy(state: dict[str, Any], days: bool = True) -> dict[str, Any]:
    """A new state object (the state given stays as it was). ``days``: each open day's entry
    copied too (else only the map of them: the caller copies the one it changes)."""
    new: dict[str, Any] = {
        "o": ({day: {**entry, "r": [list(r) for r in entry["r"]]}
               for day, entry in state["o"].items()} if days else dict(state["o"])),
    }
    if "m" in state:
        new["m"] = list(state["m"])
    if "r" in state:
        raw = state["r"]
        new["r"] = {"f": raw["f"], "j": raw["j"], "b": dict(raw["b"])}
    return new


def _ordinal(day: str) -> int:
    return date.fromisoformat(day).toordinal()


def _ts(time: str) -> float:
    return datetime.fromisoformat(time).timestamp()


