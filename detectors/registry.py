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
        #: person_id -> the people whose records list them as a relative. A family tie is
        #: symmetric (CONTRACT.md) but usually declared on one side only: the office holder
        #: declares the family, the relatives' own records list nobody.
        self.declared_by: dict[str, tuple[str, ...]] = {}

    def apply(self, record: Mapping[str, Any]) -> None:
        if record["record_type"] == "person":
            person = Person(record)
            self._unindex(person.person_id)
            self.people[person.person_id] = None if person.is_plain else person
            for relative_id in person.relatives:
                if relative_id != person.person_id:
                    declarers = self.declared_by.get(relative_id, ())
                    if person.person_id not in declarers:
                        self.declared_by[relative_id] = (*declarers, person.person_id)
        else:
            self.companies[record["company_id"]] = Company(record)

    def delete(self, key: str) -> None:
        # A key names either a person or a company; ids do not collide across the two.
        self._unindex(key)
        self.people.pop(key, None)
        self.companies.pop(key, None)

    def _unindex(self, person_id: str) -> None:
        """Forget the ties ``person_id``'s current record declares (it changes or goes)."""
        old = self.people.get(person_id)
        for relative_id in old.relatives if old is not None else ():
            kept = tuple(p for p in self.declared_by.get(relative_id, ()) if p != person_id)
            if kept:
                self.declared_by[relative_id] = kept
            else:
                self.declared_by.pop(relative_id, None)

    def relatives_of(self, person_id: str) -> list[tuple[str, str]]:
        """``(relative_id, declared_by)`` for every family tie of ``person_id``, declared on
        either side: those its own record lists first (in its order), then those declared
        by others (in the order their records came). Each relative once.

        >>> reg = Registry()
        >>> reg.apply({"record_type": "person", "person_id": "P-CADRE", "relatives": ["P-SON"]})
        >>> reg.apply({"record_type": "person", "person_id": "P-SON"})
        >>> reg.relatives_of("P-SON"), reg.relatives_of("P-CADRE")
        ([('P-CADRE', 'P-CADRE')], [('P-SON', 'P-CADRE')])
        """
        person = self.person(person_id)
        ties = {r: person_id for r in (person.relatives if person else ()) if r != person_id}
        for declarer in self.declared_by.get(person_id, ()):
            ties.setdefault(declarer, declarer)
        return list(ties.items())

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
