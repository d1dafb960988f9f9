"""bid_price_screen: bid prices too close or too regular to be competitive.

The case (BRIEF.md: "人情标", "串标", "围标", collusive and rigged bidding): cover bids are
priced by the ring, not by each bidder's costs, and it shows in the prices. When a project is
awarded, its bids (one per bidder, the latest; ``min_bids`` = 3 or more, placed up to the
award's time) are screened:

- **cv**: the coefficient of variation of the bids (population standard deviation / mean) is
  below ``max_cv`` (0.03): prices bunched together;
- **identical**: two different bidders offered the same price (to the cent);
- **gap**: the gap between the two lowest bids is tiny relative to the spread of the losing
  bids: ``gap_ratio = (second lowest - lowest) / (highest - second lowest)`` is below
  ``max_gap_ratio`` (0.02), with the losing bids spread at all (a cover bid placed just above the
  designated winner, the others anywhere).

Any screen that holds makes one finding for the award: yellow, to the procurement regulator,
with the bids and every screen value as evidence. Competitive bids, or fewer than 3 bids, stay
silent.

The award closes the bidding, but bids and award travel different partitions and may arrive in
any order: an award is judged once event time (the watermark) has passed it by
``allowed_lateness_hours`` (2), so every bid placed before it that arrives by then counts. A bid
placed before an award already judged is late (counted by the runner, not applied).

>>> from detectors.registry import Registry
>>> def bid(i, stage, amount, ts):
...     return Event("bids", {"event_id": f"b{i}", "event_time": "2026-05-14T10:00:00+08:00",
...         "region": "330784", "stage": stage, "project_id": "PRJ-1", "buyer_id": "VC-1",
...         "category": "works", "amount": amount, "bidder_id": f"C-{i}"}, ts)
>>> d, reg, state = BidPriceScreen(), Registry(), None
>>> state, _ = d.process(bid(9, "award", 500000, 10.0), "PRJ-1", state, reg)  # award first
>>> for i, amount in enumerate((500000, 505000, 509000)):
...     state, _ = d.process(bid(i, "bid", amount, float(i)), "PRJ-1", state, reg)
>>> d.due(state)
7210.0
>>> state, [finding] = d.advance("PRJ-1", state, 7210.0, reg)
>>> finding.severity, finding.evidence["fired"], finding.evidence["screens"]["cv"]
('yellow', ['cv'], 0.0073)
"""

from __future__ import annotations

import math
from bisect import insort
from operator import itemgetter
from typing import Any

from detectors.base import REVIEW, YELLOW, Detector, Event, Finding
from detectors.clock import DAY, HOUR
from detectors.evidence import evidence, record_ref
from detectors.links import NEWEST, expiry
from detectors.registry import Registry

FIELDS = ("stage", "project_id", "buyer_id", "bidder_id", "category", "amount", "region")


#: A kept bid's event time and event_id ([ts, id, bidder, amount, event_time]).
_TS, _ID = itemgetter(0), itemgetter(1)


