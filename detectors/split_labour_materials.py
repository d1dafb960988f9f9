"""split_labour_materials: a project split into labour-only work plus materials bought from a
company behind the cadre or the winner.

The case (BRIEF.md): the disguised form of a village cadre in his own village's project. The
works are let as a ``labour_only`` contract (cheap, unremarkable), and the materials, where the
money is, are bought separately from a company linked to a cadre of the village or to the
winner. Fires, after a ``labour_only`` award on project P by buyer B to winner W, for each
``materials`` purchase for P by B within ``window_days`` (90) of the award (a ``materials``
payment with ``project_id`` P and ``payer_id`` B, or a ``materials`` award on P by B) that goes
to a company M other than W where M is linked (legal rep or shareholder, or their relative) to
a ``village_cadre`` / ``public_official`` of B on the purchase's day, or M shares an owner with W.
Red, to the discipline inspectors. Materials from an unlinked supplier, from another payer, to
the winner itself, or outside the window stay silent.

The award and the purchases meet in the project's state whichever arrives first: a purchase
that arrives before its award is kept (for the window plus ``allowed_lateness_days``) and
matched when the award comes. Each (award, purchase) pair is one finding, so the findings are
the same in any arrival order. Payments without a ``project_id`` are ignored.

>>> from detectors.registry import Registry
>>> reg = Registry()
>>> reg.apply({"record_type": "person", "person_id": "P-OWNER"})
>>> for c in ("C-WIN", "C-MAT"):
...     reg.apply({"record_type": "company", "company_id": c, "legal_rep_id": "P-OWNER",
...                "shareholder_ids": [], "region": "330784"})
>>> award = Event("bids", {"event_id": "aw-1", "event_time": "2026-05-04T10:00:00+08:00",
...     "region": "330784", "stage": "award", "project_id": "PRJ-1", "buyer_id": "VC-1",
...     "category": "labour_only", "amount": 90000, "bidder_id": "C-WIN"}, 0.0)
>>> pay = Event("payments", {"event_id": "pay-1", "event_time": "2026-06-01T10:00:00+08:00",
...     "region": "330784", "status": "executed", "payer_id": "VC-1", "payee_id": "C-MAT",
...     "payee_kind": "company", "purpose": "materials", "amount": 250000,
...     "project_id": "PRJ-1"}, 28 * 86400.0)
>>> d = SplitLabourMaterials()
>>> state, found = d.process(pay, "PRJ-1", None, reg)      # the payment arrives first
>>> state, [finding] = d.process(award, "PRJ-1", state, reg)
>>> finding.severity, finding.basis, finding.time
('red', ('aw-1', 'pay-1'), '2026-06-01T10:00:00+08:00')
"""

from __future__ import annotations

from typing import Any

from detectors.base import RED, REVIEW, Detector, Event, Finding
from detectors.clock import DAY
from detectors.evidence import evidence
from detectors.links import (
    MAX_LINKS,
    NEWEST,
    ForgetsWhenQuiet,
    office_links,
    shared_owners,
    truncation,
)
from detectors.registry import Registry

AWARD_FIELDS = ("stage", "project_id", "buyer_id", "bidder_id", "category", "amount", "region")
PAYMENT_FIELDS = ("status", "payer_id", "payee_id", "payee_kind", "purpose", "amount",
                  "project_id", "region")


