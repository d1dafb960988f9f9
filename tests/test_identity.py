"""One spelling per id, one meaning per record: ids are normalised in decode (used by the
stream, the registry view and the pre-check alike) and a key given twice is rejected."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from schemas import RecordError, decode, normalise_id

EXAMPLES = Path(__file__).resolve().parent.parent / "schemas" / "examples"


def example(name: str) -> dict:
    return orjson.loads((EXAMPLES / f"{name}.json").read_bytes())


@pytest.mark.parametrize("spelling", ["P-LUO", " P-LUO ", "P-\u200bLUO", "\ufeffP-LUO",
                                      "\uff30-LUO", "P-LUO\u3000", "P\u2060-LUO\u200d"])
def test_every_spelling_of_an_id_is_one_id(spelling: str) -> None:
    assert normalise_id(spelling) == "P-LUO"
    record = {**example("payment.work-subsidy-requested"), "payee_id": spelling}
    assert decode("payments", orjson.dumps(record))["payee_id"] == "P-LUO"


def test_ids_are_normalised_at_any_depth_and_in_lists() -> None:
    person = example("registry-person.village-cadre")
    person["person_id"] = " P-330784-0001"
    person["relatives"] = ["P-330784-\u200b0002"]
    person["roles"][0]["org_id"] = "\uff36C-330784-001"
    decoded = decode("registry", orjson.dumps(person))
    assert decoded["person_id"] == "P-330784-0001"
    assert decoded["relatives"] == ["P-330784-0002"]
    assert decoded["roles"][0]["org_id"] == "VC-330784-001"
    award = example("bid.award")
    award["key_personnel"][0]["person_id"] = "P-330784-0419 "
    assert decode("bids", orjson.dumps(award))["key_personnel"][0]["person_id"] == \
        "P-330784-0419"


def test_an_id_of_nothing_but_invisible_characters_is_empty() -> None:
    record = {**example("payment.work-subsidy-requested"), "payee_id": "\u200b \u200b"}
    with pytest.raises(RecordError) as err:
        decode("payments", orjson.dumps(record))
    assert err.value.field == "payee_id"


def test_names_and_other_text_are_left_as_they_are() -> None:
    person = {**example("registry-person.village-cadre"), "name": " Wang\u200b "}
    assert decode("registry", orjson.dumps(person))["name"] == " Wang\u200b "


@pytest.mark.parametrize("raw", [
    b'{"event_id": "a", "event_id": "b"}',
    b'{"event_id":"a","amount":1,"amount":2}',
    b'{"event_id" : "a" ,\n "x": {"k": 1, "k" :2}}',
    b'{"a": [{"k": 1}, {"k": 1, "k": 1}]}',
])
def test_a_key_given_twice_is_rejected(raw: bytes) -> None:
    with pytest.raises(RecordError) as err:
        decode("payments", raw)
    assert err.value.code == "duplicate_key"
    assert "more than once" in err.value.reason


def test_a_quote_and_colon_inside_a_string_is_no_duplicate() -> None:
    record = {**example("payment.work-subsidy-requested"), "note": 'he said "x": y'}
    raw = orjson.dumps(record)
    assert b'\\":' in raw
    assert decode("payments", raw)["note"] == 'he said "x": y'


def test_pretty_printed_records_still_decode() -> None:
    record = example("bid.award")
    raw = orjson.dumps(record, option=orjson.OPT_INDENT_2).replace(b'":', b'" :')
    assert decode("bids", raw) == record
