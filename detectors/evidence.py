"""One builder for the ``evidence`` of every alert, so each has what the alert schema requires.

The schema (``schemas/alert.schema.json``, ``data.evidence``) requires ``records`` (the input
records the finding rests on, each at least a topic and an event_id), ``observed`` (what was seen)
and ``threshold`` (what would have stayed silent), both in words and figures. Detectors build
their evidence with :func:`evidence` and each cited record with :func:`record_ref` (or
``Event.ref``, which calls it), so a missing or mistyped required field fails where the finding is
made, in the detector's own tests, not at the alert topic's ingest.

>>> found = evidence(records=[record_ref("payments", "p-1", "2026-01-05T10:00:00+08:00",
...                                      {"amount": 12.5})],
...                  observed="12.5 yuan", threshold="under 10 yuan", z=3.1)
>>> sorted(found), found["records"][0]["fields"]
(['observed', 'records', 'threshold', 'z'], {'amount': 12.5})
>>> evidence(records=[], observed="12.5 yuan")
Traceback (most recent call last):
...
TypeError: evidence() missing 1 required keyword-only argument: 'threshold'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class EvidenceError(ValueError):
    """Evidence lacking what the alert schema requires of every alert."""


def record_ref(topic: str, event_id: str, event_time: str,
               fields: Mapping[str, Any]) -> dict[str, Any]:
    """The evidence entry citing one input record: its topic, event_id, time and the fields
    that matter to the finding."""
    if not topic or not event_id:
        raise EvidenceError(f"a cited record needs a topic and an event_id, got topic {topic!r}, "
                            f"event_id {event_id!r}")
    return {"topic": topic, "event_id": event_id, "event_time": event_time,
            "fields": dict(fields)}


def evidence(*, records: Sequence[Mapping[str, Any]], observed: str, threshold: str,
             registry_links: Sequence[Mapping[str, Any]] | None = None,
             **extra: Any) -> dict[str, Any]:
    """An alert's evidence: the cited ``records`` (from :func:`record_ref`), the ``observed``
    value and the ``threshold`` it crossed (non-empty sentences), the ``registry_links`` relied
    on when the detector consults the registry (left out when None), and the detector's own
    fields (``extra``)."""
    for name, text in (("observed", observed), ("threshold", threshold)):
        if not isinstance(text, str) or not text:
            raise EvidenceError(f"evidence {name} must be a non-empty string, got {text!r}")
    for record in records:
        if not record.get("topic") or not record.get("event_id"):
            raise EvidenceError(f"a cited record needs a topic and an event_id: {record!r}")
    built: dict[str, Any] = {"records": list(records)}
    if registry_links is not None:
        built["registry_links"] = list(registry_links)
    built["observed"] = observed
    built["threshold"] = threshold
    built.update(extra)
    return built
