"""Builders of contract records for unit tests."""

from __future__ import annotations

from typing import Any

from detectors.base import Event
from schemas import event_ts


def payment_event(event_id: str, payee: str, *, day: str = "2026-05-14",
                  payer: str = "VC-330784-001", region: str = "330784",
                  purpose: str = "welfare_subsidy", status: str = "executed",
                  amount: float = 300.0, **extra: Any) -> Event:
    record = {"event_id": event_id, "event_time": f"{day}T10:00:00+08:00", "region": region,
              "status": status, "payer_id": payer, "payee_id": payee, "payee_kind": "person",
              "purpose": purpose, "amount": amount, **extra}
    return Event("payments", record, event_ts(record), "payments", 0, 0)


def check_in_event(event_id: str, person: str, project: str, *, day: str,
                   kind: str = "check_in") -> Event:
    record = {"event_id": event_id, "event_time": f"{day}T08:00:00+08:00", "region": "330602",
              "kind": kind, "project_id": project, "site_id": f"S-{project}",
              "person_id": person, "company_id": "C-1"}
    return Event("attendance", record, event_ts(record), "attendance", 0, 0)
