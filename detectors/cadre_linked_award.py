"""cadre_linked_award: a village's project won by a company its own cadre stands behind.

The case (BRIEF.md, Yongkang model: 340+ red warnings, 80+ leads, ~30 cases): village cadres took
part in their own village's projects through companies they or their relatives run or own.
Fires on an award whose winner's legal representative or a shareholder is, or is a relative of,
a person holding ``village_cadre`` or ``public_official`` in the buyer (``org_id == buyer_id``)
on the award's day: red, to the discipline inspectors. A *bid* (not an award) from such a company
is yellow, to the procurement regulator (the cadre should have stayed out of the competition).
A link to an office that ended before the award, or to an office in another body, stays silent.

>>> from detectors.registry import Registry
>>> reg = Registry()
>>> reg.apply({"record_type": "person", "person_id": "P-CADRE", "roles": [{"role":
...     "village_cadre", "org_id": "VC-1", "region": "330784", "start": "2021-01-01"}]})
>>> reg.apply({"record_type": "company", "company_id": "C-1", "legal_rep_id": "P-CADRE",
...     "shareholder_ids": [], "region": "330784"})
>>> award = Event("bids", {"event_id": "aw-1", "event_time": "2026-05-14T10:00:00+08:00",
...     "region": "330784", "stage": "award", "project_id": "PRJ-1", "buyer_id": "VC-1",
...     "category": "works", "amount": 380000, "bidder_id": "C-1"}, 0.0)
>>> _, [finding] = CadreLinkedAward().process(award, "PRJ-1", None, reg)
>>> finding.severity, finding.subject, finding.evidence["registry_links"][0]["path"]
('red', 'project:PRJ-1', 'company C-1 -> legal_rep P-CADRE -> village_cadre of VC-1 (2021-01-01..)')
"""

from __future__ import annotations

from typing import Any

from detectors.base import RED, REVIEW, YELLOW, Detector, Event, Finding
from detectors.evidence import evidence
from detectors.links import MAX_LINKS, office_links, truncation
from detectors.registry import Registry


class CadreLinkedAward(Detector):
    """Fires: An award whose winner's legal representative or a shareholder is, or is a
    relative of, a person holding one of ``roles`` in the buyer on the award's day: red, to
    the discipline inspectors; a bid from such a company: yellow, to the procurement
    regulator.

    Silent: A link to an office that ended before the award, an office in another body, a
    stage not in ``stages``.

    Evidence: The award or bid (``records``), the chain of registry links from the company
    to the office holder (``registry_links``) and what was observed.

    Parameters:
        roles: registry roles in the paying or buying body that count as an office holder.
        stages: stages judged: an award is red; a bid from a linked company is yellow.
        max_links: registry entries (owners, relatives) followed per record at most.
    """

    name = "cadre_linked_award"
    feeds = frozenset({"bids"})
    key_kind = "project"
    logic_version = 1
    stateful = False
    defaults = {
        "roles": ("village_cadre", "public_official"),
        #: Stages judged: an award is red; a bid from a linked company is yellow.
        "stages": ("award", "bid"),
        #: Registry entries (owners, relatives) followed per record at most.
        "max_links": MAX_LINKS,
    }

    def key(self, event: Event) -> str | None:
        record = event.record
        if record.get("stage") in self.params["stages"] and record.get("bidder_id"):
            return record["project_id"]
        return None

    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        if self.key(event) is None:
            return state, []
        record = event.record
        links = office_links(registry, record["bidder_id"], record["buyer_id"], event.day,
                             self.params["roles"], self.params["max_links"])
        if not links:
            return state, []
        award = record["stage"] == "award"
        holders = ", ".join(sorted({f"{link.holder_id} ({link.role})" for link in links}))
        verb = "won" if award else "bid for"
        return state, [self.finding(
            subject=f"project:{record['project_id']}",
            severity=RED if award else YELLOW,
            route="discipline_inspection" if award else "regulator",
            sector="procurement",
            action=REVIEW,
            score=1.0 if award else 0.6,
            summary=(
                f"company {record['bidder_id']} {verb} project {record['project_id']} of "
                f"{record['buyer_id']} ({record['category']}, {record['amount']} yuan) while "
                f"linked to {holders} of that body"
            ),
            time=event.time,
            basis=(event.event_id,),
            evidence=evidence(
                records=[event.ref("stage", "project_id", "buyer_id", "bidder_id",
                                   "category", "amount", "region")],
                registry_links=[link.evidence() for link in links],
                observed=f"{record['bidder_id']} linked to {holders} of "
                         f"{record['buyer_id']} on {event.day}",
                threshold="no owner (legal rep or shareholder) of the bidder, nor a relative "
                          "of one, holds " + ", ".join(self.params["roles"])
                          + " in the buyer on the day",
                **truncation(links, max_links=self.params["max_links"]),
            ),
        )]
