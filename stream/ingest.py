"""Ingest, the pure part: raw bytes in, a validated Event or a dead letter out.

Shared by the Faust agents, the replay command and the ingest benchmark, so all three decode and
reject exactly alike.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from detectors.base import Event
from schemas import RecordError, decode, event_ts

#: Room a dead letter keeps for its key, Kafka's record framing and a batch header.
FRAMING_BYTES = 1024
#: Longest original key a dead letter carries whole (keys name things; longer ones are junk).
KEY_BYTES = 1024
#: Longest reason kept (a detector's exception message can be anything).
REASON_CHARS = 4000


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
    letter_bytes: int = 2_097_152,
    latest_ts: float = float("inf"),
) -> Event | Rejected:
    """``latest_ts``: the latest event time accepted (live: the wall clock plus a tolerance),
    so that no wrong clock upstream can drag event time ahead."""
    try:
        record = decode(feed, raw, max_bytes)
        # Registry records have no time; alerts read back and verdicts have their own.
        ts = event_ts(record) if feed != "registry" else 0.0
        if ts > latest_ts and "event_time" in record:
            raise RecordError(
                "future_time", f"field 'event_time' {record['event_time']!r} is ahead of the "
                f"latest time accepted ({datetime.fromtimestamp(latest_ts, UTC).isoformat()}: "
                "the clock plus the tolerance); a record from the future would close windows "
                "that have not happened yet", "event_time")
    except RecordError as err:
        return Rejected(err.code, err.reason,
                        dead_letter(err, raw, key, topic, partition, offset, letter_bytes))
    return Event(feed, record, ts, topic, partition, offset)


def is_deletion(feed: str, raw: bytes | None, key: bytes | None) -> bool:
    """A tombstone on the compacted ``registry`` topic (a key, no value): it deletes the entry
    of that id. Not a record, so never a reject: the registry view applies it."""
    return feed == "registry" and raw is None and key is not None


def registry_key_error(key: bytes | None, record: Mapping[str, Any]) -> RecordError | None:
    """The registry topic is keyed by id (compaction keeps the last record per key, and a
    deletion names the key): a record under another key, or none, would survive its own
    deletion and disagree with what a restarted worker rebuilds."""
    field = "person_id" if record["record_type"] == "person" else "company_id"
    given = None if key is None else key.decode("utf-8", "replace")
    if given == record[field]:
        return None
    shown = "no key" if given is None else f"key {given[:80]!r}"
    return RecordError("key_mismatch", f"registry record has {shown}, but its {field} is "
                       f"{record[field][:80]!r}: the registry topic is keyed by id", field)


def dead_letter(
    err: RecordError,
    raw: bytes | None,
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    max_bytes: int = 2_097_152,
) -> dict[str, Any]:
    """The dead-letters record (schemas/dead-letter.schema.json): the original bytes and where
    they came from, so nothing is lost and a person can see why.

    Bounded: the letter, once JSON, fits in ``max_bytes`` (what the producer may publish).
    An original too big to fit is kept as its first bytes, with ``value_truncated`` true, its
    full length (``value_bytes``) and its ``value_sha256``, so the record can still be found
    and proven at its source; the key likewise (``key_*``) beyond :data:`KEY_BYTES`."""
    reason = err.reason if len(err.reason) <= REASON_CHARS else (
        err.reason[:REASON_CHARS] + f"... ({len(err.reason) - REASON_CHARS} characters more)")
    letter: dict[str, Any] = {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        **_original("key", key, KEY_BYTES),
        "value_b64": None,
        "reason": reason,
        "reason_code": err.code,
        "received_at": datetime.fromtimestamp(time.time(), UTC).isoformat(),
    }
    if raw is None:
        return letter
    # What the rest of the letter leaves for the value (base64 is 4 bytes per 3).
    room = max_bytes - FRAMING_BYTES - len(orjson.dumps(letter)) - 200
    letter.update(_original("value", raw, max(0, room) // 4 * 3))
    return letter


def _original(name: str, data: bytes | None, limit: int) -> dict[str, Any]:
    """``<name>_b64`` for ``data``: whole when it is at most ``limit`` bytes, else its first
    ``limit`` bytes plus ``<name>_truncated``, ``<name>_bytes`` and ``<name>_sha256``."""
    if data is None:
        return {f"{name}_b64": None}
    if len(data) <= limit:
        return {f"{name}_b64": base64.b64encode(data).decode()}
    return {f"{name}_b64": base64.b64encode(data[:limit]).decode(),
            f"{name}_truncated": True,
            f"{name}_bytes": len(data),
            f"{name}_sha256": hashlib.sha256(data).hexdigest()}
