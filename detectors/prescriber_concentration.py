"""prescriber_concentration: after a purchase spike, a few doctors write most of the drug.

The case (BRIEF.md): the health regulator's 1,658 "abnormal drug purchase" warnings were
collided with prescriptions and integrity files and narrowed to 22 people at high risk of
kickbacks. This detector is that collision: its input includes other detectors' output.

Per hospital and drug (key ``hospital_id|drug_code``), it learns that a spike happened from the
``drug_purchase_spike`` alert read back from the ``alerts`` feed (the event's record is then the
alert CloudEvent). From the spike's day, for ``window_days`` days, it counts that drug's
prescriptions at that hospital per doctor. A day is judged once complete (event time past its
end plus ``allowed_lateness_hours``), in day order, on the counts since the spike's day: when there
are at least ``min_prescriptions`` and ``max_doctors`` doctors or fewer wrote ``min_share`` or
more of them, it fires once for that spike. Red (discipline inspectors) when one of those
doctors has ``integrity_flags`` in the registry; else yellow (the health regulator).

The spike alert comes back through Kafka some time after the prescriptions that follow it have
arrived (in a backlog, weeks of event time later), so prescriptions are kept as counts per day
and doctor for ``retention_days`` (60) behind the watermark: a spike alert that arrives after
its window's prescriptions judges the window's days at once, in day order, as a replay does;
the finding does not depend on when the alert arrives. An alert or prescription older than the
retention is late (counted). Its time is the latest prescription of the day it became true,
its basis the pair and the spike's day (a second spike inside a window belongs to the same finding).

>>> from detectors.registry import Registry
>>> reg = Registry()
>>> reg.apply({"record_type": "person", "person_id": "D-1", "roles": [], "integrity_flags":
...            ["2024 disciplinary warning"]})
>>> detector = PrescriberConcentration()
>>> spike = {"specversion": "1.0", "id": "a-1", "source": "sunlight", "subject":
...          "hospital_drug:H1|XB001", "type": "org.sunlight.alert.drug_purchase_spike",
...          "time": "2026-05-04T10:00:00+08:00", "data": {"detector": "drug_purchase_spike",
...          "severity": "yellow"}}
>>> state, _ = detector.process(Event("alerts", spike, 0.0), "H1|XB001", None, reg)
>>> for i in range(24):
...     rx = {"event_id": f"rx-{i}", "event_time": f"2026-05-05T{8 + i // 4:02d}:{i % 4 * 10:02d}"
...           ":00+08:00", "region": "330784", "kind": "prescription", "hospital_id": "H1",
...           "drug_code": "XB001", "quantity": 2, "doctor_id": "D-1" if i % 3 else "D-2",
...           "patient_ref": f"pt-{i}"}
...     event = Event("prescriptions", rx, datetime.fromisoformat(rx["event_time"]).timestamp())
...     state, _ = detector.process(event, "H1|XB001", state, reg)
>>> state, [finding] = detector.advance("H1|XB001", state, 1e12, reg)
>>> finding.severity, finding.time, finding.evidence["doctors"]
('red', '2026-05-05T13:30:00+08:00', [['D-1', 16]])
"""

from __future__ import annotations

from datetime import date, datetime
from itertools import chain
from operator import itemgetter
from typing import Any

from detectors.base import RED, REVIEW, YELLOW, Detector, Event, Finding
from detectors.clock import HOUR, midnight, utc_ordinal
from detectors.drug_purchase_spike import SUBJECT_PREFIX
from detectors.evidence import evidence, record_ref
from detectors.registry import Registry

#: A judged window's last day ([first, last] ordinals).
_END = itemgetter(1)


