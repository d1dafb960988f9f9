"""The simulated province: villages, people (with offices), companies, hospitals, projects, and
the normal traffic of each feed. Scenarios draw their actors from here."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Emit:
    """A record to release at event time ``at``; ``label`` is the finding it should cause (on
    the record that completes a case), ``count`` the counter it adds to (e.g. ``case:x``)."""

    at: datetime
    feed: str
    record: dict[str, Any]
    label: dict[str, Any] | None = None
    count: str | None = None


# Zhejiang county codes: Yongkang, Yuhang, Liandu (Lishui), Yuecheng (Shaoxing), Jiande, Anji.
REGIONS = ("330784", "330110", "331102", "330602", "330182", "330523")


class World:
    def __init__(self, seed: int = 7, people: int = 2_000, villages_per_region: int = 8) -> None:
        rng = random.Random(f"world-{seed}")
        self.villages = [f"VC-{r}-{i:03d}" for r in REGIONS for i in range(villages_per_region)]
        self.region_of = {v: v.split("-")[1] for v in self.villages}
        #: (person, village) pools; "ordinary" people hold no office anywhere.
        self.cadres: list[tuple[str, str]] = []
        self.former: list[tuple[str, str]] = []
        self.officials: list[tuple[str, str]] = []
        self.ordinary: list[tuple[str, str]] = []
        self.people: dict[str, dict[str, Any]] = {}
        self.companies: dict[str, dict[str, Any]] = {}
        for i in range(people):
            pid = f"P-{i:07d}"
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
            self.people[pid] = {"record_type": "person", "person_id": pid, "name": f"Person {i}",
                                "roles": roles, "relatives": [], "integrity_flags": []}
        self.plain_companies = []
        for i in range(60):
            cid = f"C-{i:05d}"
            owner = self.ordinary[rng.randrange(len(self.ordinary))][0]
            self.companies[cid] = {"record_type": "company", "company_id": cid,
                                   "name": f"Company {i}", "legal_rep_id": owner,
                                   "shareholder_ids": [owner], "region": REGIONS[i % 6]}
            self.plain_companies.append(cid)
        self.hospitals = [f"H-{r}-{i}" for r in REGIONS for i in range(2)]
        self.drugs = [f"XB{i:05d}" for i in range(40)]
        self.projects = [f"PRJ-{r}-{i:04d}" for r in REGIONS for i in range(10)]
        #: Ordinary people by home village: normal payments go to the payer's own villagers.
        self.residents: dict[str, list[str]] = {v: [] for v in self.villages}
        for pid, village in self.ordinary:
            self.residents[village].append(pid)
        self._payment_pools(seed)
        self._procurement_pools(seed)
        self._health_pools(seed)

    def _payment_pools(self, seed: int) -> None:
        """People only the payment scenarios use (normal traffic never pays them)."""
        rng = random.Random(f"payment-pools-{seed}")
        self.deceased: list[tuple[str, str]] = []        # died before the simulated payments
        self.deceased_later: list[tuple[str, str]] = []  # died after them (near misses)
        self.multi_region: list[str] = []   # paid by two regions in one case each
        self.same_region: list[str] = []    # paid twice by one region (near misses)
        self.claimants: list[str] = []      # injury claimants
        self.cursor: dict[str, int] = {}
        for i in range(60):
            pid, village = f"P-D{i:05d}", self.villages[rng.randrange(len(self.villages))]
            died = (f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}" if i < 30
                    else f"2026-{rng.randint(9, 11):02d}-{rng.randint(1, 28):02d}")
            (self.deceased if i < 30 else self.deceased_later).append((pid, village))
            self.people[pid] = {"record_type": "person", "person_id": pid, "roles": [],
                                "relatives": [], "integrity_flags": [], "deceased_on": died}
        for pool, prefix in ((self.multi_region, "P-M"), (self.same_region, "P-S"),
                             (self.claimants, "P-I")):
            for i in range(200):
                pid = f"{prefix}{i:05d}"
                pool.append(pid)
                self.people[pid] = {"record_type": "person", "person_id": pid, "roles": [],
                                    "relatives": [], "integrity_flags": []}

    def _procurement_pools(self, seed: int) -> None:
        """Companies and people only the procurement scenarios use (normal traffic never bids
        with, pays or checks in as them). New records only: existing people are not changed."""
        rng = random.Random(f"procurement-pools-{seed}")
        holders = self.cadres + self.officials
        #: (company, village): an owner is, or is a relative of, a current office holder there.
        self.cadre_linked: list[tuple[str, str]] = []
        #: (company, village): the legal rep was a cadre there, but left office before 2026.
        self.former_linked: list[tuple[str, str]] = []
        #: (winner, supplier): two companies with the same legal representative.
        self.sister_companies: list[tuple[str, str]] = []
        #: Contractors' key personnel (technical leads), one per case.
        self.site_leads: list[str] = []

        def person(pid: str, relatives: list[str] | None = None) -> str:
            self.people[pid] = {"record_type": "person", "person_id": pid, "roles": [],
                                "relatives": relatives or [], "integrity_flags": []}
            return pid

        def company(cid: str, rep: str, shareholders: list[str], region: str) -> str:
            self.companies[cid] = {"record_type": "company", "company_id": cid,
                                   "name": f"Company {cid}", "legal_rep_id": rep,
                                   "shareholder_ids": shareholders, "region": region}
            return cid

        for i in range(60 if holders else 0):
            holder, village = holders[rng.randrange(len(holders))]
            region = self.region_of[village]
            how = i % 3
            if how == 0:    # the office holder is the legal representative
                rep, shareholders = holder, [holder]
            elif how == 1:  # a front man runs it; the office holder is a shareholder
                rep = person(f"P-PF{i:05d}")
                shareholders = [rep, holder]
            else:           # the office holder's relative runs and owns it
                rep = person(f"P-PR{i:05d}", relatives=[holder])
                shareholders = [rep]
            cid = company(f"C-PL{i:04d}", rep, shareholders, region)
            self.cadre_linked.append((cid, village))
        for i in range(30 if self.former else 0):
            holder, village = self.former[rng.randrange(len(self.former))]
            cid = company(f"C-PX{i:04d}", holder, [holder], self.region_of[village])
            self.former_linked.append((cid, village))
        for i in range(60):
            owner = person(f"P-PO{i:05d}")
            region = REGIONS[rng.randrange(len(REGIONS))]
            winner = company(f"C-PW{i:04d}", owner, [owner], region)
            supplier = company(f"C-PS{i:04d}", owner, [owner], region)
            self.sister_companies.append((winner, supplier))
        for i in range(400):
            self.site_leads.append(person(f"P-PK{i:05d}"))

    def _health_pools(self, seed: int) -> None:
        """Hospitals and their doctors only the health scenarios use (normal traffic never buys
        or prescribes there): ten doctors each, the first two with an integrity record."""
        rng = random.Random(f"health-pools-{seed}")
        self.case_hospitals = [f"H-{r}-S{i}" for r in REGIONS for i in range(2)]
        #: hospital -> its doctors (person ids); doctors[h][:2] have integrity_flags.
        self.doctors: dict[str, list[str]] = {}
        records = ("2023: accepted gifts from a drug supplier (warning)",
                   "2024: paid speaker fees by a supplier, undeclared (criticised)",
                   "2022: prescriptions above the hospital's limits (admonished)")
        for h, hospital in enumerate(self.case_hospitals):
            region = hospital.split("-")[1]
            staff = []
            for j in range(10):
                pid = f"P-DR{h:02d}{j:02d}"
                start = f"{rng.randint(2005, 2021)}-{rng.randint(1, 12):02d}-01"
                self.people[pid] = {
                    "record_type": "person", "person_id": pid, "name": f"Doctor {h}-{j}",
                    "roles": [{"role": "doctor", "org_id": hospital, "region": region,
                               "start": start}],
                    "relatives": [], "integrity_flags": [rng.choice(records)] if j < 2 else [],
                }
                staff.append(pid)
            self.doctors[hospital] = staff

    def next_of(self, pool: str, items: list[Any]) -> Any:
        """The next unused member of a pool, so two cases never share an actor."""
        index = self.cursor.get(pool, 0)
        self.cursor[pool] = index + 1
        return items[index % len(items)]

    def registry_records(self) -> list[dict[str, Any]]:
        return [*self.people.values(), *self.companies.values()]

    @staticmethod
    def base(event_id: str, ts: datetime, region: str) -> dict[str, Any]:
        return {"event_id": event_id, "event_time": ts.isoformat(timespec="seconds"),
                "region": region}

    def payment(self, event_id: str, ts: datetime, payer: str, payee: str, purpose: str,
                status: str, amount: float, **extra: Any) -> dict[str, Any]:
        record = self.base(event_id, ts, self.region_of.get(payer, payer.split("-")[1]))
        record.update({"status": status, "payer_id": payer, "payee_id": payee,
                       "payee_kind": "person", "purpose": purpose, "amount": amount, **extra})
        return record

    def normal(self, rng: random.Random, n: str, ts: datetime) -> Emit:
        """One record of ordinary traffic, which no detector may alert on."""
        roll = rng.random()
        if roll < 0.40:
            project = rng.choice(self.projects)
            person, _ = rng.choice(self.ordinary)
            record = self.base(f"att-{n}", ts, project.split("-")[1])
            record.update({"kind": rng.choice(("check_in", "check_out")), "project_id": project,
                           "site_id": f"S-{project}", "person_id": person,
                           "company_id": rng.choice(self.plain_companies)})
            return Emit(ts, "attendance", record)
        if roll < 0.65:
            payer = rng.choice(self.villages)
            person = rng.choice(self.residents[payer])
            purpose = rng.choices(("work_subsidy", "welfare_subsidy", "wages", "materials",
                                   "services", "other"), (4, 3, 2, 1, 1, 1))[0]
            record = self.payment(f"pay-{n}", ts, payer, person, purpose,
                                  rng.choice(("requested", "executed")),
                                  round(rng.lognormvariate(7, 0.6), 2))
            return Emit(ts, "payments", record)
        if roll < 0.90:
            hospital = rng.choice(self.hospitals)
            record = self.base(f"rx-{n}", ts, hospital.split("-")[1])
            if rng.random() < 0.2:
                record.update({"kind": "purchase", "hospital_id": hospital,
                               "drug_code": rng.choice(self.drugs),
                               "quantity": rng.randint(50, 500), "unit_price": 12.5,
                               "supplier_id": rng.choice(self.plain_companies)})
            else:
                record.update({"kind": "prescription", "hospital_id": hospital,
                               "drug_code": rng.choice(self.drugs),
                               "quantity": rng.randint(1, 5),
                               "doctor_id": f"D-{hospital}-{rng.randrange(30):02d}",
                               "patient_ref": f"pt-{rng.randrange(10**8):08d}"})
            return Emit(ts, "prescriptions", record)
        project = rng.choice(self.projects)
        record = self.base(f"bid-{n}", ts, project.split("-")[1])
        record.update({"stage": "bid", "project_id": project,
                       "buyer_id": rng.choice(self.villages),
                       "category": rng.choice(("works", "goods", "services")),
                       "amount": round(rng.uniform(1e5, 1e6), 2),
                       "bidder_id": rng.choice(self.plain_companies)})
        return Emit(ts, "bids", record)
