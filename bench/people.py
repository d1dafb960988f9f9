"""Registry people for benchmarks, fast and without a simulated world: a million in seconds,
streamed (nothing is kept), each a valid ``registry-person`` record of the contract.

The mix is a province's, not the simulator's: about 8% hold or held an office (village cadres,
former cadres with an end date, public officials, doctors), a fifth list relatives, 1% are
dead, a few carry integrity flags; offices are spread over 6 regions x 200 villages and a few
hundred hospitals. Ids are ``<prefix><8 digits>`` so they never collide with the simulator's.

>>> from schemas import validate
>>> import orjson
>>> records = [orjson.loads(value) for _, value in people(2000, seed=1)]
>>> all(validate("registry-person", r) is r for r in records)
True
>>> sum(bool(r.get("roles")) for r in records) > 100, records[0]["person_id"]
(True, 'P-R00000000')
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import orjson

REGIONS = ("330784", "330110", "331102", "330602", "330182", "330523")
VILLAGES = tuple(f"VC-{r}-{i:03d}" for r in REGIONS for i in range(200))
HOSPITALS = tuple(f"H-{r}-{i:02d}" for r in REGIONS for i in range(40))
FLAGS = ("2023: accepted gifts from a supplier (warning)",
         "2024: undeclared outside income (criticised)")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def person_id(i: int, prefix: str = "P-R") -> str:
    return f"{prefix}{i:08d}"


def people(n: int, seed: int = 11, prefix: str = "P-R", start: int = 0
           ) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) of ``n`` registry person records, ids ``start`` .. ``start + n - 1``."""
    rng = random.Random(f"bench-people-{seed}")
    rand, randrange = rng.random, rng.randrange
    for i in range(start, start + n):
        pid = person_id(i, prefix)
        record: dict = {"record_type": "person", "person_id": pid,
                        "name": SURNAMES[randrange(len(SURNAMES))] + GIVEN[randrange(len(GIVEN))]
                        + GIVEN[randrange(len(GIVEN))]}
        roll = rand()
        if roll < 0.08:
            year = 2005 + randrange(20)
            if roll < 0.06:
                org = VILLAGES[randrange(len(VILLAGES))]
                kind = "public_official" if roll < 0.01 else "village_cadre"
            else:
                org, kind = HOSPITALS[randrange(len(HOSPITALS))], "doctor"
            role = {"role": kind, "org_id": org, "region": org.split("-")[1],
                    "start": f"{year}-{1 + randrange(12):02d}-01"}
            if roll < 0.02:  # left office
                role["end"] = f"{year + 1 + randrange(3)}-12-31"
            record["roles"] = [role]
        if rand() < 0.2:
            record["relatives"] = [person_id(randrange(start + n), prefix)
                                   for _ in range(1 + randrange(3))]
        if rand() < 0.01:
            record["deceased_on"] = f"20{15 + randrange(11)}-{1 + randrange(12):02d}-" \
                                    f"{1 + randrange(28):02d}"
        if rand() < 0.003:
            record["integrity_flags"] = [FLAGS[randrange(2)]]
        yield pid.encode(), orjson.dumps(record)
