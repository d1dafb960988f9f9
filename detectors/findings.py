"""Findings as alerts: CloudEvents 1.0 structured JSON with a deterministic id (CONTRACT.md)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from detectors.base import Finding
from schemas import SCHEMAS

#: Fixed namespace: alert ids are uuid5(namespace, detector|subject|basis...), so the same
#: finding gets the same id in every run, on every worker, live or in replay.
ALERT_NAMESPACE = uuid.UUID("6f1d3c52-7a8e-4f0b-9b1e-5a9c2d7e4b10")
ALERT_TYPE_PREFIX = "org.sunlight.alert."
#: CloudEvents ``dataschema``: the part of the published alert schema that ``data`` follows.
ALERT_DATASCHEMA = SCHEMAS["alert"]["$id"] + "#/properties/data"


def alert_id(finding: Finding) -> str:
    return str(uuid.uuid5(ALERT_NAMESPACE, "|".join((finding.detector, finding.subject,
                                                      *finding.basis))))


def to_cloudevent(finding: Finding, source: str = "sunlight") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": alert_id(finding),
        "source": source,
        "type": ALERT_TYPE_PREFIX + finding.detector,
        "subject": finding.subject,
        "time": finding.time,
        "datacontenttype": "application/json",
        "dataschema": ALERT_DATASCHEMA,
        "data": {
            "detector": finding.detector,
            "detector_version": finding.detector_version,
            "severity": finding.severity,
            "route": finding.route,
            "sector": finding.sector,
            "action": finding.action,
            "score": finding.score,
            "summary": finding.summary,
            "evidence": finding.evidence,
        },
    }


#: The contract's longest summary (alert.schema.json).
SUMMARY_CHARS = 2000
#: Longest string kept in bounded evidence (paths, observed values).
EVIDENCE_CHARS = 1000


def bounded(alert: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """The alert, fitting in ``max_bytes`` of JSON: what the broker takes, and the pre-check's
    answer. Evidence lists are cut to their first entries (the detector's order) and the number
    left out is given in ``evidence["omitted"]`` (list name -> entries dropped); long strings
    are cut, saying how much. The id and everything outside the evidence stay as they are,
    so a bounded alert is still the same alert."""
    data = alert["data"]
    summary = data["summary"]
    if len(summary) > SUMMARY_CHARS:
        data = {**data, "summary": _cut(summary, SUMMARY_CHARS)}
        alert = {**alert, "data": data}
    size = len(orjson.dumps(alert))
    if size <= max_bytes:
        return alert
    evidence = dict(data["evidence"])
    omitted: dict[str, int] = dict(evidence.get("omitted") or {})
    lists = sorted((name for name, value in evidence.items() if isinstance(value, list)),
                   key=lambda name: -len(orjson.dumps(evidence[name])))
    for name in lists:  # largest first; halve until the alert fits
        items = evidence[name]
        while items and size > max_bytes:
            keep = len(items) // 2
            omitted[name] = omitted.get(name, 0) + len(items) - keep
            items = evidence[name] = items[:keep]
            evidence["omitted"] = omitted
            size = len(orjson.dumps({**alert, "data": {**data, "evidence": evidence}}))
    if size > max_bytes:  # still too big: long strings (or big objects) inside the evidence
        evidence = {name: _shrink(value) for name, value in evidence.items()}
    return {**alert, "data": {**data, "evidence": evidence}}


def _cut(text: str, limit: int) -> str:
    suffix = f"... ({len(text) - limit} characters more)"
    return text[: limit - len(suffix)] + suffix


def _shrink(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= EVIDENCE_CHARS else _cut(value, EVIDENCE_CHARS)
    if isinstance(value, dict):
        if len(orjson.dumps(value)) > 8 * EVIDENCE_CHARS:
            return {"omitted": f"an object of {len(orjson.dumps(value))} bytes"}
        return {k: _shrink(v) for k, v in value.items()}
    return value
