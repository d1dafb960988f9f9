"""The data contract (shared/design/CONTRACT.md): JSON Schema files plus decode/validate.

Public API (see :mod:`schemas.contract`)::

    FEEDS                                   logical input feed names
    RecordError(ValueError)                 .code (bounded set, REASON_CODES), .reason, .field
    decode(feed, raw, max_bytes=1_048_576)  bytes -> validated dict (extras kept; ids normalised)
    normalise_id(s)                         one spelling of an id (NFKC, no zero-width, stripped)
    validate(record_type, obj)              any record type in RECORD_TYPES, incl. outputs
    event_ts(record) -> float               event time as epoch seconds (UTC)
    parse_time(s) -> datetime               RFC 3339 with offset -> aware datetime

The typed records are in :mod:`schemas.records`.
"""

import compiled

compiled.install()  # before any module it may serve is imported

from schemas.contract import (  # noqa: E402 - after the install above
    FEED_RECORD_TYPES,
    FEEDS,
    REASON_CODES,
    RECORD_TYPES,
    SCHEMAS,
    RecordError,
    decode,
    event_ts,
    normalise_id,
    parse_date,
    parse_time,
    validate,
)

__all__ = [
    "FEEDS",
    "FEED_RECORD_TYPES",
    "REASON_CODES",
    "RECORD_TYPES",
    "SCHEMAS",
    "RecordError",
    "decode",
    "event_ts",
    "normalise_id",
    "parse_date",
    "parse_time",
    "validate",
]
