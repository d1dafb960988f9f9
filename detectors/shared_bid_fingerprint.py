"""shared_bid_fingerprint: different bidders' documents made on one machine.

The case (BRIEF.md: "串标", "围标", collusive and rigged bidding): bids that claim to compete were
written or submitted from the same computer. The bidding regulations treat bid documents made
by the same machine as collusion outright. Fires when two different bidders on the same project
submit bids carrying the same ``fingerprint`` (hash of the authoring machine or submitting
device): one finding per pair of such bids, so the findings are the same in any arrival order.
Red, to the discipline inspectors, with the procurement regulator informed
(``evidence.also_route``). Bids with different fingerprints, bids without one, or one bidder's
own resubmissions stay silent.

>>> from detectors.registry import Registry
>>> def bid(i, bidder, fp):
...     return Event("bids", {"event_id": f"b{i}", "event_time": f"2026-05-1{i}T10:00:00+08:00",
...         "region": "330784", "stage": "bid", "project_id": "PRJ-1", "buyer_id": "VC-1",
...         "category": "works", "amount": 100000 + i, "bidder_id": bidder,
...         "fingerprint": fp}, float(i))
>>> d, reg = SharedBidFingerprint(), Registry()
>>> state, _ = d.process(bid(1, "C-A", "mac-77"), "PRJ-1", None, reg)
>>> state, _ = d.process(bid(2, "C-B", "mac-12"), "PRJ-1", state, reg)
>>> state, [finding] = d.process(bid(3, "C-C", "mac-77"), "PRJ-1", state, reg)
>>> finding.severity, finding.basis, finding.time
('red', ('b1', 'b3'), '2026-05-13T10:00:00+08:00')
"""

from __future__ import annotations

from typing import Any

from detectors.base import RED, REVIEW, Detector, Event, Finding
from detectors.clock import DAY
from detectors.evidence import evidence
from detectors.links import NEWEST, ForgetsWhenQuiet
from detectors.registry import Registry

FIELDS = ("stage", "project_id", "buyer_id", "bidder_id", "amount", "fingerprint", "region")


class SharedBidFingerprint(ForgetsWhenQuiet, Detector):
    """Fires: Two different bidders on one project submit bids (stages in ``stages``) with the
    same ``fingerprint``: one finding per pair. Red, to the discipline inspectors, the
    procurement regulator informed (``evidence.also_route``).

    Silent: Different fingerprints, bids without one, one bidder's own resubmissions.

    Evidence: The two bids (``records``) and the shared fingerprint (``observed``).

    Parameters:
        stages: stages whose fingerprints are compared (bids by default).
        window_days: how long (event time) a project's fingerprinted bids are kept after its
            last one (retention, not a detection window).
        max_bids: at most this many fingerprinted bids are kept per project (the newest).
    """

    name = "shared_bid_fingerprint"
    feeds = frozenset({"bids"})
    key_kind = "project"
    logic_version = 1
    stateful = True
    defaults = {
        "stages": ("bid",),
        #: How far behind the watermark a fingerprinted bid is still compared (older: late).
        "window_days": 365.0,
        #: At most this many fingerprinted bids are kept per project (the newest).
        "max_bids": 200,
    }

    def key(self, event: Event) -> str | None:
        record = event.record
        if (record["stage"] in self.params["stages"] and record.get("fingerprint")
                and record.get("bidder_id")):
            return record["project_id"]
        return None

    def keep_s(self) -> float:
        return self.params["window_days"] * DAY

    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        if self.key(event) is None:
            return state, []
        record = event.record
        bids = list((state or {}).get("bids", []))
        if any(b["id"] == event.event_id for b in bids):
            return state, []
        new = {"ts": event.ts, "id": event.event_id, "time": event.time,
               "bidder": record["bidder_id"], "fp": record["fingerprint"],
               "ref": event.ref(*FIELDS)}
        findings = [
            self._pair(key, old, new) for old in bids
            if old["fp"] == new["fp"] and old["bidder"] != new["bidder"]
        ]
        newest = max((state or {}).get(NEWEST, event.ts), event.ts)  # when it went quiet
        bids = sorted([*bids, new], key=lambda b: (b["ts"], b["id"]))[-self.params["max_bids"]:]
        return {NEWEST: newest, "bids": bids}, findings

    def retention_s(self) -> float:
        return self.keep_s()

    def forget(self, state: Any, horizon: float) -> Any:
        return {NEWEST: state[NEWEST], "bids": [b for b in state["bids"] if b["ts"] >= horizon]}

    def _pair(self, project: str, a: dict, b: dict) -> Finding:
        first, second = sorted((a, b), key=lambda x: (x["ts"], x["id"]))
        return self.finding(
            subject=f"project:{project}",
            severity=RED,
            route="discipline_inspection",
            sector="procurement",
            action=REVIEW,
            score=1.0,
            summary=(
                f"bids of {first['bidder']} and {second['bidder']} on project {project} were "
                f"made on the same machine (fingerprint {first['fp']})"
            ),
            time=second["time"],
            basis=tuple(sorted((a["id"], b["id"]))),
            evidence=evidence(
                records=[first["ref"], second["ref"]],
                registry_links=[],
                observed=f"2 different bidders ({first['bidder']}, {second['bidder']}) with "
                         f"fingerprint {first['fp']}",
                threshold="each bidder's documents come from its own machine (no fingerprint "
                          "shared between different bidders on a project)",
                also_route="regulator (procurement)",
            ),
        )
