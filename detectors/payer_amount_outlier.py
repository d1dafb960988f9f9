"""payer_amount_outlier: a payment amount far outside what its payer pays for that purpose.

The case (DETECTORS.md): a payer's payments of one purpose (a township's work subsidies, an
agency's materials) have a normal size; a payment far above it is a yellow warning to the
finance regulator, checked against the payment and the pair's history.

Per payer and purpose (key ``payer_id|purpose``), every payment amount is one observation of a
series scored by the same online scorer as ``drug_purchase_spike`` (``detectors/scoring.py``),
here without a weekly season (``period`` 1) and with the warm-up counted in payments: the log of
the amount against the pair's learned level and robust spread, clipped so that an outlier does
not become the normal, re-centred when a new level holds for ``shift_days`` payments. An alert
is a score at or above ``threshold`` (default: 6 robust standard deviations of the log amount
above the pair's normal, i.e. a payment several times the usual one for a steady payer).

Payments are scored in event-time order, each once event time (the watermark) has passed it by
``allowed_lateness_hours``: so the learned normal does not depend on how the input partitions
happened to interleave, and a payment is never judged before the history that came before it. A
payment arriving later than that is scored at once. The finding's time is the payment's event time,
its basis the payment's event_id.

The state per pair is the scorer's model, 12 numbers (about 90 bytes of JSON), plus the
payments waiting for the watermark (those of the last ``allowed_lateness_hours``), kept in
scoring order, so a payment costs a search to file and the next due time is the first's: a busy
payer may have thousands waiting. Each is kept as the few values scoring and its evidence need
(about 100 bytes), since the whole list is written to the changelog with every batch.

>>> from detectors.registry import Registry
>>> detector = PayerAmountOutlier()
>>> def pay(i, amount):
...     record = {"event_id": f"pay-{i}", "event_time": f"2026-05-{1 + i % 28:02d}T09:00:00+08:00",
...               "region": "330784", "status": "executed", "payer_id": "VC-1",
...               "payee_id": f"P-{i}", "payee_kind": "person", "purpose": "materials",
...               "amount": amount}
...     return Event("payments", record, float(i * 7200))
>>> state, found = None, []
>>> for i in range(40):
...     amount = 30000.0 if i == 39 else 1000.0 + 37 * (i % 7)
...     event = pay(i, amount)
...     state, _ = detector.process(event, "VC-1|materials", state, Registry())
...     state, findings = detector.advance("VC-1|materials", state, event.ts + 3600, Registry())
...     found += findings
>>> [(f.severity, f.subject, f.basis) for f in found]
[('yellow', 'payer:VC-1', ('pay-39',))]
"""

from __future__ import annotations

from bisect import bisect_right, insort
from operator import itemgetter
from typing import Any

from detectors.base import REVIEW, YELLOW, Detector, Event, Finding
from detectors.clock import HOUR
from detectors.evidence import evidence, record_ref
from detectors.registry import Registry
from detectors.scoring import DEFAULTS as SCORER_DEFAULTS
from detectors.scoring import SCORER_PARAMETERS_DOC, Scorer

#: State keys (named in code, one letter on the wire, as the changelog holds them): the
#: payer-purpose's learned model, and the payments waiting for the watermark, in scoring order
#: (event time, event_id). States written before that order was kept have them unordered
#: under "p" (``LEGACY_PENDING``): they are put in order when next touched.
MODEL, PENDING, LEGACY_PENDING = "m", "q", "p"


