"""Procurement and construction scenarios: cadre-linked awards, split labour/materials, absent
key personnel, under-priced leases, shared bid fingerprints and collusive bid prices.

Every project here is new (``PRJ-<region>-<tag><n>``), so normal traffic (which bids on the
world's own projects and never awards) never mixes with a case. A label sits on the record
that completes its finding, i.e. the one released last among those the finding needs, so a
feed cut short never expects an alert whose records were not all sent. A weekly finding of
``key_personnel_absent`` is labelled on a check-in of the same person at exactly the week's end
plus the allowed lateness: the first record of the feed at the week's due time (records are
released in event-time order), so no alert for the week can come before its label. Findings
judged on a watermark (weeks, and ``bid_price_screen`` awards 2 hours on) need the feed to go on
a little past them: a case within that distance of a feed's very end may go unjudged.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from typing import Any

from detectors.key_personnel_absent import KeyPersonnelAbsent
from stream.simulator.scenarios.base import Emit, Scenario
from stream.simulator.world import World

KP = KeyPersonnelAbsent.defaults
#: Materials are bought within this many days of the labour-only award in the cases.
SPLIT_DAYS = 5


def bid(world: World, event_id: str, at: datetime, project: str, buyer: str, stage: str,
        category: str, amount: float, bidder: str | None = None,
        **extra: Any) -> dict[str, Any]:
    record = world.base(event_id, at, world.region_of.get(buyer, project.split("-")[1]))
    record.update({"stage": stage, "project_id": project, "buyer_id": buyer,
                   "category": category, "amount": amount})
    if bidder is not None:
        record["bidder_id"] = bidder
    record.update(extra)
    return record


def label(detector: str, project: str, when: str, severity: str) -> dict[str, Any]:
    return {"detector": detector, "subject": f"project:{project}", "time": when,
            "severity": severity, "action": "review"}


def project_id(buyer: str, tag: str, n: str) -> str:
    return f"PRJ-{buyer.split('-')[1]}-{tag}{n}"


# -- cadre_linked_award -------------------------------------------------------------------
def cadre_award_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    company, village = world.next_of("cadre_linked", world.cadre_linked)
    project = project_id(village, "CL", n)
    amount = round(rng.uniform(1e5, 8e5), 2)
    if rng.random() < 0.7:  # the linked company wins: red
        record = bid(world, f"aw-{n}", ts, project, village, "award", "works", amount, company)
        severity = "red"
    else:                   # it only bids: yellow
        record = bid(world, f"bid-{n}", ts, project, village, "bid", "works", amount, company)
        severity = "yellow"
    return [Emit(ts, "bids", record,
                 label("cadre_linked_award", project, record["event_time"], severity),
                 "case:cadre_linked_award")]


def cadre_award_near_miss(world: World, rng: random.Random, n: str,
                          ts: datetime) -> list[Emit]:
    kind = rng.randrange(3)
    if kind == 0:    # linked to a cadre whose office ended before the award
        company, village = world.next_of("former_linked", world.former_linked)
        buyer, what = village, "former_cadre"
    elif kind == 1:  # linked to an office holder of another village
        company, village = world.next_of("cadre_linked", world.cadre_linked)
        buyer = rng.choice([v for v in world.villages if v != village])
        what = "other_body"
    else:            # an unlinked company
        company, buyer, what = rng.choice(world.plain_companies), rng.choice(world.villages), \
            "unlinked"
    project = project_id(buyer, "CL", n)
    record = bid(world, f"aw-{n}", ts, project, buyer, "award", "works",
                 round(rng.uniform(1e5, 8e5), 2), company)
    return [Emit(ts, "bids", record, None, f"near_miss:cadre_linked_award:{what}")]


# -- split_labour_materials ---------------------------------------------------------------
def materials(world: World, rng: random.Random, n: str, at: datetime, project: str,
              payer: str, supplier: str, as_award: bool) -> tuple[str, dict[str, Any]]:
    """A materials purchase for ``project``: a payment (usually) or a materials award."""
    if as_award:
        return "bids", bid(world, f"aw-m-{n}", at, project, payer, "award", "materials",
                           round(rng.uniform(5e4, 4e5), 2), supplier)
    # Amounts as in normal payments: a materials bill is not an outlier of the payer's own.
    record = world.payment(f"pay-m-{n}", at, payer, supplier, "materials", "executed",
                           round(rng.lognormvariate(7, 0.6), 2), project_id=project)
    record["payee_kind"] = "company"
    return "payments", record


def ordered(first: Emit, second: Emit, arrive_late: bool) -> list[Emit]:
    """``first`` (earlier in event time) released on time, or late: after ``second``."""
    if arrive_late:
        first = Emit(second.at + timedelta(hours=1), first.feed, first.record)
    return [first, second]


def split_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    if rng.random() < 0.5:  # the materials supplier shares its owner with the winner
        winner, supplier = world.next_of("sister_companies", world.sister_companies)
        buyer = rng.choice([v for v in world.villages if v.split("-")[1] ==
                            world.companies[winner]["region"]] or world.villages)
        as_award = rng.random() < 0.3
    else:                   # the supplier is linked to a cadre of the buying village
        supplier, buyer = world.next_of("cadre_linked", world.cadre_linked)
        winner = rng.choice(world.plain_companies)
        as_award = False    # (a materials award to it would be a cadre_linked_award too)
    project = project_id(buyer, "SP", n)
    award = bid(world, f"aw-l-{n}", ts, project, buyer, "award", "labour_only",
                round(rng.uniform(5e4, 3e5), 2), winner)
    later = ts + timedelta(hours=rng.uniform(2, 24 * SPLIT_DAYS))
    feed, record = materials(world, rng, n, later, project, buyer, supplier, as_award)
    late_award = rng.random() < 0.4  # the award feed is late: the purchase arrives first
    first, second = Emit(ts, "bids", award), Emit(later, feed, record)
    emits = ordered(first, second, late_award)
    last = max(emits, key=lambda e: e.at)
    done = Emit(last.at, last.feed, last.record,
                label("split_labour_materials", project, record["event_time"], "red"),
                "case:split_labour_materials")
    return [e for e in emits if e is not last] + [done]


def split_near_miss(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    kind = rng.randrange(5)
    winner, supplier = world.next_of("sister_companies", world.sister_companies)
    buyer = rng.choice(world.villages)
    payer, later = buyer, ts + timedelta(hours=rng.uniform(2, 24 * SPLIT_DAYS))
    if kind == 0:
        supplier, what = rng.choice([c for c in world.plain_companies if c != winner]), \
            "unlinked_supplier"
    elif kind == 1:
        payer, what = rng.choice([v for v in world.villages if v != buyer]), "other_payer"
    elif kind == 2:
        supplier, what = winner, "winner_itself"
    elif kind == 3:
        later, what = ts - timedelta(days=rng.uniform(1, 10)), "before_award"
    else:
        later, what = ts + timedelta(days=rng.uniform(91, 100)), "after_window"
    project = project_id(buyer, "SP", n)
    award = bid(world, f"aw-l-{n}", ts, project, buyer, "award", "labour_only",
                round(rng.uniform(5e4, 3e5), 2), winner)
    feed, record = materials(world, rng, n, later, project, payer, supplier, False)
    return [Emit(ts, "bids", award, None, f"near_miss:split_labour_materials:{what}"),
            Emit(later, feed, record)]


# -- key_personnel_absent -----------------------------------------------------------------
def _site_weeks(world: World, rng: random.Random, n: str, ts: datetime,
                weeks: list[list[str]], severities: dict[int, str]) -> tuple[list[Emit], str]:
    """An award on Monday 09:00 after ``ts`` naming one technical lead, and that person's
    check-ins: ``weeks[k][d]`` is where they check in on working day ``d`` (0 = Monday) of week
    ``k``: ``"P"`` this project, ``"Q"`` another project's site, ``"PQ"`` both, ``""`` nowhere.
    The weeks after the given ones (up to the detector's ``max_weeks``) are on site every day.
    ``severities`` maps a failing week to the colour of its expected finding."""
    person = world.next_of("site_leads", world.site_leads)
    buyer = rng.choice(world.villages)
    project, other = project_id(buyer, "KP", n), project_id(buyer, "KQ", n)
    contractor = rng.choice(world.plain_companies)
    local = ts.date() + timedelta(days=7 - ts.weekday())
    monday0 = datetime.combine(local, time(9, 0), ts.tzinfo)
    award = bid(world, f"aw-k-{n}", monday0, project, buyer, "award", "works",
                round(rng.uniform(1e6, 3e7), 2), contractor,
                key_personnel=[{"person_id": person, "role": "technical_lead",
                                "required_onsite_ratio": 0.8}])
    lateness = timedelta(days=KP["allowed_lateness_days"])
    closing_day = int(KP["allowed_lateness_days"])  # the weekday index of a week's due time
    region = project.split("-")[1]
    emits = [Emit(monday0, "bids", award)]
    plan = weeks + [["P"] * 5] * (KP["max_weeks"] - len(weeks))
    for k, week in enumerate(plan):
        monday = datetime.combine(local + timedelta(weeks=k), time(0, 0), ts.tzinfo)
        due = monday + lateness  # the previous week's due time
        for d, where in enumerate(week):
            for site in where:
                closes = site == "P" and d == closing_day and k - 1 in severities
                at = due if closes else monday + timedelta(days=d, hours=8,
                                                           minutes=rng.randrange(50))
                target = project if site == "P" else other
                record = world.base(f"att-k-{n}-{k}-{d}-{site}", at, region)
                record.update({"kind": "check_in", "project_id": target,
                               "site_id": f"S-{target}", "person_id": person,
                               "company_id": contractor})
                if closes:
                    end = monday.isoformat()
                    emits.append(Emit(at, "attendance", record, label(
                        "key_personnel_absent", project, end, severities[k - 1]),
                        "case:key_personnel_absent"))
                else:
                    emits.append(Emit(at, "attendance", record))
    return emits, project


def key_personnel_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    """One failing week, then on site: yellow, or red at once when working elsewhere."""
    on_site = ["P"] * 5
    if rng.random() < 0.5:  # mostly on another project's site: red at once
        weeks = [["P", "P", "Q", "Q", "Q"], on_site]
        severities = {0: "red"}
    else:                   # one short week: yellow
        weeks = [["P", "P", "P", "", ""], on_site]
        severities = {0: "yellow"}
    emits, _ = _site_weeks(world, rng, n, ts, weeks, severities)
    return emits


def key_personnel_running_case(world: World, rng: random.Random, n: str,
                               ts: datetime) -> list[Emit]:
    """Three weeks on site two days of five: yellow, yellow, then red (the NR524 pattern)."""
    weeks = [["P", "", "P", "", ""]] * 3 + [["P"] * 5]
    emits, _ = _site_weeks(world, rng, n, ts, weeks, {0: "yellow", 1: "yellow", 2: "red"})
    return emits


def key_personnel_near_miss(world: World, rng: random.Random, n: str,
                            ts: datetime) -> list[Emit]:
    kind = rng.randrange(2)
    if kind == 0:   # on site 4 days of 5 (exactly the required 0.8) every week
        weeks = [["P", "P", "P", "P", ""]] * KP["max_weeks"]
        what = "present_enough"
    else:           # also on another site, but only on days present on this one
        weeks = [["PQ", "P", "P", "PQ", "P"]] * 4
        what = "elsewhere_same_day"
    emits, _ = _site_weeks(world, rng, n, ts, weeks, {})
    first = emits[0]
    return [Emit(first.at, first.feed, first.record, None,
                 f"near_miss:key_personnel_absent:{what}"), *emits[1:]]


# -- lease_below_reference ----------------------------------------------------------------
def lease_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    linked = rng.random() < 0.3
    if linked:  # the lessee is linked to a cadre of the village: red (and cadre_linked_award)
        lessee, village = world.next_of("cadre_linked", world.cadre_linked)
    else:
        lessee, village = rng.choice(world.plain_companies), rng.choice(world.villages)
    project = project_id(village, "LS", n)
    reserve = round(rng.uniform(2e5, 9e5), -3)
    award_at = ts + timedelta(days=rng.uniform(1, 5))
    amount = round(reserve * rng.uniform(0.55, 0.78), -2)
    severity = "red" if linked else "yellow"
    use_reference = not linked and rng.random() < 0.4
    award = bid(world, f"aw-ls-{n}", award_at, project, village, "award", "lease", amount,
                lessee, **({"reference_price": reserve} if use_reference else {}))
    lease_label = label("lease_below_reference", project, award["event_time"], severity)
    if use_reference:  # the award carries the previous rent: no tender needed
        return [Emit(award_at, "bids", award, lease_label, "case:lease_below_reference")]
    tender = bid(world, f"t-ls-{n}", ts, project, village, "tender", "lease", reserve)
    if linked:
        # The tender arrives after the award (a late feed): the award completes the
        # cadre_linked_award finding, the tender the lease finding.
        return [Emit(award_at, "bids", award,
                     label("cadre_linked_award", project, award["event_time"], "red"),
                     "case:cadre_linked_award"),
                Emit(award_at + timedelta(hours=1), "bids", tender, lease_label,
                     "case:lease_below_reference")]
    if rng.random() < 0.4:  # the award arrives before its tender
        return [Emit(award_at, "bids", award),
                Emit(award_at + timedelta(hours=1), "bids", tender, lease_label,
                     "case:lease_below_reference")]
    return [Emit(ts, "bids", tender),
            Emit(award_at, "bids", award, lease_label, "case:lease_below_reference")]


def lease_near_miss(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    lessee, village = rng.choice(world.plain_companies), rng.choice(world.villages)
    project = project_id(village, "LS", n)
    reserve = round(rng.uniform(2e5, 9e5), -3)
    award_at = ts + timedelta(days=rng.uniform(1, 5))
    amount = round(reserve * rng.uniform(0.8, 1.1), -2) + 100  # at least 80% of the reference
    if rng.random() < 0.5:
        award = bid(world, f"aw-ls-{n}", award_at, project, village, "award", "lease", amount,
                    lessee, reference_price=reserve)
        return [Emit(award_at, "bids", award, None,
                     "near_miss:lease_below_reference:reference_price")]
    tender = bid(world, f"t-ls-{n}", ts, project, village, "tender", "lease", reserve)
    award = bid(world, f"aw-ls-{n}", award_at, project, village, "award", "lease", amount,
                lessee)
    return [Emit(ts, "bids", tender, None, "near_miss:lease_below_reference:tender_reserve"),
            Emit(award_at, "bids", award)]


# -- shared_bid_fingerprint ---------------------------------------------------------------
def _bids(world: World, rng: random.Random, n: str, ts: datetime, project: str, buyer: str,
          bidders: list[str], amounts: list[float],
          fingerprints: list[str | None]) -> list[Emit]:
    emits, at = [], ts
    for i, (bidder, amount, fp) in enumerate(zip(bidders, amounts, fingerprints, strict=True)):
        at = at + timedelta(minutes=rng.uniform(10, 180))
        extra = {"fingerprint": fp} if fp else {}
        emits.append(Emit(at, "bids", bid(world, f"bid-{n}-{i}", at, project, buyer, "bid",
                                          "works", amount, bidder, **extra)))
    return emits


def fingerprint_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    buyer = rng.choice(world.villages)
    project = project_id(buyer, "FP", n)
    count = rng.randint(3, 4)
    bidders = rng.sample(world.plain_companies, count)
    base = rng.uniform(2e5, 9e5)
    amounts = [round(base * (1 + 0.07 * i + rng.uniform(0, 0.03)), 2) for i in range(count)]
    partner = rng.randrange(1, count)
    fps: list[str | None] = [f"fp-{n}-{i}" for i in range(count)]
    fps[partner] = fps[0]  # two bidders' documents from one machine
    emits = _bids(world, rng, n, ts, project, buyer, bidders, amounts, fps)
    done = emits[partner]
    emits[partner] = Emit(done.at, done.feed, done.record, label(
        "shared_bid_fingerprint", project, done.record["event_time"], "red"),
        "case:shared_bid_fingerprint")
    return emits


def fingerprint_near_miss(world: World, rng: random.Random, n: str,
                          ts: datetime) -> list[Emit]:
    buyer = rng.choice(world.villages)
    project = project_id(buyer, "FP", n)
    bidders = rng.sample(world.plain_companies, 3)
    base = rng.uniform(2e5, 9e5)
    amounts = [round(base * (1 + 0.07 * i), 2) for i in range(3)]
    fps: list[str | None] = [f"fp-{n}-{i}" for i in range(3)]
    what = "distinct"
    if rng.random() < 0.5:  # one bidder resubmits from its own machine
        bidders[2], fps[2], what = bidders[0], fps[0], "same_bidder"
    emits = _bids(world, rng, n, ts, project, buyer, bidders, amounts, fps)
    first = emits[0]
    return [Emit(first.at, first.feed, first.record, None,
                 f"near_miss:shared_bid_fingerprint:{what}"), *emits[1:]]


# -- bid_price_screen ---------------------------------------------------------------------
def _competition(world: World, rng: random.Random, n: str, ts: datetime,
                 multipliers: list[float], labelled: bool, count: str) -> list[Emit]:
    buyer = rng.choice(world.villages)
    project = project_id(buyer, "BS", n)
    bidders = rng.sample(world.plain_companies, len(multipliers))
    base = rng.uniform(2e5, 9e5)
    amounts = [round(base * m, 2) for m in multipliers]
    emits = _bids(world, rng, n, ts, project, buyer, bidders, amounts,
                  [None] * len(multipliers))
    low = min(range(len(amounts)), key=lambda i: amounts[i])
    award_at = emits[-1].at + timedelta(hours=rng.uniform(4, 30))
    award = bid(world, f"aw-bs-{n}", award_at, project, buyer, "award", "works", amounts[low],
                bidders[low])
    tag = label("bid_price_screen", project, award["event_time"], "yellow") if labelled \
        else None
    return [*emits, Emit(award_at, "bids", award, tag, count)]


def price_screen_case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    kind = rng.randrange(3)
    if kind == 0:    # bunched: coefficient of variation well under 0.03
        multipliers = [1 + rng.uniform(-0.01, 0.01) for _ in range(rng.randint(3, 5))]
    elif kind == 1:  # two bidders at the very same price
        multipliers = [1.0, 1.0, 1.09 + rng.uniform(0, 0.05), 1.2 + rng.uniform(0, 0.05)]
    else:            # a cover bid just above the winner, the others far off
        multipliers = [1.0, 1.0008, 1.12 + rng.uniform(0, 0.05), 1.22 + rng.uniform(0, 0.05)]
    return _competition(world, rng, n, ts, multipliers, True, "case:bid_price_screen")


def price_screen_near_miss(world: World, rng: random.Random, n: str,
                           ts: datetime) -> list[Emit]:
    if rng.random() < 0.6:  # competitive: spread out, no tiny gap at the bottom
        multipliers = [1.0, 1.06 + rng.uniform(0, 0.03), 1.13 + rng.uniform(0, 0.03)]
        what = "competitive"
    else:                   # too few bids to screen, even identical ones
        multipliers = [1.0, 1.0]
        what = "two_bids"
    return _competition(world, rng, n, ts, multipliers, False,
                        f"near_miss:bid_price_screen:{what}")


#: The award is on the Monday after the case starts (at most 7 days on); a week is judged 2
#: days after it ends. ``span_days``: from a case's start until its last finding is judged.
_KP_WEEK0_DUE = 7 + 7 + KP["allowed_lateness_days"]
SCENARIOS = [
    Scenario("cadre_linked_award", cadre_award_case, cadre_award_near_miss, span_days=0.5),
    Scenario("split_labour_materials", split_case, split_near_miss,
             span_days=SPLIT_DAYS + 0.5),
    Scenario("key_personnel_absent", key_personnel_case, key_personnel_near_miss,
             span_days=_KP_WEEK0_DUE + 0.5),
    Scenario("key_personnel_absent_running", key_personnel_running_case,
             key_personnel_near_miss, span_days=_KP_WEEK0_DUE + 14 + 0.5),
    Scenario("lease_below_reference", lease_case, lease_near_miss, span_days=5.5),
    Scenario("shared_bid_fingerprint", fingerprint_case, fingerprint_near_miss, span_days=1.0),
    Scenario("bid_price_screen", price_screen_case, price_screen_near_miss, span_days=2.5),
]
