"""Payment scenarios: subsidies to people who must not receive them."""

from __future__ import annotations

import random
from datetime import datetime

from stream.scenarios.base import Emit, Scenario
from stream.world import World


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
