"""Time helpers every detector shares. Event time is epoch seconds; a record's day is its
calendar date at its own UTC offset (``Event.day``); days are ISO dates or proleptic ordinals.

>>> midnight("2026-05-11", 8 * 3600) == day_end("2026-05-10T23:59:00+08:00")
True
>>> iso(midnight(utc_ordinal(86400.0 * 365)))
'1971-01-01T00:00:00Z'
>>> monday_of("2026-05-14"), add_days("2026-05-14", 4), utc_day(0.0)
('2026-05-11', '2026-05-18', '1970-01-01')
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

HOUR = 3600.0
DAY = 86400.0
WEEK = 7 * DAY

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def midnight(day: str | int, offset_s: float = 0.0) -> float:
    """Epoch seconds of 00:00 on ``day`` (an ISO date or a proleptic ordinal) at a UTC offset
    of ``offset_s`` seconds."""
    ordinal = date.fromisoformat(day).toordinal() if isinstance(day, str) else day
    return (ordinal - _EPOCH_ORDINAL) * DAY - offset_s


@lru_cache(maxsize=256)
def iso_date(ordinal: int) -> str:
    """The ISO date of a proleptic ordinal. Remembered: a detector's forget() runs after
    every event, with a horizon whose date changes once a day.

    >>> iso_date(utc_ordinal(0.0))
    '1970-01-01'
    """
    return date.fromordinal(ordinal).isoformat()


def day_end(time: str) -> float:
    """Epoch seconds of the end of the calendar day of the RFC 3339 ``time``, at its own
    offset."""
    moment = datetime.fromisoformat(time)
    offset = moment.utcoffset()
    return midnight(moment.date().toordinal() + 1, offset.total_seconds() if offset else 0.0)


def utc_ordinal(ts: float) -> int:
    """The proleptic ordinal of the UTC date of epoch seconds ``ts``, for any float (a
    watermark can be infinite).

    >>> date.fromordinal(utc_ordinal(86400.0 * 365)).isoformat(), utc_ordinal(float("inf")) > 0
    ('1971-01-01', True)
    """
    if ts != ts or ts >= DAY * (date.max.toordinal() - _EPOCH_ORDINAL):
        return date.max.toordinal()
    if ts <= DAY * (1 - _EPOCH_ORDINAL):
        return 1
    return int(ts // DAY) + _EPOCH_ORDINAL


def utc_day(ts: float) -> str:
    """The UTC date of epoch seconds ``ts`` (ISO)."""
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def iso(ts: float) -> str:
    """Epoch seconds as an RFC 3339 UTC time."""
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def monday_of(day: str) -> str:
    """The Monday of ``day``'s week (ISO dates)."""
    d = date.fromisoformat(day)
    return (d - timedelta(days=d.weekday())).isoformat()


def add_days(day: str, n: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=n)).isoformat()
