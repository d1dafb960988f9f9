"""Health and online-ML scenarios: drug purchase spikes, the prescriptions that follow them,
payments out of line with their payer's normal, and the escalation of two yellow warnings.

Every case buys a drug code of its own (``XS<n>``) at one of the world's case hospitals, or is
paid by a payer of its own (``FIN-<region>-<n>``): normal traffic never touches these series,
so a case's history is exactly what the scenario wrote. A hospital-drug's learned normal needs
weeks of days: they are written in the past of the case's start (one purchase a day for 24
days), a backfill that arrives at once, late, and out of order once read from several input
partitions; the detector keeps a series' first weeks and puts late days in order, so the model
is the one the days in order give. What a case is judged on lies in the future of its start
and is judged once event time has passed it: the spike day (tomorrow), the prescriptions (the
day after). A payer's normal needs payments, not days: they are written from the case's
start, twenty minutes apart (22 of them), and the outlier a few hours after the last.

The labels are the alerts the chain produces: ``drug_purchase_spike`` (yellow, time of the
spike day's purchase), then from that alert ``prescriber_concentration`` (time of the last
prescription of the day the concentration held: red when one of the two doctors has an
integrity record, else yellow), then from two yellows ``escalation`` (red, time of the later
yellow).
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from typing import Any

from detectors.drug_purchase_spike import SUBJECT_PREFIX
from stream.simulator.scenarios.base import Emit, Scenario
from stream.simulator.world import World

#: Weekday multipliers of a hospital's daily purchase (Monday first): quiet weekends.
WEEKLY = (1.0, 1.05, 0.95, 1.0, 1.1, 0.45, 0.35)
HISTORY_DAYS = 24


def _at(ts: datetime, days: int, hour: int, minute: int = 0) -> datetime:
    """``days`` after ``ts``'s calendar day, at ``hour:minute`` local time."""
    return datetime.combine(ts.date() + timedelta(days=days), time(hour, minute), ts.tzinfo)


def _purchase(world: World, event_id: str, at: datetime, hospital: str, drug: str,
              quantity: int) -> dict[str, Any]:
    record = world.base(event_id, at, hospital.split("-")[1])
    record.update({"kind": "purchase", "hospital_id": hospital, "drug_code": drug,
                   "quantity": quantity, "unit_price": 12.5,
                   "supplier_id": world.plain_companies[sum(map(ord, drug)) % 60]})
    return record


def _prescription(world: World, event_id: str, at: datetime, hospital: str, drug: str,
                  doctor: str, rng: random.Random) -> dict[str, Any]:
    record = world.base(event_id, at, hospital.split("-")[1])
    record.update({"kind": "prescription", "hospital_id": hospital, "drug_code": drug,
                   "quantity": rng.randint(1, 4), "doctor_id": doctor,
                   "patient_ref": f"pt-{rng.randrange(10**8):08d}"})
    return record


def _label(detector: str, subject: str, when: str, severity: str) -> dict[str, Any]:
    return {"detector": detector, "subject": subject, "time": when, "severity": severity,
            "action": "review"}


class Pair:
    """One hospital-drug series of a case: its history, and days of purchases after it."""

    def __init__(self, world: World, rng: random.Random, n: str) -> None:
        self.world, self.rng, self.n = world, rng, n
        self.hospital = rng.choice(world.case_hospitals)
        self.drug = f"XS{n}"
        self.base = rng.uniform(80, 600)
        self.subject = f"{SUBJECT_PREFIX}{self.hospital}|{self.drug}"

    def usual(self, at: datetime) -> float:
        return self.base * WEEKLY[at.weekday()]

    def buy(self, at: datetime, quantity: float, tag: str) -> dict[str, Any]:
        return _purchase(self.world, f"pur-{self.n}-{tag}", at, self.hospital, self.drug,
                         max(1, round(quantity)))

    def history(self, ts: datetime, days: int = HISTORY_DAYS) -> list[Emit]:
        """One purchase a day for ``days`` days before ``ts``'s day (noise ~6%)."""
        out = []
        for k in range(days, 0, -1):
            at = _at(ts, -k, self.rng.randint(9, 16), self.rng.randrange(60))
            qty = self.usual(at) * self.rng.lognormvariate(0.0, 0.06)
            out.append(Emit(at, "prescriptions", self.buy(at, qty, f"h{k}")))
        return out

    def spike(self, at: datetime, tag: str = "s") -> Emit:
        record = self.buy(at, self.usual(at) * self.rng.uniform(6.0, 10.0), tag)
        return Emit(at, "prescriptions", record,
                    _label("drug_purchase_spike", self.subject, record["event_time"], "yellow"),
                    "case:drug_purchase_spike")

    def prescriptions(self, day: datetime, counts: list[tuple[str, int]], tag: str
                      ) -> list[Emit]:
        """``counts`` (doctor, how many) written between 08:00 and 17:30 of ``day``, at
        distinct minutes; the last one is the day's latest."""
        total = sum(k for _, k in counts)
        minutes = sorted(self.rng.sample(range(570), total))
        doctors = [d for d, k in counts for _ in range(k)]
        self.rng.shuffle(doctors)
        out = []
        for i, (minute, doctor) in enumerate(zip(minutes, doctors, strict=True)):
            at = _at(day, 0, 8) + timedelta(minutes=minute)
            record = _prescription(self.world, f"rx-{self.n}-{tag}{i}", at, self.hospital,
                                   self.drug, doctor, self.rng)
            out.append(Emit(at, "prescriptions", record))
        return out

    def doctors(self, flagged: bool) -> tuple[str, str, list[str]]:
        """Two doctors who will write most (the first flagged if asked) and the others."""
        staff = self.world.doctors[self.hospital]
        clean = staff[2:]
        first = self.rng.choice(staff[:2]) if flagged else self.rng.choice(clean)
        second = self.rng.choice([d for d in clean if d != first])
        return first, second, [d for d in clean if d not in (first, second)]


