"""ineligible_subsidy_payee: a work subsidy paid to an office holder of the paying body.

The case (BRIEF.md): a village fire-drill work subsidy named cadre Luo as payee; the payment
system checked the payee before the money moved, stopped the flow and sent it to the township
inspectors. Fires on a ``work_subsidy`` payment (requested or executed) whose payee held
``village_cadre`` or ``public_official`` in the payer on the payment's date. On a ``requested``
payment the action is ``hold``: the money must not move. A former cadre (office ended before
the payment) or an office in another body stays silent.

>>> from detectors.registry import Registry
>>> reg = Registry()
>>> reg.apply({"record_type": "person", "person_id": "P-LUO", "roles": [{"role": "village_cadre",
...     "org_id": "VC-001", "region": "330784", "start": "2021-01-01"}]})
>>> pay = {"event_id": "pay-1", "event_time": "2026-05-14T09:30:00+08:00", "region": "330784",
...     "status": "requested", "payer_id": "VC-001", "payee_id": "P-LUO", "payee_kind": "person",
...     "purpose": "work_subsidy", "amount": 1200}
>>> detector = IneligibleSubsidyPayee()
>>> _, [finding] = detector.process(Event("payments", pay, 0.0), "P-LUO", None, reg)
>>> finding.severity, finding.action, finding.subject
('red', 'hold', 'person:P-LUO')
"""

from __future__ import annotations

from detectors.base import HOLD, RED, REVIEW, Event, Finding, PersonPayeeKey, RegistryCheck
from detectors.evidence import evidence
from detectors.registry import Registry


class IneligibleSubsidyPayee(PersonPayeeKey, RegistryCheck):
    """Fires: A payment for one of ``purposes`` (requested or executed) to a person who holds
    one of ``roles`` in the payer on the payment's date. Red, to the discipline inspectors;
    on a ``requested`` payment the action is ``hold`` (the money must not move).

    Silent: A former office holder (the office ended before the payment), an office in
    another body, another purpose, a payee that is a company.

    Evidence: The payment (``records``) and the registry role that makes the payee
    ineligible (``registry_links``: person, organisation, role, its start and end).

    Parameters:
        purposes: payment purposes judged (a work subsidy by default).
        roles: registry roles in the paying or buying body that count as an office holder: a
            payee holding one on the payment's date fires.
    """

    name = "ineligible_subsidy_payee"
    feeds = frozenset({"payments"})
    key_kind = "payee"
    logic_version = 1
    defaults = {
        "purposes": ("work_subsidy",),
        "roles": ("village_cadre", "public_official"),
    }

    def check(self, event: Event, registry: Registry) -> list[Finding]:
        """The findings for one payment; also what the synchronous pre-payment check asks."""
        record = event.record
        if self.key(event) is None:
            return []
        person = registry.person(record["payee_id"])
        if person is None:
            return []
        offices = person.offices_in(record["payer_id"], event.day, self.params["roles"])
        if not offices:
            return []
        held = ", ".join(sorted({o.role for o in offices}))
        requested = record["status"] == "requested"
        return [
            self.finding(
                subject=f"person:{person.person_id}",
                severity=RED,
                route="discipline_inspection",
                sector="public_payments",
                action=HOLD if requested else REVIEW,
                score=1.0,
                summary=(
                    f"{record['purpose']} payment {record['event_id']} of {record['amount']} yuan "
                    f"({record['status']}) names payee {person.person_id}, who holds {held} "
                    f"in the paying body {record['payer_id']}"
                ),
                time=event.time,
                basis=(record["event_id"],),
                evidence=evidence(
                    records=[
                        event.ref("status", "payer_id", "payee_id", "purpose", "amount", "region")
                    ],
                    registry_links=[
                        {
                            "person_id": person.person_id,
                            "role": o.role,
                            "org_id": o.org_id,
                            "start": o.start,
                            "end": o.end,
                        }
                        for o in offices
                    ],
                    observed=f"payee holds {held} in payer {record['payer_id']} on {event.day}",
                    threshold="payee holds none of " + ", ".join(self.params["roles"])
                    + " in the payer on the payment date",
                ),
            )
        ]