class BidPriceScreen(Detector):
    """Fires: When a project with ``min_bids`` or more bids is awarded, and the award judged
    once the watermark has passed it by ``allowed_lateness_hours``: the bids' coefficient of
    variation is below ``max_cv``, or two bidders offered the same price, or the gap between
    the two lowest bids is below ``max_gap_ratio`` of the losing bids' spread. Yellow, to
    the procurement regulator.

    Silent: Competitive bids, fewer than ``min_bids`` bids; a bid placed before an award
    already judged is late (counted).

    Evidence: The award and the bids (``records``) and every screen's value.

    Parameters:
        allowed_lateness_hours: an award is judged once the watermark passes it by this
            much: bids placed before it that arrive in that time still count.
        min_bids: fewer bids than this stay silent.
        max_cv: the cv screen holds below this coefficient of variation of the bids.
        max_gap_ratio: the gap screen holds below this ratio of the two lowest bids' gap to
            the losing bids' spread.
        retention_days: how long (event time) a project's unawarded bids are kept after its
            last record.
        max_bids: at most this many bids are kept per project (the newest).
    """

    name = "bid_price_screen"
    feeds = frozenset({"bids"})
    key_kind = "project"
    logic_version = 1
    stateful = True
    renamed = {"window_days": "retention_days"}
    defaults = {
        #: An award is judged once the watermark passes it by this much: bids placed before it
        #: that arrive in that time still count.
        "allowed_lateness_hours": 2.0,
        "min_bids": 3,
        "max_cv": 0.03,
        "max_gap_ratio": 0.02,
        #: How far behind the watermark a bid is still kept for its award (older: late).
        "retention_days": 180.0,
        #: At most this many bids are kept per project (the newest).
        "max_bids": 100,
    }

    def key(self, event: Event) -> str | None:
        record = event.record
        if record["stage"] in ("bid", "award") and record.get("bidder_id"):
            return record["project_id"]
        return None

    def forget(self, state: Any, horizon: float) -> Any:
        kept = state["bids"]
        # Usually none is that old: known by a scan in C, not by a Python test per bid.
        bids = (list(kept) if not kept or min(map(_TS, kept)) >= horizon
                else [b for b in kept if b[0] >= horizon])
        if not bids and not state["awards"] and state[NEWEST] < horizon:
            return None
        return {**state, "bids": bids}

    def is_late(self, event: Event, key: str, state: Any) -> bool:
        judged = (state or {}).get("judged")
        return (event.record["stage"] == "bid" and judged is not None
                and event.ts <= judged)

    def due(self, state: Any) -> float | None:
        if not state:
            return None
        if state["awards"]:
            return state["awards"][0][0]
        return expiry(state[NEWEST], self.params["retention_days"] * DAY)

    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        if self.key(event) is None:
            return state, []
        record = event.record
        state = {NEWEST: float("-inf"), "bids": [], "awards": [], "judged": None, **(state or {})}
        newest = max(state[NEWEST], event.ts)
        if record["stage"] == "bid":
            # Kept small (every bid on every open project is state): [ts, id, bidder, amount,
            # event_time]; the evidence entry is rebuilt from it.
            event_id, kept = event.event_id, state["bids"]
            # A bid given again replaces its first copy (rare: looked for by a scan in C).
            bids = ([b for b in kept if b[1] != event_id] if event_id in map(_ID, kept)
                    else list(kept))
            # Kept in order: the new bid goes in its place (as sorting would put it).
            insort(bids, [event.ts, event_id, record["bidder_id"], record["amount"],
                          event.time])
            bids = bids[-self.params["max_bids"]:]
            return {**state, NEWEST: newest, "bids": bids}, []
        # An award waits for its bids: judged in advance() once event time is past it.
        if any(a[2] == event.event_id for a in state["awards"]):
            return state, []
        due = event.ts + self.params["allowed_lateness_hours"] * HOUR
        award = [due, event.ts, event.event_id, event.ref(*FIELDS)]
        return {**state, NEWEST: newest, "awards": sorted([*state["awards"], award])}, []

    def advance(
        self, key: str, state: Any, watermark: float, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        if not state:
            return state, []
        findings: list[Finding] = []
        bids, judged, waiting = state["bids"], state["judged"], []
        for award in state["awards"]:
            due, ts, _, ref = award
            if due > watermark:
                waiting.append(award)
                continue
            # The award's competition: the bids placed up to it (an earlier award took its own).
            placed = [b for b in bids if b[0] <= ts]
            bids = [b for b in bids if b[0] > ts]
            judged = ts if judged is None else max(judged, ts)
            findings.extend(self._screen(key, ref, placed))
        if not waiting and watermark >= expiry(state[NEWEST], self.params["retention_days"] * DAY):
            return None, findings  # a project quiet for the whole window is forgotten
        return {NEWEST: state[NEWEST], "bids": bids, "awards": waiting, "judged": judged}, findings

    def screens(self, amounts: list[float], bidders: list[str]) -> dict[str, Any]:
        """The screen values of one competition (amounts and bidders in the same order)."""
        n = len(amounts)
        mean = sum(amounts) / n
        sd = math.sqrt(sum((a - mean) ** 2 for a in amounts) / n)
        cv = sd / mean if mean > 0 else 0.0
        by_price: dict[float, list[str]] = {}
        for amount, bidder in zip(amounts, bidders, strict=True):
            by_price.setdefault(round(amount, 2), []).append(bidder)
        identical = [{"amount": price, "bidders": sorted(set(who))}
                     for price, who in sorted(by_price.items()) if len(set(who)) > 1]
        ordered = sorted(amounts)
        spread = ordered[-1] - ordered[1]
        gap_ratio = (ordered[1] - ordered[0]) / spread if spread > 0 else None
        return {"n": n, "mean": round(mean, 2), "cv": round(cv, 4), "identical": identical,
                "gap_ratio": None if gap_ratio is None else round(gap_ratio, 4)}

    def _screen(self, project: str, award: dict[str, Any], placed: list[list]
                ) -> list[Finding]:
        latest: dict[str, dict] = {}
        for _ts, event_id, bidder, amount, when in sorted(placed):
            latest[bidder] = {"id": event_id, "bidder": bidder, "amount": amount,
                              "time": when}  # one bid per bidder: their latest
        bids = sorted(latest.values(), key=lambda b: (b["amount"], b["bidder"], b["id"]))
        if len(bids) < self.params["min_bids"]:
            return []
        values = self.screens([b["amount"] for b in bids], [b["bidder"] for b in bids])
        max_cv, max_gap = self.params["max_cv"], self.params["max_gap_ratio"]
        scores = {}
        if values["cv"] < max_cv:
            scores["cv"] = 1 - values["cv"] / max_cv
        if values["identical"]:
            scores["identical"] = 1.0
        if values["gap_ratio"] is not None and values["gap_ratio"] < max_gap:
            scores["gap"] = 1 - values["gap_ratio"] / max_gap
        if not scores:
            return []
        fired = sorted(scores)
        parts = {"cv": f"coefficient of variation {values['cv']} < {max_cv}",
                 "identical": "identical prices from different bidders ("
                 + "; ".join(f"{i['amount']} by {', '.join(i['bidders'])}"
                             for i in values["identical"]) + ")",
                 "gap": f"gap ratio {values['gap_ratio']} < {max_gap}"}
        record = award["fields"]
        return [self.finding(
            subject=f"project:{project}",
            severity=YELLOW,
            route="regulator",
            sector="procurement",
            action=REVIEW,
            score=round(max(0.0, min(1.0, max(scores.values()))), 4),
            summary=(
                f"the {len(bids)} bids on project {project} of {record['buyer_id']}, awarded to "
                f"{record['bidder_id']}, fail the collusion screens: "
                + "; ".join(parts[name] for name in fired)
            ),
            time=award["event_time"],
            basis=(award["event_id"],),
            evidence=evidence(
                records=[award] + [
                    record_ref("bids", b["id"], b["time"],
                               {"stage": "bid", "project_id": project,
                                "bidder_id": b["bidder"], "amount": b["amount"]})
                    for b in bids],
                registry_links=[],
                observed="; ".join(parts[name] for name in fired),
                threshold=f"{self.params['min_bids']}+ bids with cv >= {max_cv}, no identical "
                          f"prices from different bidders, and gap ratio >= {max_gap}",
                bids=[{"bidder_id": b["bidder"], "amount": b["amount"], "event_id": b["id"]}
                      for b in bids],
                screens=values,
                fired=fired,
            ),
        )]
