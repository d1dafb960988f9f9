"""A seeded, realistic feed: the registry and all four event feeds, with each implemented
detector's cases (and their near misses) mixed into plenty of normal traffic.

``Simulation`` is pure (no I/O): the same seed and sizes give the same records in the same order,
so the stream to Kafka, the files for replay and the labels of what was injected all agree.
Upstream realities are part of the mix: keys that differ between producers, records a little out
of order, retried (duplicate) records and malformed ones.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

# Zhejiang county codes: Yongkang, Yuhang, Liandu (Lishui), Yuecheng (Shaoxing), Jiande, Anji.
REGIONS = ("330784", "330110", "331102", "330602", "330182", "330523")
START = "2026-05-04T08:00:00+08:00"


@dataclass(frozen=True, slots=True)
class Record:
    """One record for a topic: logical feed, key bytes (or None) and value bytes."""

    feed: str
    key: bytes | None
    value: bytes | None


@dataclass
class Simulation:
    seed: int = 7
    events: int = 10_000
    people: int = 2_000
    villages_per_region: int = 8
    start: str = START
    #: Mean event-time step between records, seconds (a day's feed for ~3,000 events).
    step_s: float = 30.0
    case_rate: float = 0.003
    near_miss_rate: float = 0.006
    duplicate_rate: float = 0.005
    malformed_rate: float = 0.002
    counts: Counter[str] = field(default_factory=Counter)
    #: Expected findings: {detector, subject, event_id, time, severity, action}.
    labels: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(f"world-{self.seed}")
        self.t0 = datetime.fromisoformat(self.start)
        self.villages = [f"VC-{r}-{i:03d}" for r in REGIONS
                         for i in range(self.villages_per_region)]
        self.region_of = {v: v.split("-")[1] for v in self.villages}
        n = self.people
        ids = [f"P-{i:07d}" for i in range(n)]
        self.cadres: list[tuple[str, str]] = []  # (person, village) current
        self.former: list[tuple[str, str]] = []  # (person, village) office ended
        self.officials: list[tuple[str, str]] = []
        self.ordinary: list[tuple[str, str]] = []  # (person, home village), no office anywhere
        self._people: list[dict[str, Any]] = []
        for i, pid in enumerate(ids):
            village = self.villages[i % len(self.villages)]
            region = self.region_of[village]
            roles: list[dict[str, Any]] = []
            share = rng.random()
            if share < 0.04:
                roles.append({"role": "village_cadre", "org_id": village, "region": region,
                              "start": "2021-01-01"})
                self.cadres.append((pid, village))
            elif share < 0.06:
                roles.append({"role": "village_cadre", "org_id": village, "region": region,
                              "start": "2018-01-01", "end": "2025-12-31"})
                self.former.append((pid, village))
            elif share < 0.07:
                roles.append({"role": "public_official", "org_id": village, "region": region,
                              "start": "2022-03-01"})
                self.officials.append((pid, village))
            else:
                self.ordinary.append((pid, village))
            self._people.append({
                "record_type": "person", "person_id": pid, "name": f"Person {i}",
                "roles": roles, "relatives": [], "integrity_flags": [],
            })
        self.hospitals = [f"H-{r}-{i}" for r in REGIONS for i in range(2)]
        self.drugs = [f"XB{i:05d}" for i in range(40)]
        self.projects = [f"PRJ-{r}-{i:04d}" for r in REGIONS for i in range(10)]
        self.companies = [f"C-{i:05d}" for i in range(60)]

    # -- the registry ----------------------------------------------------------------------
    def registry(self) -> Iterator[Record]:
        for person in self._people:
            yield Record("registry", person["person_id"].encode(), orjson.dumps(person))
        rng = random.Random(f"companies-{self.seed}")
        for i, cid in enumerate(self.companies):
            owner = self.ordinary[rng.randrange(len(self.ordinary))][0]
            company = {"record_type": "company", "company_id": cid, "name": f"Company {i}",
                       "legal_rep_id": owner, "shareholder_ids": [owner],
                       "region": REGIONS[i % len(REGIONS)]}
            yield Record("registry", cid.encode(), orjson.dumps(company))

    # -- the event feeds --------------------------------------------------------------------
    def stream(self) -> Iterator[Record]:
        rng = random.Random(f"events-{self.seed}")
        recent: list[Record] = []
        for i in range(self.events):
            ts = self.t0 + timedelta(seconds=i * self.step_s - rng.uniform(0, 600))
            roll = rng.random()
            good = True
            if roll < self.malformed_rate:
                record = self._malformed(rng, i, ts)
                self.counts["malformed"] += 1
                good = False
            elif roll < self.malformed_rate + self.duplicate_rate and recent:
                original = recent[rng.randrange(len(recent))]
                record = Record(original.feed, _key(rng, None), original.value)
                self.counts["duplicate"] += 1
                good = False
            elif roll < self.malformed_rate + self.duplicate_rate + self.case_rate:
                record = self._case(rng, i, ts)
            elif roll < (self.malformed_rate + self.duplicate_rate + self.case_rate
                         + self.near_miss_rate):
                record = self._near_miss(rng, i, ts)
            else:
                record = self._normal(rng, i, ts)
            if good and len(recent) < 512:
                recent.append(record)
            elif good and rng.random() < 0.1:
                recent[rng.randrange(len(recent))] = record
            yield record

    def _base(self, i: int, ts: datetime, region: str, prefix: str) -> dict[str, Any]:
        return {"event_id": f"{prefix}-{self.seed}-{i:09d}",
                "event_time": ts.isoformat(timespec="seconds"), "region": region}

    def _payment(self, i: int, ts: datetime, payer: str, payee: str, purpose: str,
                 status: str, amount: float) -> dict[str, Any]:
        record = self._base(i, ts, self.region_of[payer], "pay")
        record.update({"status": status, "payer_id": payer, "payee_id": payee,
                       "payee_kind": "person", "purpose": purpose, "amount": amount})
        return record

    def _case(self, rng: random.Random, i: int, ts: datetime) -> Record:
        person, village = rng.choice(self.cadres + self.officials)
        status = rng.choice(("requested", "executed"))
        record = self._payment(i, ts, village, person, "work_subsidy", status,
                               round(rng.uniform(200, 3000), 2))
        self.counts["case:ineligible_subsidy_payee"] += 1
        self.labels.append({
            "detector": "ineligible_subsidy_payee", "subject": f"person:{person}",
            "event_id": record["event_id"], "time": record["event_time"], "severity": "red",
            "action": "hold" if status == "requested" else "review",
        })
        return Record("payments", _key(rng, record), orjson.dumps(record))

    def _near_miss(self, rng: random.Random, i: int, ts: datetime) -> Record:
        kind = rng.randrange(3)
        if kind == 0:  # a former cadre: office ended before the payment
            person, village = rng.choice(self.former)
            record = self._payment(i, ts, village, person, "work_subsidy", "requested", 800.0)
            self.counts["near_miss:former_cadre"] += 1
        elif kind == 1:  # a current cadre, but a welfare (not work) subsidy
            person, village = rng.choice(self.cadres)
            record = self._payment(i, ts, village, person, "welfare_subsidy", "executed", 300.0)
            self.counts["near_miss:not_work_subsidy"] += 1
        else:  # a cadre of another village paid by this one
            person, village = rng.choice(self.cadres)
            other = rng.choice([v for v in self.villages if v != village])
            record = self._payment(i, ts, other, person, "work_subsidy", "executed", 500.0)
            self.counts["near_miss:other_body"] += 1
        return Record("payments", _key(rng, record), orjson.dumps(record))

    def _normal(self, rng: random.Random, i: int, ts: datetime) -> Record:
        roll = rng.random()
        if roll < 0.40:
            project = rng.choice(self.projects)
            person, _ = rng.choice(self.ordinary)
            record = self._base(i, ts, project.split("-")[1], "att")
            record.update({"kind": rng.choice(("check_in", "check_out")), "project_id": project,
                           "site_id": f"S-{project}", "person_id": person,
                           "company_id": rng.choice(self.companies)})
            feed = "attendance"
        elif roll < 0.65:
            payer = rng.choice(self.villages)
            person, _ = rng.choice(self.ordinary)
            purpose = rng.choices(("work_subsidy", "welfare_subsidy", "wages", "materials",
                                   "services", "other"), (4, 3, 2, 1, 1, 1))[0]
            record = self._payment(i, ts, payer, person, purpose,
                                   rng.choice(("requested", "executed")),
                                   round(rng.lognormvariate(7, 0.6), 2))
            feed = "payments"
        elif roll < 0.90:
            hospital = rng.choice(self.hospitals)
            record = self._base(i, ts, hospital.split("-")[1], "rx")
            if rng.random() < 0.2:
                record.update({"kind": "purchase", "hospital_id": hospital,
                               "drug_code": rng.choice(self.drugs),
                               "quantity": rng.randint(50, 500), "unit_price": 12.5,
                               "supplier_id": rng.choice(self.companies)})
            else:
                record.update({"kind": "prescription", "hospital_id": hospital,
                               "drug_code": rng.choice(self.drugs),
                               "quantity": rng.randint(1, 5),
                               "doctor_id": f"D-{hospital}-{rng.randrange(30):02d}",
                               "patient_ref": f"pt-{rng.randrange(10**8):08d}"})
            feed = "prescriptions"
        else:
            project = rng.choice(self.projects)
            record = self._base(i, ts, project.split("-")[1], "bid")
            record.update({"stage": "bid", "project_id": project,
                           "buyer_id": rng.choice(self.villages),
                           "category": rng.choice(("works", "goods", "services")),
                           "amount": round(rng.uniform(1e5, 1e6), 2),
                           "bidder_id": rng.choice(self.companies)})
            feed = "bids"
        return Record(feed, _key(rng, record), orjson.dumps(record))

    def _malformed(self, rng: random.Random, i: int, ts: datetime) -> Record:
        feed = rng.choice(("bids", "attendance", "prescriptions", "payments"))
        kind = rng.randrange(4)
        if kind == 0:
            value = b"<xml>not json</xml>"
        elif kind == 1:
            value = orjson.dumps(self._base(i, ts, "330784", "bad"))[:-7]  # truncated
        elif kind == 2:  # a payment with no amount
            record = self._payment(i, ts, self.villages[0], self.ordinary[0][0], "wages",
                                   "executed", 1.0)
            del record["amount"]
            value, feed = orjson.dumps(record), "payments"
        else:  # a local time with no offset
            record = self._payment(i, ts, self.villages[0], self.ordinary[0][0], "wages",
                                   "executed", 1.0)
            record["event_time"] = ts.strftime("%Y-%m-%d %H:%M:%S")
            value, feed = orjson.dumps(record), "payments"
        return Record(feed, None, value)

    def summary(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))


def _key(rng: random.Random, record: dict[str, Any] | None) -> bytes | None:
    """Upstream systems key as they please: by project, by event, by a random id, or not at all."""
    roll = rng.random()
    if record is None or roll < 0.3:
        return None
    if roll < 0.6:
        return str(record.get("project_id") or record.get("payer_id") or "").encode() or None
    if roll < 0.8:
        return record["event_id"].encode()
    return f"k{rng.randrange(10**6)}".encode()
