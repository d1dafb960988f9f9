"""lease_below_reference: a public asset let far below its reference rent.

The case (BRIEF.md, Yuhang): a village car park lease was about to be renewed at 604k yuan; the
public auction then reached 814k. Fires on an award of category ``lease`` whose amount is below
``ratio`` (0.8) times the reference: the award's own ``reference_price`` (the previous rent or a
market price) or, lacking one, the lease tender's reserve ``amount`` (the tender arrives on the
same project and is kept in the project's state). Yellow, to the rural-affairs regulator; red, to
the discipline inspectors, when the lessee is linked (legal rep or shareholder, or their
relative) to a ``village_cadre`` / ``public_official`` of the buyer on the award's day. A lease
at 80% of its reference or more stays silent.

An award that arrives before its tender (and has no reference price) waits in the state and is
judged when the tender comes: the finding is the same in either order.

>>> from detectors.registry import Registry
>>> tender = Event("bids", {"event_id": "t-1", "event_time": "2026-04-20T09:00:00+08:00",
...     "region": "330110", "stage": "tender", "project_id": "L-1", "buyer_id": "VC-1",
...     "category": "lease", "amount": 814000}, 0.0)
>>> award = Event("bids", {"event_id": "aw-1", "event_time": "2026-05-14T10:00:00+08:00",
...     "region": "330110", "stage": "award", "project_id": "L-1", "buyer_id": "VC-1",
...     "category": "lease", "amount": 604000, "bidder_id": "C-9"}, 86400.0 * 24)
>>> d, reg = LeaseBelowReference(), Registry()
>>> state, found = d.process(award, "L-1", None, reg)       # no reference yet: it waits
>>> found
[]
>>> state, [finding] = d.process(tender, "L-1", state, reg)
>>> finding.severity, finding.time, finding.evidence["observed"]
('yellow', '2026-05-14T10:00:00+08:00', '604000 yuan = 0.742 of the tender reserve 814000 yuan')
"""

from __future__ import annotations

from typing import Any

from detectors.base import RED, REVIEW, YELLOW, Detector, Event, Finding
from detectors.clock import DAY
from detectors.evidence import evidence
from detectors.links import MAX_LINKS, NEWEST, ForgetsWhenQuiet, office_links, truncation
from detectors.registry import Registry

FIELDS = ("stage", "project_id", "buyer_id", "bidder_id", "category", "amount",
          "reference_price", "region")


class LeaseBelowReference(ForgetsWhenQuiet, Detector):
    """Fires: An award of one of ``categories`` below ``ratio`` times its reference: the
    award's own ``reference_price`` or the lease tender's reserve. Yellow, to the rural-
    affairs regulator; red, to the discipline inspectors, when the lessee is linked to an
    office holder of the buyer.

    Silent: A lease at ``ratio`` of its reference or more; an award with no reference waits
    for its tender (kept ``retention_days``).

    Evidence: The award and the tender (``records``), the registry links and what was
    observed (the ratio).

    Parameters:
        ratio: a lease below this share of its reference rent fires.
        categories: award categories judged (leases by default).
        roles: registry roles in the paying or buying body that count as an office holder: a
            linked lessee makes the finding red.
        retention_days: how long (event time) a project's tender, or an award waiting for
            its tender, is kept after the project's last record.
        max_links: registry entries (owners, relatives) followed per record at most.
    """

    name = "lease_below_reference"
    feeds = frozenset({"bids"})
    key_kind = "project"
    logic_version = 1
    stateful = True
    defaults = {
        "ratio": 0.8,
        "categories": ("lease",),
        "roles": ("village_cadre", "public_official"),
        #: How long (event time) a lease project's tender, or an award waiting for its tender,
        #: is kept after the project's last record.
        "retention_days": 365.0,
        #: Registry entries (owners, relatives) followed per record at most.
        "max_links": MAX_LINKS,
    }

    def key(self, event: Event) -> str | None:
        record = event.record
        if record["category"] not in self.params["categories"]:
            return None
        if record["stage"] == "tender" or (record["stage"] == "award"
                                           and record.get("bidder_id")):
            return record["project_id"]
        return None

    def keep_s(self) -> float:
        return self.params["retention_days"] * DAY

    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        if self.key(event) is None:
            return state, []
        state = {NEWEST: float("-inf"), "tender": None, "wait": [], **(state or {})}
        state[NEWEST] = max(state[NEWEST], event.ts)
        record = event.record
        if record["stage"] == "tender":
            tender = [event.ts, event.event_id, record["amount"], event.ref(*FIELDS)]
            if state["tender"] is None or tender[:2] > state["tender"][:2]:
                state["tender"] = tender
            waiting, state["wait"] = state["wait"], []
            findings = [f for award in waiting for f in self._judge(key, award, state, registry)]
            return state, findings
        award = {"id": event.event_id, "time": event.time, "day": event.day,
                 "amount": record["amount"], "buyer": record["buyer_id"],
                 "lessee": record["bidder_id"], "reference": record.get("reference_price"),
                 "ref": event.ref(*FIELDS)}
        if not award["reference"] and state["tender"] is None:
            if all(w["id"] != award["id"] for w in state["wait"]):
                state["wait"] = sorted([*state["wait"], award], key=lambda w: w["id"])
            return state, []
        return state, self._judge(key, award, state, registry)

    def _judge(self, project: str, award: dict, state: dict,
               registry: Registry) -> list[Finding]:
        if award["reference"]:
            reference, source, records = award["reference"], "reference price", [award["ref"]]
        else:
            tender = state["tender"]
            reference, source = tender[2], "tender reserve"
            records = [award["ref"], tender[3]]
        if not reference or award["amount"] >= self.params["ratio"] * reference:
            return []
        share = award["amount"] / reference
        links = office_links(registry, award["lessee"], award["buyer"], award["day"],
                             self.params["roles"], self.params["max_links"])
        red = bool(links)
        who = ""
        if red:
            who = ", which is linked to " + ", ".join(sorted(
                {f"{link.holder_id} ({link.role})" for link in links})) + " of the lessor"
        return [self.finding(
            subject=f"project:{project}",
            severity=RED if red else YELLOW,
            route="discipline_inspection" if red else "regulator",
            sector="rural_affairs",
            action=REVIEW,
            score=round(min(1.0, 0.5 + 0.5 * (1 - share / self.params["ratio"])), 4),
            summary=(
                f"{award['buyer']} let {project} to {award['lessee']} for {award['amount']} "
                f"yuan, {share:.0%} of its {source} of {reference} yuan{who}"
            ),
            time=award["time"],
            basis=(award["id"],),
            evidence=evidence(
                records=records,
                registry_links=[link.evidence() for link in links],
                observed=f"{award['amount']} yuan = {share:.3f} of the {source} "
                         f"{reference} yuan",
                threshold=f"at least {self.params['ratio']:g} of the reference price (or, "
                          "lacking one, the tender's reserve)",
                **truncation(links, max_links=self.params["max_links"]),
            ),
        )]
