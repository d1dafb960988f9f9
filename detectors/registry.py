"""Reference data: people (with their dated roles) and companies, looked up by id.

Kept compact (tuples and slotted objects, not the decoded JSON) because a province has millions
of people and every worker holds all of them. Dates stay ``YYYY-MM-DD`` strings: they compare
correctly as strings and cost nothing to parse.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple


class Role(NamedTuple):
    role: str
    org_id: str
    region: str
    start: str
    end: str | None

    def held_on(self, day: str) -> bool:
        """Whether the office was held on ``day`` (start and end dates inclusive)."""
        return self.start <= day and (self.end is None or day <= self.end)


class Person:
    __slots__ = ("person_id", "roles", "relatives", "deceased_on", "integrity_flags")

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.person_id: str = record["person_id"]
        self.roles: tuple[Role, ...] = tuple(
            Role(r["role"], r["org_id"], r.get("region", ""), r["start"], r.get("end"))
            for r in record.get("roles") or ()
        )
        self.relatives: tuple[str, ...] = tuple(record.get("relatives") or ())
        self.deceased_on: str | None = record.get("deceased_on")
        self.integrity_flags: tuple[str, ...] = tuple(record.get("integrity_flags") or ())

    def offices_in(self, org_id: str, day: str, roles: tuple[str, ...]) -> list[Role]:
        """The offices of the given kinds this person held in ``org_id`` on ``day``."""
        return [r for r in self.roles if r.org_id == org_id and r.role in roles and r.held_on(day)]


class Company:
    __slots__ = ("company_id", "legal_rep_id", "shareholder_ids", "region")

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.company_id: str = record["company_id"]
        self.legal_rep_id: str = record["legal_rep_id"]
        self.shareholder_ids: tuple[str, ...] = tuple(record.get("shareholder_ids") or ())
        self.region: str = record.get("region", "")


class Registry:
    """People and companies by id. ``apply`` takes a validated registry record; ``delete``
    takes the record's key (a tombstone on the compacted topic).

    >>> reg = Registry()
    >>> reg.apply({"record_type": "person", "person_id": "P1", "roles": [
    ...     {"role": "village_cadre", "org_id": "VC1", "region": "330784", "start": "2020-01-01"}]})
    >>> [r.role for r in reg.person("P1").offices_in("VC1", "2026-05-01", ("village_cadre",))]
    ['village_cadre']
    >>> reg.delete("P1"); reg.person("P1") is None
    True
    """

    def __init__(self) -> None:
        self.people: dict[str, Person] = {}
        self.companies: dict[str, Company] = {}

    def apply(self, record: Mapping[str, Any]) -> None:
        if record["record_type"] == "person":
            self.people[record["person_id"]] = Person(record)
        else:
            self.companies[record["company_id"]] = Company(record)

    def delete(self, key: str) -> None:
        # A key names either a person or a company; ids do not collide across the two.
        self.people.pop(key, None)
        self.companies.pop(key, None)

    def person(self, person_id: str) -> Person | None:
        return self.people.get(person_id)

    def company(self, company_id: str) -> Company | None:
        return self.companies.get(company_id)

    def __len__(self) -> int:
        return len(self.people) + len(self.companies)

    def __iter__(self) -> Iterator[str]:
        yield from self.people
        yield from self.companies
