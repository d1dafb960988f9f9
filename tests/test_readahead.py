"""The ingest stage's read-ahead rule (stream/worker/readahead.py): which input partitions it
holds back while a backlog drains."""

from __future__ import annotations

import pytest

from stream.config import Settings, SettingsError
from stream.worker.readahead import ReadAhead

DAY = 86400.0
NOW = 1000 * DAY  # the wall clock, far past the backlog's event times


def reading(**reached: float) -> ReadAhead[str]:
    ahead: ReadAhead[str] = ReadAhead(3600.0)
    for partition, ts in reached.items():
        ahead.reached(partition, ts)
    return ahead


def test_a_partition_read_days_ahead_waits_for_the_slowest() -> None:
    ahead = reading(bids=10 * DAY, payments=2 * DAY, attendance=2 * DAY + 1800)
    assert ahead.hold({"bids", "payments", "attendance"}, NOW) == {"bids"}


def test_it_is_let_go_once_the_others_come_within_the_bound() -> None:
    ahead = reading(bids=10 * DAY, payments=2 * DAY)
    assert ahead.hold({"bids", "payments"}, NOW) == {"bids"}
    ahead.reached("payments", 10 * DAY - 3600)
    assert ahead.hold({"bids", "payments"}, NOW) == set()


def test_the_slowest_partition_is_never_held_so_the_backlog_drains() -> None:
    ahead = reading(a=5 * DAY, b=5 * DAY, c=9 * DAY)
    held = ahead.hold({"a", "b", "c"}, NOW)
    assert held == {"c"} and not {"a", "b"} & held


def test_partitions_read_to_their_end_neither_wait_nor_hold_the_others() -> None:
    # "payments" is caught up (no backlog): it is not held however far ahead it is, and its
    # progress is not the floor the others are measured against.
    ahead = reading(payments=30 * DAY, bids=3 * DAY, attendance=3 * DAY)
    assert ahead.hold({"bids", "attendance"}, NOW) == set()
    ahead = reading(payments=1 * DAY, bids=30 * DAY, attendance=3 * DAY)
    assert ahead.hold({"bids", "attendance"}, NOW) == {"bids"}


def test_current_records_are_never_held_behind_a_backfill() -> None:
    # Last year's bids are being backfilled; today's payments must not wait for them (a
    # payment warning comes before the money moves).
    ahead = reading(bids=NOW - 365 * DAY, payments=NOW - 60)
    assert ahead.hold({"bids", "payments"}, NOW) == set()


def test_a_partition_not_yet_read_holds_nothing() -> None:
    ahead = reading(bids=10 * DAY)
    assert ahead.hold({"bids", "payments"}, NOW) == set()


def test_partitions_moved_away_are_forgotten() -> None:
    ahead = reading(bids=10 * DAY, payments=2 * DAY)
    ahead.forget(["payments"])
    assert ahead.hold({"bids", "payments"}, NOW) == set()


def test_zero_turns_it_off() -> None:
    ahead: ReadAhead[str] = ReadAhead(0.0)
    ahead.reached("bids", 10 * DAY)
    ahead.reached("payments", 2 * DAY)
    assert ahead.hold({"bids", "payments"}, NOW) == set()


def test_the_setting_is_read_from_the_environment() -> None:
    assert Settings().read_ahead_s == 3600.0
    assert Settings.from_env({"SUNLIGHT_READ_AHEAD_S": "0"}).read_ahead_s == 0.0
    assert Settings.from_env({"SUNLIGHT_READ_AHEAD_S": "600"}).read_ahead_s == 600.0
    with pytest.raises(SettingsError, match="SUNLIGHT_READ_AHEAD_S"):
        Settings.from_env({"SUNLIGHT_READ_AHEAD_S": "-1"})