class SplitLabourMaterials(ForgetsWhenQuiet, Detector):
    """Fires: After a ``labour_only`` award on a project, each materials purchase for it by the
    same buyer within ``window_days`` that goes to a company other than the winner linked to
    an office holder of the buyer, or sharing an owner with the winner. Red, to the
    discipline inspectors.

    Silent: Materials from an unlinked supplier, from another payer, to the winner itself,
    outside the window, or a payment without a ``project_id``.

    Evidence: The award and the purchase (``records``), the registry links and what was
    observed.

    Parameters:
        window_days: days after the labour-only award in which a materials purchase is
            matched (the detection window).
        allowed_lateness_days: how much older than the project's newest record a record may
            be and still be matched; older ones are late.
        roles: registry roles in the paying or buying body that count as an office holder.
        purposes: payment purposes that count as a materials purchase.
        max_links: registry entries (owners, relatives) followed per record at most.
        statuses: payment statuses that count as a purchase (one payment is not two
            findings).
    """

    name = "split_labour_materials"
    feeds = frozenset({"bids", "payments"})
    key_kind = "project"
    logic_version = 1
    stateful = True
    defaults = {
        "window_days": 90.0,
        #: With ``window_days``, how far behind the watermark a record may be and still be
        #: matched; older ones are counted as late (the state that could match them is gone).
        "allowed_lateness_days": 30.0,
        "roles": ("village_cadre", "public_official"),
        "purposes": ("materials",),
        #: Registry entries (owners, relatives) followed per record at most.
        "max_links": MAX_LINKS,
        #: Payment statuses that count as a purchase (a requested and an executed record of the
        #: same payment would otherwise be two findings).
        "statuses": ("executed",),
    }

    # -- routing --------------------------------------------------------------------------
    def _kind(self, event: Event) -> str | None:
        record = event.record
        if event.feed == "bids":
            if record.get("stage") != "award" or not record.get("bidder_id"):
                return None
            if record["category"] == "labour_only":
                return "labour"
            return "materials" if record["category"] == "materials" else None
        if event.feed == "payments":
            if (record.get("project_id") and record["purpose"] in self.params["purposes"]
                    and record["payee_kind"] == "company"
                    and record["status"] in self.params["statuses"]):
                return "materials"
        return None

    def key(self, event: Event) -> str | None:
        return event.record["project_id"] if self._kind(event) else None

    # -- state ----------------------------------------------------------------------------
    def _horizon_s(self) -> float:
        return (self.params["window_days"] + self.params["allowed_lateness_days"]) * DAY

    def retention_s(self) -> float:
        return self._horizon_s()

    def keep_s(self) -> float:
        return self._horizon_s()

    def forget(self, state: Any, horizon: float) -> Any:
        # A record judged now is at or after the horizon; a labour award matches materials
        # up to window_days after it, so awards are kept that much longer.
        window = self.params["window_days"] * DAY
        return {NEWEST: state[NEWEST],
                "labour": [i for i in state["labour"] if i["ts"] >= horizon - window],
                "mat": [i for i in state["mat"] if i["ts"] >= horizon]}

    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        kind = self._kind(event)
        if kind is None:
            return state, []
        state = {NEWEST: float("-inf"), "labour": [], "mat": [], **(state or {})}
        record = event.record
        if any(i["id"] == event.event_id for i in state["labour"] + state["mat"]):
            return state, []
        if event.feed == "bids":
            item = {"ts": event.ts, "id": event.event_id, "time": event.time, "day": event.day,
                    "by": record["buyer_id"], "to": record["bidder_id"],
                    "ref": event.ref(*AWARD_FIELDS)}
        else:
            item = {"ts": event.ts, "id": event.event_id, "time": event.time, "day": event.day,
                    "by": record["payer_id"], "to": record["payee_id"],
                    "ref": event.ref(*PAYMENT_FIELDS)}
        findings = []
        if kind == "labour":
            for other in state["mat"]:
                findings.extend(self._match(key, item, other, registry))
        else:
            for other in state["labour"]:
                findings.extend(self._match(key, other, item, registry))
        lists = {"labour": list(state["labour"]), "mat": list(state["mat"])}
        lists["labour" if kind == "labour" else "mat"].append(item)
        return {
            NEWEST: max(state[NEWEST], event.ts),  # when the project went quiet (ForgetsWhenQuiet)
            "labour": sorted(lists["labour"], key=lambda i: (i["ts"], i["id"])),
            "mat": sorted(lists["mat"], key=lambda i: (i["ts"], i["id"])),
        }, findings

    # -- judgement ------------------------------------------------------------------------
    def _match(self, project: str, award: dict, item: dict, registry: Registry) -> list[Finding]:
        gap = item["ts"] - award["ts"]
        if not 0 <= gap <= self.params["window_days"] * DAY:
            return []
        if item["by"] != award["by"] or item["to"] == award["to"]:
            return []
        cap = self.params["max_links"]
        links = office_links(registry, item["to"], award["by"], item["day"], self.params["roles"],
                             cap)
        shared = shared_owners(registry, item["to"], award["to"], cap)
        if not links and not shared:
            return []
        reasons = []
        if links:
            reasons.append("linked to " + ", ".join(sorted(
                {f"{link.holder_id} ({link.role})" for link in links})) + f" of {award['by']}")
        if shared:
            reasons.append(f"shares owner {', '.join(s['person_id'] for s in shared)} with the "
                           f"winner {award['to']}")
        days = gap / DAY
        amount = item["ref"]["fields"].get("amount")
        return [self.finding(
            subject=f"project:{project}",
            severity=RED,
            route="discipline_inspection",
            sector="procurement",
            action=REVIEW,
            score=1.0 if links and shared else 0.9,
            summary=(
                f"project {project}: {award['by']} let labour-only work to {award['to']}, then "
                f"{days:.0f} days later bought materials ({amount} yuan) from {item['to']}, "
                f"which is {' and '.join(reasons)}"
            ),
            time=item["time"],
            basis=(award["id"], item["id"]),
            evidence=evidence(
                records=[award["ref"], item["ref"]],
                registry_links=[link.evidence() for link in links] + shared,
                observed=f"materials to {item['to']} {days:.1f} days after the labour_only "
                         f"award to {award['to']}; {' and '.join(reasons)}",
                threshold=f"materials within {self.params['window_days']:g} days of a "
                          "labour_only award, from the same buyer, to a company other than "
                          "the winner that is linked to an office holder of the buyer or "
                          "shares an owner with the winner",
                days_after_award=round(days, 3),
                **truncation(links, shared, max_links=cap),
            ),
        )]
