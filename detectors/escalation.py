"""escalation: yellow warnings from different detectors about one subject become one red.

The case (BRIEF.md): the second line of defence. The sector regulators' own warnings (the
health regulator's 1,658 "abnormal drug purchase" warnings) are gathered and collided again
with other data; what several independent models point at together goes to the discipline
inspectors. A warning is the input of another detector: this one reads the ``alerts`` topic.

Per subject (the alert's ``subject``), it keeps the yellow alerts of the last weeks. When a
yellow alert arrives and an unused yellow alert from a *different* detector about the same
subject lies within ``window_days`` of it (event time: the alerts' ``time``), it emits one red
alert citing both (their ids in the evidence) and marks both used, so a third yellow does not
re-cite them. Red alerts are ignored, its own included, so it never feeds on itself; yellow
alerts of the same detector never escalate each other. The red alert's basis is the sorted pair
of alert ids and its time the later alert's time: the same two yellows give the same red
whichever arrives first. (With more than two yellows close together, which pair is cited
follows arrival order: the earliest unused partner of the alert that completes a pair.)

>>> from detectors.registry import Registry
>>> def alert(alert_id, detector, time):
...     return Event("alerts", {"specversion": "1.0", "id": alert_id, "source": "sunlight",
...                  "type": f"org.sunlight.alert.{detector}", "subject": "hospital_drug:H1|X1",
...                  "time": time, "data": {"detector": detector, "severity": "yellow",
...                  "score": 0.7, "sector": "health"}}, 0.0)
>>> esc = Escalation()
>>> state, none = esc.process(alert("a1", "drug_purchase_spike", "2026-05-02T10:00:00+08:00"),
...                           "hospital_drug:H1|X1", None, Registry())
>>> state, [red] = esc.process(alert("a2", "prescriber_concentration",
...                            "2026-05-05T16:00:00+08:00"), "hospital_drug:H1|X1", state,
...                            Registry())
>>> none, red.severity, red.time, red.basis
([], 'red', '2026-05-05T16:00:00+08:00', ('a1', 'a2'))
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from detectors.base import RED, REVIEW, YELLOW, Detector, Event, Finding
from detectors.clock import DAY
from detectors.evidence import evidence, record_ref
from detectors.registry import Registry

# A kept alert: [ts, id, detector, time, used, score, sector]
_TS, _ID, _DET, _TIME, _USED, _SCORE, _SECTOR = range(7)


class Escalation(Detector):
    """Fires: A yellow alert arrives and an unused yellow alert from a different detector about
    the same subject lies within ``window_days`` of it: one red, to the discipline
    inspectors, citing both.

    Silent: Red alerts (its own too), two yellows of one detector, detectors in ``ignore``,
    yellows already cited; an alert older than ``retention_days`` is late (counted).

    Evidence: The two alerts (``records``: their ids, detectors and scores).

    Parameters:
        window_days: two yellows from different detectors this many days apart or less make
            a red.
        ignore: detectors whose alerts are not escalated.
        max_kept: most yellow alerts kept per subject (the newest).
        retention_days: how far behind the watermark (the input feeds' event time) a yellow
            alert is still paired; older ones are late (counted). Long by default: alerts come
            back from stages that may lag the input feeds by weeks of event time in a backlog;
            ``max_kept`` bounds the state.
    """

    name = "escalation"
    feeds = frozenset({"alerts"})
    key_kind = "subject"
    logic_version = 1
    stateful = True
    defaults = {
        "window_days": 30,
        #: Detectors whose alerts are not escalated.
        "ignore": (),
        #: Most yellow alerts kept per subject (the newest).
        "max_kept": 64,
        #: How far behind the watermark (the input feeds' event time) a yellow alert is still
        #: paired; older ones are late (counted).
        "retention_days": 3650.0,
    }

    def key(self, event: Event) -> str | None:
        record = event.record
        data = record.get("data") or {}
        if data.get("severity") != YELLOW:
            return None  # red alerts, its own included, never escalate
        detector = data.get("detector")
        if detector == self.name or detector in self.params["ignore"]:
            return None
        return record.get("subject") or None

    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        record = event.record
        data = record.get("data") or {}
        kept = [list(item) for item in state["y"]] if state is not None else []
        alert_id = record["id"]
        if any(item[_ID] == alert_id for item in kept):
            return state, []
        ts = datetime.fromisoformat(record["time"]).timestamp()
        score = data.get("score")
        new_item = [ts, alert_id, data.get("detector"), record["time"], 0,
                    score if isinstance(score, int | float) else 0.0, data.get("sector")]
        window = self.params["window_days"] * DAY
        partners = [item for item in kept if not item[_USED] and item[_DET] != new_item[_DET]
                    and abs(item[_TS] - ts) <= window]
        findings = []
        if partners:
            partner = min(partners, key=lambda item: (item[_TS], item[_ID]))
            partner[_USED] = 1
            new_item[_USED] = 1
            findings.append(self._finding(key, partner, new_item))
        kept.append(new_item)
        kept.sort(key=lambda item: (item[_TS], item[_ID]))
        kept = kept[-self.params["max_kept"]:]
        return {"y": kept}, findings

    def forget(self, state: Any, horizon: float) -> Any:
        # An alert judged now is at or after the horizon and pairs with ones a window before.
        window = self.params["window_days"] * DAY
        kept = [item for item in state["y"] if item[_TS] >= horizon - window]
        return {"y": kept} if kept else None

    def due(self, state: Any) -> float | None:
        newest = max((item[_TS] for item in state["y"]), default=None) if state else None
        return None if newest is None else newest + self.retention_s() + self.params[
            "window_days"] * DAY

    def advance(self, key: str, state: Any, watermark: float, registry: Registry
                ) -> tuple[Any, list[Finding]]:
        return self.forget(state, watermark - self.retention_s()), []

    def _finding(self, subject: str, a: list[Any], b: list[Any]) -> Finding:
        first, second = sorted((a, b), key=lambda item: (item[_TS], item[_ID]))
        sectors = {first[_SECTOR], second[_SECTOR]}
        sector = first[_SECTOR] if len(sectors) == 1 and first[_SECTOR] else "multiple"
        days = (second[_TS] - first[_TS]) / DAY
        window = self.params["window_days"]
        return self.finding(
            subject=subject,
            severity=RED,
            route="discipline_inspection",
            sector=sector,
            action=REVIEW,
            score=max(float(first[_SCORE]), float(second[_SCORE])),
            summary=(
                f"{subject} drew yellow alerts from {first[_DET]} ({first[_TIME]}) and "
                f"{second[_DET]} ({second[_TIME]}), {days:.0f} days apart: two independent "
                f"warnings, escalated to the discipline inspectors"
            ),
            time=second[_TIME],
            basis=tuple(sorted((first[_ID], second[_ID]))),
            evidence=evidence(
                records=[
                    record_ref("alerts", item[_ID], item[_TIME],
                               {"detector": item[_DET], "severity": YELLOW,
                                "score": item[_SCORE], "sector": item[_SECTOR]})
                    for item in (first, second)
                ],
                registry_links=[],
                observed=(f"yellow alerts from {first[_DET]} and {second[_DET]} "
                          f"{days:.1f} days apart"),
                threshold=(f"yellow alerts from 2 or more different detectors about the "
                           f"same subject within {window} days"),
                alerts=[first[_ID], second[_ID]],
            ),
        )
