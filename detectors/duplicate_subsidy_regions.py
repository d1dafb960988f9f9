"""duplicate_subsidy_regions: one person paid the same subsidy by several regions at once.

The case (BRIEF.md, Lishui): people drew the same subsidy from several counties. Fires when a
payee receives ``welfare_subsidy`` from payers in ``min_regions`` or more different regions
within ``window_days`` (default 2 regions, 31 days). Each payment that completes such a set
(the later one of a pair, in event time) is one finding, found whichever payment arrives first.
Two payments from the same region stay silent.

>>> from detectors.registry import Registry
>>> d, reg = DuplicateSubsidyRegions(), Registry()
>>> def pay(i, day, region):
...     return Event("payments", {"event_id": f"w{i}", "event_time": f"{day}T10:00:00+08:00",
...         "region": region, "status": "executed", "payer_id": f"VC-{region}-001",
...         "payee_id": "P-7", "payee_kind": "person", "purpose": "welfare_subsidy",
...         "amount": 300}, ts=float(int(day[-2:]) * 86400))
>>> state, found = d.process(pay(1, "2026-05-03", "331102"), "P-7", None, reg)
>>> state, found = d.process(pay(2, "2026-05-20", "330602"), "P-7", state, reg)
>>> [(f.subject, f.basis, f.evidence["observed"]) for f in found]
[('person:P-7', ('w2',), '2 regions (330602, 331102) within 31 days')]
"""

from __future__ import annotations

from typing import Any

from detectors.base import REVIEW, YELLOW, Detector, Event, Finding, PersonPayeeKey
from detectors.clock import DAY
from detectors.evidence import evidence, record_ref
from detectors.registry import Registry


class DuplicateSubsidyRegions(PersonPayeeKey, Detector):
    """Fires: A payee receives a payment for one of ``purposes`` from payers in ``min_regions``
    or more different regions within ``window_days``; each payment that completes such a set
    is one finding, whichever payment arrives first. Yellow, to the regulator.

    Silent: Payments from one region, regions further apart than the window, a retried
    payment.

    Evidence: The payments of the set (``records``: region, payer, amount) and what was
    observed.

    Parameters:
        purposes: payment purposes judged (a welfare subsidy by default).
        window_days: payments this many days apart or less form one set (the detection
            window).
        min_regions: different payer regions within the window that make a finding.
    """

    name = "duplicate_subsidy_regions"
    feeds = frozenset({"payments"})
    key_kind = "payee"
    logic_version = 1
    stateful = True
    defaults = {"purposes": ("welfare_subsidy",), "window_days": 31.0, "min_regions": 2}

    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        window = self.params["window_days"] * DAY
        record = event.record
        # payments: [ts, event_id, region, payer_id, event_time, amount]; fired: event ids
        payments = [p for p in (state or {}).get("p", []) if p[1] != event.event_id]
        fired = set((state or {}).get("f", []))
        payments.append([event.ts, event.event_id, record["region"], record["payer_id"],
                         event.time, record["amount"]])
        payments.sort(key=lambda p: (p[0], p[1]))
        kept = {p[1] for p in payments}
        findings = []
        # The new payment may complete a set, and (arriving late) so may later ones.
        for later in payments:
            if later[1] in fired or later[0] < event.ts:
                continue
            earlier = [p for p in payments if later[0] - window <= p[0]
                       and (p[0], p[1]) < (later[0], later[1])]
            regions = {later[2], *(p[2] for p in earlier)}
            if len(regions) >= self.params["min_regions"] and any(
                    p[1] == event.event_id for p in (*earlier, later)):
                fired.add(later[1])
                findings.append(self._finding(key, later, earlier, regions))
        return {"p": payments, "f": sorted(fired & kept)}, findings

    def retention_s(self) -> float:
        # A payment judged now is at or after the horizon; it pairs with payments up to a
        # window before it (forget keeps those).
        return self.params["window_days"] * DAY

    def forget(self, state: Any, horizon: float) -> Any:
        payments = [p for p in state["p"] if p[0] >= horizon - self.params["window_days"] * DAY]
        if not payments:
            return None
        kept = {p[1] for p in payments}
        return {"p": payments, "f": [f for f in state["f"] if f in kept]}

    def due(self, state: Any) -> float | None:
        # Forgotten once its newest payment is beyond the retention and a window.
        return state["p"][-1][0] + 2 * self.retention_s() if state else None

    def advance(self, key: str, state: Any, watermark: float, registry: Registry
                ) -> tuple[Any, list[Finding]]:
        return self.forget(state, watermark - self.retention_s()), []

    def _finding(self, payee: str, later: list, earlier: list, regions: set[str]) -> Finding:
        days = int(self.params["window_days"])
        involved = [*earlier, later]
        return self.finding(
            subject=f"person:{payee}",
            severity=YELLOW,
            route="regulator",
            sector="civil_affairs",
            action=REVIEW,
            score=min(0.99, 0.5 + 0.1 * len(regions)),
            summary=(f"payee {payee} received welfare_subsidy from payers in {len(regions)} "
                     f"regions ({', '.join(sorted(regions))}) within {days} days"),
            time=later[4],
            basis=(later[1],),
            evidence=evidence(
                records=[record_ref("payments", p[1], p[4],
                                    {"region": p[2], "payer_id": p[3], "amount": p[5]})
                         for p in involved],
                observed=f"{len(regions)} regions ({', '.join(sorted(regions))}) within "
                         f"{days} days",
                threshold=f"fewer than {self.params['min_regions']} regions within "
                          f"{days} days",
            ),
        )