class PayerAmountOutlier(Detector):
    __doc__ = """Fires: A payment (of ``statuses`` and ``purposes``) whose amount scores at or
    above ``threshold`` against what its payer pays for that purpose (the online scorer), once
    event time has passed it by ``allowed_lateness_hours``. Yellow, to the finance regulator.

    Silent: Amounts within the pair's learned normal, a pair still in its warm-up, a new
    level that holds for ``shift_days`` payments.

    Evidence: The payment (``records``) and what was observed (the score).

    Parameters:
        statuses: which payments are scored and learned.
        purposes: purposes scored; empty: every purpose.
        allowed_lateness_hours: a payment is scored once event time has passed it by this much.
    """ + SCORER_PARAMETERS_DOC

    name = "payer_amount_outlier"
    feeds = frozenset({"payments"})
    key_kind = "payer_purpose"
    logic_version = 1
    stateful = True
    renamed = {"lateness_hours": "allowed_lateness_hours"}
    defaults = {
        **SCORER_DEFAULTS,
        # Payments have no weekly season; one payment is judged on its own (no CUSUM of
        # small rises), with a stricter z than daily purchases: there are many more of them.
        "period": 1,
        "warmup": 20,
        "min_obs": 20,
        "cooldown": 0,
        "z_half": 6.0,
        "cusum_h": 0.0,
        #: Which payments are scored and learned (both by default).
        "statuses": ("requested", "executed"),
        #: Purposes scored; empty: every purpose.
        "purposes": (),
        #: A payment is scored once event time has passed it by this much.
        "allowed_lateness_hours": 1.0,
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.scorer = Scorer(**{name: self.params[name] for name in SCORER_DEFAULTS})
        self.lateness_s = self.params["allowed_lateness_hours"] * HOUR

    def key(self, event: Event) -> str | None:
        record = event.record
        if record["status"] not in self.params["statuses"]:
            return None
        purposes = self.params["purposes"]
        if purposes and record["purpose"] not in purposes:
            return None
        return f"{record['payer_id']}|{record['purpose']}"

    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        # The model is only read here (advance copies it to update it): only the list of
        # pending payments is copied (not its items, never changed), not the model.
        new = ({MODEL: state[MODEL], PENDING: _pending(state)} if state is not None
               else {MODEL: self.scorer.new_state(), PENDING: []})
        record = event.record
        # What scoring and the evidence need, no more (payer and purpose are the key's): the
        # whole list is written with the key's state after every batch.
        insort(new[PENDING],
               [event.ts, event.event_id, record["amount"], event.time, record["status"],
                record["payee_id"], record["region"]],
               key=_ORDER)
        return new, []

    def retention_s(self) -> float:
        # A payment behind the watermark by more than the lateness would be scored after
        # later ones: the learned normal would depend on arrival. It is late (counted).
        return self.lateness_s

    def due(self, state: Any) -> float | None:
        pending = state.get(PENDING)
        if pending is None:  # written before pending payments were kept in order
            pending = state[LEGACY_PENDING]
            return min(map(_TS, pending)) + self.lateness_s if pending else None
        return pending[0][0] + self.lateness_s if pending else None

    def advance(
        self, key: str, state: Any, watermark: float, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        pending = _pending(state)
        # Ready: a prefix of the ordered payments (those the watermark has passed by the
        # lateness). Items are never changed, so the rest is shared, not copied.
        lateness = self.lateness_s
        cut = bisect_right(pending, watermark, key=lambda item: item[0] + lateness)
        ready = pending[:cut]
        model = list(state[MODEL])  # the scorer updates the model in place
        new = {MODEL: model, PENDING: pending[cut:]}
        findings = []
        for item in ready:
            amount = float(item[2])
            step = self.scorer.update(model, amount, 0 if model[0] is None else model[0] + 1)
            if step.alert:
                findings.append(self._finding(key, item, amount, step, model[1]))
        return new, findings

    def _finding(self, key: str, item: list[Any], amount: float, step: Any,
                 seen: int) -> Finding:
        payer, _, purpose = key.rpartition("|")
        if len(item) == 5:  # kept with its evidence entry by an earlier release
            _, event_id, _, time, ref = item
        else:
            _, event_id, raw_amount, time, status, payee, region = item
            ref = record_ref("payments", event_id, time, {
                "status": status, "payer_id": payer, "payee_id": payee, "purpose": purpose,
                "amount": raw_amount, "region": region})
        expected = step.expected
        ratio = amount / expected if expected > 0 else float("inf")
        p = self.params
        status = ref["fields"].get("status", "")
        return self.finding(
            subject=f"payer:{payer}",
            severity=YELLOW,
            route="regulator",
            sector="finance",
            action=REVIEW,
            score=step.score,
            summary=(
                f"{purpose} payment {event_id} of {amount:g} yuan ({status}) by {payer} is "
                f"{ratio:.1f} times its usual {expected:.0f} yuan for that purpose "
                f"(score {step.score:.2f})"
            ),
            time=time,
            basis=(event_id,),
            evidence=evidence(
                records=[ref],
                registry_links=[],
                observed=f"{amount:g} yuan",
                threshold=(
                    f"score >= {p['threshold']} (score 0.5 at {p['z_half']:g} robust "
                    f"standard deviations of the log amount above the payer's normal for "
                    f"{purpose})"
                ),
                amount=amount,
                expected_amount=round(expected, 2),
                z=round(step.z, 3),
                payments_seen=seen,
            ),
        )


#: A pending payment's event time, and its place in scoring order.
_TS, _ORDER = itemgetter(0), itemgetter(0, 1)


def _pending(state: dict[str, Any]) -> list[Any]:
    """A new list of the state's pending payments, in scoring order."""
    pending = state.get(PENDING)
    if pending is None:
        return sorted(state[LEGACY_PENDING], key=_ORDER)
    return list(pending)
