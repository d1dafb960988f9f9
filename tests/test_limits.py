"""Every size Sunlight publishes is bounded: dead letters and alerts fit their limit, and what
was cut is said and counted."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest

from detectors.base import Finding
from detectors.findings import SUMMARY_CHARS, bounded, to_cloudevent
from schemas import RecordError, validate
from stream.config import Settings
from stream.ingest import FRAMING_BYTES, dead_letter
from stream.topics import ENVELOPE_HEADROOM, check_limits

LIMIT = 100_000


@pytest.mark.parametrize("size", [0, 10, int(0.7 * LIMIT), int(0.9 * LIMIT), LIMIT,
                                  int(1.2 * LIMIT), 5 * LIMIT])
def test_dead_letter_fits_and_keeps_what_it_can(size: int) -> None:
    raw = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    letter = dead_letter(RecordError("not_json", "record is not valid JSON"), raw,
                         b"k" * 5000, "payments", 3, 42, max_bytes=LIMIT)
    encoded = orjson.dumps(letter)
    assert len(encoded) + FRAMING_BYTES <= LIMIT
    validate("dead-letter", letter)
    kept = base64.b64decode(letter["value_b64"])
    if letter.get("value_truncated"):
        assert size > 0.7 * LIMIT
        assert raw.startswith(kept) and len(kept) < size
        assert letter["value_bytes"] == size
        assert letter["value_sha256"] == hashlib.sha256(raw).hexdigest()
        assert len(kept) > 0.6 * LIMIT  # the room is used, not thrown away
    else:
        assert kept == raw
    assert letter["key_truncated"] is True and letter["key_bytes"] == 5000


def test_a_huge_reason_is_cut_and_says_so() -> None:
    letter = dead_letter(RecordError("detector_error", "boom " * 100_000), b"{}", None,
                         "bids", 0, 1, max_bytes=LIMIT)
    assert len(orjson.dumps(letter)) < LIMIT
    assert letter["reason"].endswith("characters more)")
    assert base64.b64decode(letter["value_b64"]) == b"{}"


def fan_out_finding(links: int) -> Finding:
    link = {"company_id": "C-1", "owner_id": "P-REP", "relation": "legal_rep",
            "relative_id": "P-REL-000000", "person_id": "P-REL-000000", "role": "village_cadre",
            "org_id": "VC-1", "start": "2021-01-01", "end": None,
            "path": "company C-1 -> legal_rep P-REP -> relative P-REL-000000 -> village_cadre"}
    return Finding(detector="cadre_linked_award", detector_version="1", subject="project:X",
                   severity="red", route="discipline_inspection", sector="procurement",
                   action="review", score=1.0, summary="linked to " + "P-REL, " * links,
                   time="2026-05-14T10:00:00+08:00", basis=("aw-1",),
                   evidence={"records": [{"event_id": "aw-1"}], "registry_links": [link] * links,
                             "observed": "x" * 50_000, "threshold": "none"})


def test_an_alert_is_cut_to_its_limit_and_counts_what_it_left_out() -> None:
    alert = to_cloudevent(fan_out_finding(5000))
    assert len(orjson.dumps(alert)) > 10 * LIMIT
    small = bounded(alert, LIMIT)
    assert len(orjson.dumps(small)) <= LIMIT
    assert small["id"] == alert["id"]
    validate("alert", small)
    evidence = small["data"]["evidence"]
    kept = len(evidence["registry_links"])
    assert 0 < kept < 5000
    assert evidence["omitted"] == {"registry_links": 5000 - kept}
    assert evidence["records"] == [{"event_id": "aw-1"}]
    assert len(small["data"]["summary"]) <= SUMMARY_CHARS


def test_a_small_alert_is_left_as_it_is() -> None:
    alert = to_cloudevent(fan_out_finding(3))
    alert["data"]["summary"] = "short"
    alert["data"]["evidence"]["observed"] = "short"
    assert bounded(alert, LIMIT) == alert


def test_limits_that_cannot_hold_a_record_and_its_envelope_refuse_to_start() -> None:
    settings = Settings(max_record_bytes=LIMIT, max_message_bytes=LIMIT + 10)
    with pytest.raises(SystemExit, match=str(LIMIT + ENVELOPE_HEADROOM)):
        check_limits(settings, [])
