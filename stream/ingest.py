"""Ingest, the pure part: raw bytes in, a validated Event or a dead letter out.

Shared by the Faust agents, the replay command and the ingest benchmark, so all three decode and
reject exactly alike.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from detectors.base import Event
from schemas import RecordError, decode, event_ts


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that could not be read or failed the contract, ready for ``dead-letters``."""

    code: str
    reason: str
    letter: dict[str, Any]


def ingest(
    feed: str,
    raw: bytes | None,
    *,
    key: bytes | None = None,
    topic: str = "",
    partition: int = -1,
    offset: int = -1,
    max_bytes: int = 1_048_576,
) -> Event | Rejected:
    try:
        record = decode(feed, raw, max_bytes)
        ts = event_ts(record) if "event_time" in record else 0.0
    except RecordError as err:
        return Rejected(err.code, err.reason, dead_letter(err, raw, key, topic, partition, offset))
    return Event(feed, record, ts, topic, partition, offset)


def dead_letter(
    err: RecordError,
    raw: bytes | None,
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
) -> dict[str, Any]:
    """The dead-letters record (schemas/dead-letter.schema.json): the original bytes and where
    they came from, so nothing is lost and a person can see why."""
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key_b64": None if key is None else base64.b64encode(key).decode(),
        "value_b64": None if raw is None else base64.b64encode(raw).decode(),
        "reason": err.reason,
        "reason_code": err.code,
        "received_at": datetime.fromtimestamp(time.time(), UTC).isoformat(),
    }
