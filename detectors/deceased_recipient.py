"""deceased_recipient: a welfare subsidy paid to a person who had already died.

The case (BRIEF.md, Lishui): 60 people across 9 counties drew subsidies they should not have,
among them subsidies still paid to the dead. Fires on a ``welfare_subsidy`` payment whose payee's
registry record has ``deceased_on`` before the payment's date. A death on or after the payment
date stays silent (the payment was due). On a ``requested`` payment the action is ``hold``.

>>> from detectors.registry import Registry
>>> reg = Registry()
>>> reg.apply({"record_type": "person", "person_id": "P-9", "deceased_on": "2025-11-02"})
>>> pay = {"event_id": "pay-9", "event_time": "2026-05-14T09:30:00+08:00", "region": "331102",
...     "status": "executed", "payer_id": "VC-331102-003", "payee_id": "P-9",
...     "payee_kind": "person", "purpose": "welfare_subsidy", "amount": 300}
>>> [finding] = DeceasedRecipient().check(Event("payments", pay, 0.0), reg)
>>> finding.severity, finding.action, finding.evidence["observed"]
('yellow', 'review', 'payee died on 2025-11-02, before the payment date 2026-05-14')
"""

from __future__ import annotations

from detectors.base import HOLD, REVIEW, YELLOW, Event, Finding, PersonPayeeKey, RegistryCheck
from detectors.evidence import evidence
from detectors.registry import Registry


class DeceasedRecipient(PersonPayeeKey, RegistryCheck):
    """Fires: A payment for one of ``purposes`` whose payee's registry record has
    ``deceased_on`` before the payment's date; on a ``requested`` payment the action is
    ``hold``.

    Silent: A death on or after the payment date (the payment was due), a payee with no
    death recorded.

    Evidence: The payment (``records``) and the person's death date (``registry_links``).

    Parameters:
        purposes: payment purposes judged (a welfare subsidy by default).
    """

    name = "deceased_recipient"
    feeds = frozenset({"payments"})
    key_kind = "payee"
    logic_version = 1
    defaults = {"purposes": ("welfare_subsidy",)}

    def check(self, event: Event, registry: Registry) -> list[Finding]:
        record = event.record
        if self.key(event) is None:
            return []
        person = registry.person(record["payee_id"])
        if person is None or not person.deceased_on or person.deceased_on >= event.day:
            return []
        requested = record["status"] == "requested"
        return [self.finding(
            subject=f"person:{person.person_id}",
            severity=YELLOW,
            route="regulator",
            sector="civil_affairs",
            action=HOLD if requested else REVIEW,
            score=1.0,
            summary=(f"{record['purpose']} payment {record['event_id']} of {record['amount']} "
                     f"yuan ({record['status']}) by {record['payer_id']} names payee "
                     f"{person.person_id}, who died on {person.deceased_on}"),
            time=event.time,
            basis=(event.event_id,),
            evidence=evidence(
                records=[event.ref("status", "payer_id", "payee_id", "purpose", "amount",
                                   "region")],
                registry_links=[{"person_id": person.person_id,
                                 "deceased_on": person.deceased_on}],
                observed=f"payee died on {person.deceased_on}, before the payment date "
                         f"{event.day}",
                threshold="payee alive on the payment date",
            ),
        )]
