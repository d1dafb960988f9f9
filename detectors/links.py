"""Registry links shared by the procurement detectors: who stands behind a company, and whether
one of them is, or is a relative of, an office holder of a given body on a given day.

"Linked" (DETECTORS.md) is always by id, as of the event's day, through the registry:

- a company's *owners* are its legal representative and its shareholders;
- an owner is linked to an office when, on the day, they hold it themselves, or a relative of
  theirs holds it (roles count only between their ``start`` and ``end``). A family tie counts
  whichever of the two records declares it (usually the office holder's), and the path names
  the record that did.

Names are never compared. Each link comes back as a :class:`Link` whose :meth:`Link.evidence`
is the path an inspector checks: company -> owner -> (relative ->) office holder -> role.

>>> from detectors.registry import Registry
>>> reg = Registry()
>>> reg.apply({"record_type": "person", "person_id": "P-CADRE", "roles": [{"role":
...     "village_cadre", "org_id": "VC-1", "region": "330784", "start": "2021-01-01"}]})
>>> reg.apply({"record_type": "person", "person_id": "P-SON", "relatives": ["P-CADRE"]})
>>> reg.apply({"record_type": "company", "company_id": "C-1", "legal_rep_id": "P-SON",
...     "shareholder_ids": ["P-SON"], "region": "330784"})
>>> [link.path for link in office_links(reg, "C-1", "VC-1", "2026-05-14")]
['company C-1 -> legal_rep+shareholder P-SON -> relative P-CADRE (declared by P-SON) -> \
village_cadre of VC-1 (2021-01-01..)']
>>> office_links(reg, "C-1", "VC-2", "2026-05-14")   # an office in another body
[]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from detectors.clock import WEEK
from detectors.registry import Registry

#: The offices that make a link (DETECTORS.md: a cadre or an official of the buying body).
OFFICE_ROLES = ("village_cadre", "public_official")


#: Registry entries (owners, relatives) followed per record at most, by default: one company
#: with 100,000 shareholders or one person with 100,000 relatives must not stall a partition
#: (each entry followed costs a lookup). A detector parameter, ``max_links``.
MAX_LINKS = 1000


class Capped(list[Any]):
    """A list of links and how many registry entries were not followed for them (the cap)."""

    not_followed: int = 0


def truncation(*found: Capped, max_links: int) -> dict[str, Any]:
    """The evidence entry saying the links shown are not all there may be (none if all)."""
    skipped = sum(capped.not_followed for capped in found)
    if not skipped:
        return {}
    return {"registry_links_truncated": {"max_links": max_links, "not_followed": skipped}}


@dataclass(frozen=True, slots=True)
class Link:
    """One path from a company to an office held in a body on a day."""

    company_id: str
    owner_id: str
    #: How the owner stands behind the company: ``legal_rep``, ``shareholder`` or both.
    relation: str
    #: The owner's relative who holds the office, or None when the owner holds it.
    relative_id: str | None
    role: str
    org_id: str
    start: str
    end: str | None
    #: Whose registry record declares the family tie (the owner's or the relative's).
    declared_by: str | None = None

    @property
    def holder_id(self) -> str:
        return self.relative_id or self.owner_id

    @property
    def path(self) -> str:
        steps = [f"company {self.company_id}", f"{self.relation} {self.owner_id}"]
        if self.relative_id:
            steps.append(f"relative {self.relative_id} (declared by {self.declared_by})")
        steps.append(f"{self.role} of {self.org_id} ({self.start}..{self.end or ''})")
        return " -> ".join(steps)

    def evidence(self) -> dict[str, Any]:
        """The registry_links entry: the holder's office (as in every detector's evidence) plus
        the path that leads to it from the company."""
        return {
            "company_id": self.company_id,
            "owner_id": self.owner_id,
            "relation": self.relation,
            "relative_id": self.relative_id,
            "relative_declared_by": self.declared_by,
            "person_id": self.holder_id,
            "role": self.role,
            "org_id": self.org_id,
            "start": self.start,
            "end": self.end,
            "path": self.path,
        }


def owners(registry: Registry, company_id: str, limit: int | None = None
           ) -> list[tuple[str, str]]:
    """The company's owners as ``(person_id, relation)``: the legal representative first, then
    the shareholders in registry order; a person in both gets ``legal_rep+shareholder``. With
    ``limit``, only the first ``limit`` shareholders are read (:func:`unread_owners`)."""
    company = registry.company(company_id)
    if company is None:
        return []
    relations: dict[str, list[str]] = {}
    if company.legal_rep_id:
        relations.setdefault(company.legal_rep_id, []).append("legal_rep")
    shareholders = company.shareholder_ids if limit is None else company.shareholder_ids[:limit]
    for person_id in shareholders:
        if "shareholder" not in relations.setdefault(person_id, []):
            relations[person_id].append("shareholder")
    return [(person_id, "+".join(kinds)) for person_id, kinds in relations.items()]


def unread_owners(registry: Registry, company_id: str, limit: int) -> int:
    """Shareholders :func:`owners` leaves unread with ``limit``."""
    company = registry.company(company_id)
    return 0 if company is None else max(0, len(company.shareholder_ids) - limit)


def office_links(
    registry: Registry,
    company_id: str,
    org_id: str,
    day: str,
    roles: Iterable[str] = OFFICE_ROLES,
    max_links: int = MAX_LINKS,
) -> Capped:
    """Every path by which ``company_id`` is linked, on ``day``, to a holder of one of ``roles``
    in ``org_id``: an owner who holds it, or an owner's relative who does. Deterministic order
    (owners as in :func:`owners`, then relatives as listed, then roles as listed). At most
    ``max_links`` registry entries (owners and relatives) are followed; the rest are counted
    in ``not_followed``."""
    wanted = tuple(roles)
    links = Capped()
    links.not_followed = unread_owners(registry, company_id, max_links)
    budget = max_links
    listed = owners(registry, company_id, max_links)
    for index, (owner_id, relation) in enumerate(listed):
        if budget <= 0:
            links.not_followed += len(listed) - index
            break
        budget -= 1
        owner = registry.person(owner_id)
        if owner is None:
            continue
        for role in owner.offices_in(org_id, day, wanted):
            links.append(Link(company_id, owner_id, relation, None, role.role, role.org_id,
                              role.start, role.end))
        ties = registry.relatives_of(owner_id)
        followed = ties[:budget]
        links.not_followed += len(ties) - len(followed)
        budget -= len(followed)
        for relative_id, declared_by in followed:
            relative = registry.person(relative_id)
            if relative is None:
                continue
            for role in relative.offices_in(org_id, day, wanted):
                links.append(Link(company_id, owner_id, relation, relative_id, role.role,
                                  role.org_id, role.start, role.end, declared_by))
    return links


def shared_owners(registry: Registry, company_a: str, company_b: str,
                  max_links: int = MAX_LINKS) -> Capped:
    """The people who own (legal rep or shareholder) both companies, as registry_links entries:
    ``{"person_id", "company_id", "relation", "other_company_id", "other_relation", "path"}``.
    Reads at most ``max_links`` shareholders of each (the rest counted in ``not_followed``)."""
    shared = Capped()
    if company_a == company_b:
        return shared
    shared.not_followed = (unread_owners(registry, company_a, max_links)
                           + unread_owners(registry, company_b, max_links))
    of_b = dict(owners(registry, company_b, max_links))
    for person_id, relation in owners(registry, company_a, max_links):
        if person_id in of_b:
            shared.append({
                "person_id": person_id,
                "company_id": company_a,
                "relation": relation,
                "other_company_id": company_b,
                "other_relation": of_b[person_id],
                "path": f"company {company_a} -> {relation} {person_id} -> "
                        f"{of_b[person_id]} of company {company_b}",
            })
    return shared


def expiry(ts: float, keep_s: float) -> float:
    """When a key's state, last touched at event time ``ts``, may be forgotten: ``ts + keep_s``
    rounded up to a whole week, so the runner's pending entry for the key changes at most once a
    week however often the key is touched.

    >>> expiry(0.0, 86400.0) == WEEK
    True
    """
    return math.ceil((ts + keep_s) / WEEK) * WEEK


#: State key of the newest event time a key has seen: when it went quiet. Named in code, one
#: letter on the wire (the state is checkpointed as JSON to a changelog).
NEWEST = "m"


class ForgetsWhenQuiet:
    """Mixin for a detector that judges nothing on time alone: a key whose state (``NEWEST``:
    the event time it was last touched) has been quiet for ``keep_s()`` is forgotten."""

    def keep_s(self) -> float:
        raise NotImplementedError

    def due(self, state: Any) -> float | None:
        return expiry(state[NEWEST], self.keep_s()) if state else None

    def advance(self, key: str, state: Any, watermark: float, registry: Any
                ) -> tuple[Any, list[Any]]:
        if state and watermark >= expiry(state[NEWEST], self.keep_s()):
            return None, []
        return state, []
