"""Payment scenarios: subsidies to people who must not receive them."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from stream.simulator.scenarios.base import Emit, Scenario
from stream.simulator.world import REGIONS, World


def ineligible_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    person, village = rng.choice(world.cadres + world.officials)
    status = rng.choice(("requested", "executed"))
    record = world.payment(f"pay-{n}", ts, village, person, "work_subsidy", status,
                           round(rng.uniform(200, 3000), 2))
    label = {"detector": "ineligible_subsidy_payee", "subject": f"person:{person}",
             "event_id": record["event_id"], "time": record["event_time"], "severity": "red",
             "action": "hold" if status == "requested" else "review"}
    return [Emit(ts, "payments", record, label, "case:ineligible_subsidy_payee")]


def ineligible_near_miss(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    kind = rng.randrange(3)
    if kind == 0:  # a former cadre: office ended before the payment
        person, village = rng.choice(world.former)
        record = world.payment(f"pay-{n}", ts, village, person, "work_subsidy", "requested", 800.0)
        count = "near_miss:ineligible_subsidy_payee:former_cadre"
    elif kind == 1:  # a current cadre, but a welfare (not work) subsidy
        person, village = rng.choice(world.cadres)
        record = world.payment(f"pay-{n}", ts, village, person, "welfare_subsidy", "executed",
                               300.0)
        count = "near_miss:ineligible_subsidy_payee:not_work_subsidy"
    else:  # a cadre of another village paid by this one
        person, village = rng.choice(world.cadres)
        other = rng.choice([v for v in world.villages if v != village])
        record = world.payment(f"pay-{n}", ts, other, person, "work_subsidy", "executed", 500.0)
        count = "near_miss:ineligible_subsidy_payee:other_body"
    return [Emit(ts, "payments", record, None, count)]


SCENARIOS = [Scenario("ineligible_subsidy_payee", ineligible_case, ineligible_near_miss)]


def deceased_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    person, village = world.next_of("deceased", world.deceased)
    status = rng.choice(("requested", "executed"))
    record = world.payment(f"pay-{n}", ts, village, person, "welfare_subsidy", status, 420.0)
    label = {"detector": "deceased_recipient", "subject": f"person:{person}",
             "time": record["event_time"], "severity": "yellow",
             "action": "hold" if status == "requested" else "review"}
    return [Emit(ts, "payments", record, label, "case:deceased_recipient")]


def deceased_near_miss(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    person, village = world.next_of("deceased_later", world.deceased_later)
    record = world.payment(f"pay-{n}", ts, village, person, "welfare_subsidy", "executed", 420.0)
    return [Emit(ts, "payments", record, None, "near_miss:deceased_recipient:died_after")]


def two_regions_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    person = world.next_of("multi_region", world.multi_region)
    first, second = rng.sample(REGIONS, 2)
    payer_a = f"VC-{first}-{rng.randrange(8):03d}"
    payer_b = f"VC-{second}-{rng.randrange(8):03d}"
    later = ts + timedelta(days=rng.uniform(1, 25))
    a = world.payment(f"pay-{n}-a", ts, payer_a, person, "welfare_subsidy", "executed", 310.0)
    b = world.payment(f"pay-{n}-b", later, payer_b, person, "welfare_subsidy", "executed", 310.0)
    label = {"detector": "duplicate_subsidy_regions", "subject": f"person:{person}",
             "time": b["event_time"], "severity": "yellow", "action": "review"}
    return [Emit(ts, "payments", a), Emit(later, "payments", b, label,
                                          "case:duplicate_subsidy_regions")]


def two_regions_near_miss(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    person = world.next_of("same_region", world.same_region)
    region = rng.choice(REGIONS)
    later = ts + timedelta(days=rng.uniform(1, 25))
    a = world.payment(f"pay-{n}-a", ts, f"VC-{region}-000", person, "welfare_subsidy",
                      "executed", 310.0)
    b = world.payment(f"pay-{n}-b", later, f"VC-{region}-001", person, "welfare_subsidy",
                      "executed", 310.0)
    return [Emit(ts, "payments", a),
            Emit(later, "payments", b, None, "near_miss:duplicate_subsidy_regions:one_region")]


def injury_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    person = world.next_of("claimants", world.claimants)
    project = rng.choice(world.projects)
    region = project.split("-")[1]
    record = world.payment(f"pay-{n}", ts, f"SI-{region}", person, "injury_insurance",
                           "executed", round(rng.uniform(8000, 90000), 2), project_id=project)
    label = {"detector": "injury_claim_without_attendance", "subject": f"person:{person}",
             "time": record["event_time"], "severity": "yellow", "action": "review"}
    return [Emit(ts, "payments", record, label, "case:injury_claim_without_attendance")]


def injury_near_miss(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    person = world.next_of("claimants", world.claimants)
    project = rng.choice(world.projects)
    region = project.split("-")[1]
    emits = []
    for d in (12, 9, 6):  # on site in the weeks before the injury
        at = ts - timedelta(days=d)
        check_in = world.base(f"att-{n}-{d}", at, region)
        check_in.update({"kind": "check_in", "project_id": project, "site_id": f"S-{project}",
                         "person_id": person, "company_id": world.plain_companies[0]})
        emits.append(Emit(ts, "attendance", check_in))
    record = world.payment(f"pay-{n}", ts + timedelta(minutes=5), f"SI-{region}", person,
                           "injury_insurance", "executed", 12000.0, project_id=project)
    emits.append(Emit(ts + timedelta(minutes=5), "payments", record, None,
                      "near_miss:injury_claim_without_attendance:was_on_site"))
    return emits


SCENARIOS += [
    Scenario("deceased_recipient", deceased_case, deceased_near_miss),
    Scenario("duplicate_subsidy_regions", two_regions_case, two_regions_near_miss,
             span_days=26.0),
    Scenario("injury_claim_without_attendance", injury_case, injury_near_miss, span_days=3.0),
]