def _concentrated(pair: Pair, total: int, flagged: bool) -> list[tuple[str, int]]:
    """About 45% and 33% of ``total`` by two doctors (neither alone reaches 60%), the rest by
    the others, one or two each."""
    first, second, others = pair.doctors(flagged)
    a, b = round(0.45 * total), round(0.33 * total)
    rest = total - a - b
    counts = [(first, a), (second, b)]
    for i in range(rest):
        counts.append((others[i % len(others)], 1))
    return counts


def _merge(counts: list[tuple[str, int]]) -> list[tuple[str, int]]:
    merged: dict[str, int] = {}
    for doctor, k in counts:
        merged[doctor] = merged.get(doctor, 0) + k
    return list(merged.items())


# -- drug_purchase_spike -------------------------------------------------------------------
def spike_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    pair = Pair(world, rng, n)
    spike_at = _at(ts, 1, rng.randint(10, 15), rng.randrange(60))
    return [*pair.history(ts), pair.spike(spike_at)]


def spike_near_miss(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    pair = Pair(world, rng, n)
    day = _at(ts, 1, rng.randint(10, 15), rng.randrange(60))
    if rng.random() < 0.5:  # a busy day, inside the pair's normal variation
        record = pair.buy(day, pair.usual(day) * 1.25, "v")
        return [*pair.history(ts), Emit(day, "prescriptions", record, None,
                                        "near_miss:drug_purchase_spike:normal_variation")]
    # a real spike, but after 10 days of history: still learning, no alert
    record = pair.buy(day, pair.usual(day) * 6.0, "w")
    return [*pair.history(ts, days=10), Emit(day, "prescriptions", record, None,
                                             "near_miss:drug_purchase_spike:warm_up")]


# -- prescriber_concentration --------------------------------------------------------------
def _chain(world: World, rng: random.Random, n: str, ts: datetime, flagged: bool
           ) -> list[Emit]:
    """A spike, then the next day 21-24 prescriptions of which two doctors wrote ~78%."""
    pair = Pair(world, rng, n)
    spike = pair.spike(_at(ts, 1, rng.randint(10, 15), rng.randrange(60)))
    counts = _merge(_concentrated(pair, rng.randint(21, 24), flagged))
    written = pair.prescriptions(_at(ts, 2, 0), counts, "c")
    last = written[-1]
    severity = "red" if flagged else "yellow"
    written[-1] = Emit(last.at, last.feed, last.record,
                       _label("prescriber_concentration", pair.subject,
                              last.record["event_time"], severity),
                       "case:prescriber_concentration")
    out = [*pair.history(ts), spike, *written]
    if not flagged:  # two yellows from two detectors: the escalation's red, at the later time
        # (carried by the hospital's ordinary purchase a minute after the last prescription)
        at = last.at + timedelta(minutes=1)
        out.append(Emit(at, "prescriptions", pair.buy(at, pair.usual(at), "e"),
                        _label("escalation", pair.subject, last.record["event_time"], "red"),
                        "case:escalation"))
    return out


def concentration_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    return _chain(world, rng, n, ts, flagged=rng.random() < 0.5)


def concentration_near_miss(world: World, rng: random.Random, n: str, ts: datetime
                            ) -> list[Emit]:
    pair = Pair(world, rng, n)
    kind = rng.choice(("no_spike", "below_min", "spread"))
    day = _at(ts, 1, rng.randint(10, 15), rng.randrange(60))
    if kind == "no_spike":  # the same prescribing, but purchases as usual
        first = Emit(day, "prescriptions", pair.buy(day, pair.usual(day), "u"))
        counts = _concentrated(pair, 25, flagged=True)
    elif kind == "below_min":  # a spike, concentrated prescribing, but 15 prescriptions
        first = pair.spike(day)
        counts = _concentrated(pair, 15, flagged=True)
    else:  # a spike and 25 prescriptions, spread over eight doctors
        first = pair.spike(day)
        staff = world.doctors[pair.hospital]
        counts = [(staff[i], 4 if i < 1 else 3) for i in range(8)]
    written = pair.prescriptions(_at(ts, 2, 0), _merge(counts), "c")
    last = written[-1]
    written[-1] = Emit(last.at, last.feed, last.record, None,
                       f"near_miss:prescriber_concentration:{kind}")
    return [*pair.history(ts), first, *written]


# -- escalation ----------------------------------------------------------------------------
def escalation_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    return _chain(world, rng, n, ts, flagged=False)


def escalation_near_miss(world: World, rng: random.Random, n: str, ts: datetime
                         ) -> list[Emit]:
    """Two yellows about one subject, but from the same detector: two spikes ten days apart."""
    pair = Pair(world, rng, n)
    out = [*pair.history(ts)]
    first = _at(ts, 1, rng.randint(10, 15), rng.randrange(60))
    out.append(pair.spike(first, "s1"))
    at = first + timedelta(days=5)  # one ordinary day in between (days without are zeros)
    out.append(Emit(at, "prescriptions", pair.buy(at, pair.usual(at), "a"), None,
                    "near_miss:escalation:same_detector"))
    out.append(pair.spike(first + timedelta(days=10), "s2"))
    return out


# -- payer_amount_outlier ------------------------------------------------------------------
def _payments(world: World, rng: random.Random, n: str, ts: datetime, history: int
              ) -> tuple[str, str, float, datetime, list[Emit]]:
    """A payer of its own and ``history`` payments of one purpose, twenty minutes apart from
    the case's start (an agency settling a batch of invoices): written in time, they are
    scored in event-time order like any payment. Returns the time of the last one."""
    region = rng.choice(world.villages).split("-")[1]
    payer, purpose = f"FIN-{region}-{n}", rng.choice(("materials", "services"))
    base = rng.uniform(800, 20_000)
    out = []
    at = ts
    for k in range(history):
        at = ts + timedelta(minutes=20 * k + rng.randrange(15))
        amount = round(base * rng.lognormvariate(0.0, 0.1), 2)
        record = world.payment(f"pay-{n}-h{k}", at, payer, rng.choice(world.plain_companies),
                               purpose, "executed", amount, payee_kind="company")
        out.append(Emit(at, "payments", record))
    return payer, purpose, base, at, out


def outlier_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    payer, purpose, base, last, out = _payments(world, rng, n, ts, 22)
    at = last + timedelta(minutes=rng.randint(120, 480))
    status = rng.choice(("requested", "executed"))
    record = world.payment(f"pay-{n}-o", at, payer, rng.choice(world.plain_companies), purpose,
                           status, round(base * rng.uniform(8, 15), 2), payee_kind="company")
    label = _label("payer_amount_outlier", f"payer:{payer}", record["event_time"], "yellow")
    return [*out, Emit(at, "payments", record, label, "case:payer_amount_outlier")]


def outlier_near_miss(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    warm = rng.random() < 0.5
    payer, purpose, base, last, out = _payments(world, rng, n, ts, 8 if warm else 22)
    at = last + timedelta(minutes=rng.randint(120, 480))
    factor, kind = (12.0, "warm_up") if warm else (1.4, "normal_variation")
    record = world.payment(f"pay-{n}-o", at, payer, rng.choice(world.plain_companies), purpose,
                           "executed", round(base * factor, 2), payee_kind="company")
    return [*out, Emit(at, "payments", record, None, f"near_miss:payer_amount_outlier:{kind}")]


SCENARIOS = [
    # span: from the case's start to its last judgement (tomorrow's spike judged the day after
    # at noon; the prescriptions' day judged the day after that at noon; +1 day of margin).
    Scenario("drug_purchase_spike", spike_case, spike_near_miss, span_days=3.0),
    Scenario("prescriber_concentration", concentration_case, concentration_near_miss,
             span_days=4.0),
    Scenario("escalation", escalation_case, escalation_near_miss, span_days=13.0),
    Scenario("payer_amount_outlier", outlier_case, outlier_near_miss, span_days=1.5),
]
