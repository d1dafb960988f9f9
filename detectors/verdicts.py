"""Verification results: which alerts were confirmed or dismissed, per detector and region.

Zhejiang judges a model by the share of its warnings confirmed on verification (over 70%).
Pure: an alert id's state is ``{"detector", "region", "verdict"}``; the stream keeps it in a
table keyed by alert id (alerts and dispositions are repartitioned by that id) and the replay
command tallies the same way.

>>> state = index_alert(None, {"id": "a1", "subject": "person:P1", "data": {
...     "detector": "ineligible_subsidy_payee", "evidence": {"records": [
...     {"fields": {"region": "330784"}}]}}})
>>> state, before = apply_verdict(state, {"alert_id": "a1", "verdict": "confirmed"})
>>> state["verdict"], before
('confirmed', 'open')
>>> precision({"confirmed": 3, "dismissed": 1, "open": 5})
0.75
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

OPEN = "open"
VERDICTS = ("confirmed", "dismissed", OPEN)


def region_of(alert: Mapping[str, Any]) -> str:
    """The region of the first evidence record that names one ('' when none does)."""
    for record in alert.get("data", {}).get("evidence", {}).get("records", ()):
        region = (record.get("fields") or {}).get("region")
        if region:
            return str(region)
    return ""


def index_alert(state: Mapping[str, Any] | None, alert: Mapping[str, Any]) -> dict[str, Any]:
    """The state of a newly seen alert (a redelivered alert keeps its verdict)."""
    if state is not None:
        return dict(state)
    return {"detector": alert["data"]["detector"], "region": region_of(alert), "verdict": OPEN}


def apply_verdict(state: Mapping[str, Any], disposition: Mapping[str, Any]
                  ) -> tuple[dict[str, Any], str]:
    """The alert's state after a disposition, and its verdict before (a later disposition
    replaces an earlier one: a dismissed alert can be confirmed on appeal)."""
    return {**state, "verdict": disposition["verdict"]}, state["verdict"]


def tally(states: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], dict[str, int]]:
    """Counts per (detector, region) of confirmed, dismissed and open alerts."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for state in states:
        row = out.setdefault((state["detector"], state["region"]), dict.fromkeys(VERDICTS, 0))
        row[state["verdict"]] += 1
    return out


def precision(counts: Mapping[str, int]) -> float | None:
    """Confirmed / decided; None before anything is decided."""
    decided = counts.get("confirmed", 0) + counts.get("dismissed", 0)
    return counts.get("confirmed", 0) / decided if decided else None
