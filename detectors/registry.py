"""Reference data: people (with their dated roles) and companies, looked up by id.

Kept compact because a province has millions of people and every worker holds all of them
(``bench/pipeline.py --parts memory`` measures it): slotted objects and tuples, not the decoded
JSON; the short strings that repeat across people (roles, org ids, regions, dates, flags) are
interned, so a million people share one copy of each; and a person with nothing but an id (no
office, relative, death or flag: most of a population) is stored as ``None`` and handed out as
a fresh :class:`Person` on lookup. Dates stay ``YYYY-MM-DD`` strings: they compare correctly as
strings and cost nothing to parse.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from sys import intern
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


def _role(r: Mapping[str, Any]) -> Role:
    end = r.get("end")
    return Role(intern(r["role"]), intern(r["org_id"]), intern(r.get("region", "")),
                intern(r["start"]), None if end is None else intern(end))


class Person:
    __slots__ = ("person_id", "roles", "relatives", "deceased_on", "integrity_flags")

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.person_id: str = record["person_id"]
        roles = record.get("roles")
        self.roles: tuple[Role, ...] = tuple(map(_role, roles)) if roles else ()
        self.relatives: tuple[str, ...] = tuple(record.get("relatives") or ())
        deceased = record.get("deceased_on")
        self.deceased_on: str | None = None if deceased is None else intern(deceased)
        flags = record.get("integrity_flags")
        self.integrity_flags: tuple[str, ...] = tuple(map(intern, flags)) if flags else ()

    @classmethod
    def plain(cls, person_id: str) -> Person:
        """A person known by id alone: no office, relative, death or flag."""
        person = cls.__new__(cls)
        person.person_id = person_id
        person.roles = person.relatives = person.integrity_flags = ()
        person.deceased_on = None
        return person

    @property
    def is_plain(self) -> bool:
        return not (self.roles or self.relatives or self.deceased_on or self.integrity_flags)

    def offices_in(self, org_id: str, day: str, roles: tuple[str, ...]) -> list[Role]:
        """The offices of the given kinds this person held in ``org_id`` on ``day``."""
        return [r for r in self.roles if r.org_id == org_id and r.role in roles and r.held_on(day)]


class Company:
    __slots__ = ("company_id", "legal_rep_id", "shareholder_ids", "region")

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.company_id: str = record["company_id"]
        self.legal_rep_id: str = record["legal_rep_id"]
        self.shareholder_ids: tuple[str, ...] = tuple(record.get("shareholder_ids") or ())
        self.region: str = intern(record.get("region", ""))


_ABSENT: Any = object()


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
    >>> reg.apply({"record_type": "person", "person_id": "P2", "name": "Wang"})
    >>> reg.person("P2").person_id, reg.person("P2").roles, "P2" in reg.people
    ('P2', (), True)
    """

    def __init__(self) -> None:
        #: person_id -> Person, or None for a person known by id alone (see the module doc).
        self.people: dict[str, Person | None] = {}
        self.companies: dict[str, Company] = {}

    def apply(self, record: Mapping[str, Any]) -> None:
        if record["record_type"] == "person":
            person = Person(record)
            self.people[person.person_id] = None if person.is_plain else person
        else:
            self.companies[record["company_id"]] = Company(record)

    def delete(self, key: str) -> None:
        # A key names either a person or a company; ids do not collide across the two.
        self.people.pop(key, None)
        self.companies.pop(key, None)

    def person(self, person_id: str) -> Person | None:
        person = self.people.get(person_id, _ABSENT)
        if person is None:
            return Person.plain(person_id)
        return None if person is _ABSENT else person

    def company(self, company_id: str) -> Company | None:
        return self.companies.get(company_id)

    def __len__(self) -> int:
        return len(self.people) + len(self.companies)

    def __iter__(self) -> Iterator[str]:
        yield from self.people
        yield from self.companies