class PrescriberConcentration(Detector):
    """Fires: After a ``spike_detector`` alert for a hospital and drug, when within
    ``window_days`` there are ``min_prescriptions`` or more prescriptions and
    ``max_doctors`` doctors or fewer wrote ``min_share`` of them. Red (discipline
    inspectors) when one of them has integrity flags; else yellow (the health regulator).

    Silent: Prescriptions spread over many doctors, too few prescriptions, no spike alert; a
    record older than ``retention_days`` is late (counted).

    Evidence: The spike alert and the day's prescriptions (``records``), the doctors'
    counts.

    Parameters:
        spike_detector: the detector whose alerts mark a spike.
        window_days: days from the spike's day (inclusive) in which prescriptions are
            counted (the detection window).
        min_prescriptions: fewer prescriptions since the spike than this stay silent.
        max_doctors: this many doctors or fewer writing min_share of the prescriptions fire.
        min_share: the share of the prescriptions the few doctors must have written.
        allowed_lateness_hours: a day is judged when event time has passed its end plus this.
        retention_days: how far behind the watermark a spike alert or prescription is still
            judged; an older record is late.
    """

    name = "prescriber_concentration"
    feeds = frozenset({"prescriptions", "alerts"})
    key_kind = "hospital_drug"
    logic_version = 1
    stateful = True
    renamed = {"lateness_hours": "allowed_lateness_hours"}
    defaults = {
        #: The detector whose alerts mark a spike.
        "spike_detector": "drug_purchase_spike",
        #: Days from the spike's day (inclusive) in which prescriptions are counted.
        "window_days": 14,
        "min_prescriptions": 20,
        "max_doctors": 2,
        "min_share": 0.6,
        #: A day is judged when event time has passed its end plus this.
        "allowed_lateness_hours": 12.0,
        #: How far behind the watermark a spike alert or prescription is still judged: the
        #: spike's alert comes back after its day is judged, plus the loop's own delay.
        "retention_days": 60.0,
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.lateness_s = self.params["allowed_lateness_hours"] * HOUR

    # -- routing -------------------------------------------------------------------------
    def key(self, event: Event) -> str | None:
        record = event.record
        if event.feed == "alerts":
            data = record.get("data") or {}
            subject = record.get("subject", "")
            if data.get("detector") == self.params["spike_detector"] and \
                    subject.startswith(SUBJECT_PREFIX):
                return subject[len(SUBJECT_PREFIX):]
            return None
        if record.get("kind") != "prescription" or not record.get("doctor_id"):
            return None
        return f"{record['hospital_id']}|{record['drug_code']}"

    def is_late(self, event: Event, key: str, state: Any) -> bool:
        if state is None or event.feed == "alerts":
            return False
        day = _ordinal(event.day)
        return any(w["s"] <= day < w["n"] for w in state["w"])

    # -- state ---------------------------------------------------------------------------
    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        # A copy of what an event can change (the days' map, the open windows' list; the day
        # it counts is copied in _prescription): the state given stays as it was, and a busy
        # hospital's weeks of days are not copied whole per prescription.
        new = ({"d": dict(state["d"]), "w": list(state["w"]), "x": state["x"]}
               if state is not None else {"d": {}, "w": [], "x": []})
        day = _ordinal(event.day)
        if event.feed == "alerts":
            self._spike(new, event, day)
        else:
            self._prescription(new, event, day)
        return new, []

    def _spike(self, state: dict[str, Any], event: Event, day: int) -> None:
        record = event.record
        window = self.params["window_days"]
        # A spike inside a window already open (or judged) belongs to that window's finding.
        for start, end in state["x"]:
            if start <= day <= end:
                return
        for w in state["w"]:
            if w["s"] <= day < w["s"] + window:
                return
        offset = _offset_s(record["time"])
        state["w"].append({"s": day, "n": day, "o": offset, "id": record["id"],
                           "t": record["time"]})
        state["w"].sort(key=lambda w: w["s"])

    def _prescription(self, state: dict[str, Any], event: Event, day: int) -> None:
        record = event.record
        days, name = state["d"], str(day)
        old = days.get(name)
        entry = days[name] = ({"c": dict(old["c"]), "t": old["t"]} if old is not None
                              else {"c": {}, "t": None})
        doctor = record["doctor_id"]
        entry["c"][doctor] = entry["c"].get(doctor, 0) + 1
        latest = [event.ts, event.event_id, event.time]
        if entry["t"] is None or (latest[0], latest[1]) > (entry["t"][0], entry["t"][1]):
            entry["t"] = latest

    def forget(self, state: Any, horizon: float) -> Any:
        # Days are kept under their ordinal as a string: six digits for every date the contract
        # allows (years 1970..2100), so the strings' order is the days' (min() and max() of
        # the keys, with no int() per day). Kept: from a day before the horizon's date (the
        # records' own UTC offsets), or an open window's start.
        keep_from = utc_ordinal(horizon) - 1
        for w in state["w"]:
            keep_from = min(keep_from, w["s"])
        kept = state["d"]
        # Usually every day is kept: known by min() in C, not a Python test per day; then the
        # map is shared, not copied (no method changes a state's map in place: each copies it).
        days = (kept if not kept or int(min(kept)) >= keep_from
                else {d: e for d, e in kept.items() if int(d) >= keep_from})
        # Judged windows are remembered while a spike alert for them can still come (the list
        # shared, like the days, when all are).
        judged = state["x"]
        if judged and min(map(_END, judged)) < keep_from:
            judged = [x for x in judged if x[1] >= keep_from]
        if not days and not state["w"] and not judged:
            return None
        return {"d": days, "w": state["w"], "x": judged}

    # -- judging -------------------------------------------------------------------------
    def due(self, state: Any) -> float | None:
        if state["w"]:
            return min(midnight(w["n"] + 1, w["o"]) for w in state["w"]) + self.lateness_s
        # Then forgotten once its newest day is beyond retention.
        days = state["d"]
        newest = max(chain((int(max(days)),) if days else (), map(_END, state["x"])))
        return midnight(newest + 2) + self.retention_s()

    def advance(
        self, key: str, state: Any, watermark: float, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        new = _copy(state)
        findings: list[Finding] = []
        window = self.params["window_days"]
        still_open = []
        for w in new["w"]:
            done = False
            while w["n"] < w["s"] + window and \
                    midnight(w["n"] + 1, w["o"]) + self.lateness_s <= watermark:
                finding = self._judge(key, w, new["d"], registry)
                w["n"] += 1
                if finding is not None:
                    findings.append(finding)
                    done = True
                    break
            if done or w["n"] >= w["s"] + window:
                new["x"].append([w["s"], w["s"] + window - 1])
            else:
                still_open.append(w)
        new["w"] = still_open
        return self.forget(new, watermark - self.retention_s()), findings

    def _judge(self, key: str, w: dict[str, Any], days: dict[str, Any],
               registry: Registry) -> Finding | None:
        """The finding if the counts from the spike's day through day ``w['n']`` hold it."""
        today = days.get(str(w["n"]))
        if today is None:  # no prescription that day: nothing new can become true
            return None
        counts: dict[str, int] = {}
        for day in range(w["s"], w["n"] + 1):
            entry = days.get(str(day))
            if entry:
                for doctor, n in entry["c"].items():
                    counts[doctor] = counts.get(doctor, 0) + n
        total = sum(counts.values())
        p = self.params
        if total < p["min_prescriptions"]:
            return None
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        top: list[tuple[str, int]] = []
        written = 0
        for doctor, n in ranked[: p["max_doctors"]]:
            top.append((doctor, n))
            written += n
            if written >= p["min_share"] * total:
                break
        share = written / total
        if share < p["min_share"]:
            return None
        links: list[dict[str, Any]] = []
        for doctor, _ in top:
            person = registry.person(doctor)
            if person is not None and person.integrity_flags:
                links.append({"person_id": doctor, "integrity_flags": list(person.integrity_flags)})
        red = bool(links)
        hospital, _, drug = key.rpartition("|")
        spike_day = date.fromordinal(w["s"]).isoformat()
        last_day = date.fromordinal(w["n"]).isoformat()
        names = " and ".join(f"{doctor} ({n})" for doctor, n in top)
        flagged = ", ".join(link["person_id"] for link in links)
        summary = (
            f"after the purchase spike of drug {drug} at hospital {hospital} on {spike_day}, "
            f"{names} wrote {written} of its {total} prescriptions there ({share:.0%}) by "
            f"{last_day}" + (f"; {flagged} has an integrity record" if red else "")
        )
        return self.finding(
            subject=SUBJECT_PREFIX + key,
            severity=RED if red else YELLOW,
            route="discipline_inspection" if red else "regulator",
            sector="health",
            action=REVIEW,
            # How concentrated, above the threshold: min_share -> 0.5, all of them -> 1.
            score=round(0.5 + 0.5 * (share - p["min_share"]) / max(1e-9, 1 - p["min_share"]),
                        6),
            summary=summary,
            time=today["t"][2],
            basis=(key, spike_day),
            evidence=evidence(
                records=[
                    record_ref("alerts", w["id"], w["t"],
                               {"detector": p["spike_detector"],
                                "subject": SUBJECT_PREFIX + key}),
                    record_ref("prescriptions", today["t"][1], today["t"][2],
                               {"hospital_id": hospital, "drug_code": drug}),
                ],
                registry_links=links,
                observed=(f"{len(top)} doctor(s) wrote {written} of {total} prescriptions "
                          f"({share:.0%}) from {spike_day} to {last_day}"),
                threshold=(f"{p['max_doctors']} or fewer doctors writing >= "
                           f"{p['min_share']:.0%} of >= {p['min_prescriptions']} "
                           f"prescriptions within {p['window_days']} days of the spike"),
                doctors=[[doctor, n] for doctor, n in top],
                prescriptions=total,
                window=[spike_day, date.fromordinal(w["s"] + p["window_days"] - 1)
                        .isoformat()],
            ),
        )



def _copy(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "d": {day: {"c": dict(e["c"]), "t": e["t"]} for day, e in state["d"].items()},
        "w": [dict(w) for w in state["w"]],
        "x": [list(x) for x in state["x"]],
    }


def _ordinal(day: str) -> int:
    return date.fromisoformat(day).toordinal()


def _offset_s(time: str) -> float:
    offset = datetime.fromisoformat(time).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0

