"""Findings as alerts: CloudEvents 1.0 structured JSON with a deterministic id (CONTRACT.md)."""

from __future__ import annotations

import uuid
from typing import Any

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
