"""The data contract as code: schemas/*.schema.json, schemas.decode/validate, schemas.records."""

import copy
import math
import pickle
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fastjsonschema
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schemas
from schemas import (
    FEEDS,
    REASON_CODES,
    RECORD_TYPES,
    SCHEMAS,
    RecordError,
    contract,
    decode,
    event_ts,
    parse_time,
    validate,
)
from schemas import records as R

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "schemas" / "examples"
EXAMPLE_FILES = sorted(EXAMPLES_DIR.glob("*.json"))
FEED_OF = {
    "bid": "bids",
    "attendance": "attendance",
    "prescription": "prescriptions",
    "payment": "payments",
    "registry-person": "registry",
    "registry-company": "registry",
    "disposition": "alert-dispositions",
}
# A valid record per feed; the bad cases below are mutations of it.
BASE_EXAMPLE = {
    "bids": "bid.award",
    "attendance": "attendance.check-in",
    "prescriptions": "prescription.prescription",
    "payments": "payment.work-subsidy-requested",
    "registry": "registry-person.village-cadre",
    "alert-dispositions": "disposition.confirmed",
    "alerts": "alert.ineligible-subsidy-payee",
}
TYPED = {
    "bid": R.Bid,
    "attendance": R.Attendance,
    "prescription": R.Prescription,
    "payment": R.Payment,
    "registry-person": R.RegistryPerson,
    "registry-company": R.RegistryCompany,
    "alert": R.Alert,
    "disposition": R.Disposition,
    "dead-letter": R.DeadLetter,
}
FIELD_CODES = {"missing_field", "wrong_type", "bad_value", "bad_time", "unknown_record_type"}


def record_type_of(path: Path) -> str:
    return path.name.split(".", 1)[0]


def example(name: str) -> dict:
    return orjson.loads((EXAMPLES_DIR / f"{name}.json").read_bytes())


def base(feed: str) -> dict:
    return example(BASE_EXAMPLE[feed])


DELETE = object()


def mutated(record: dict, path: tuple, value) -> dict:
    rec = copy.deepcopy(record)
    target = rec
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return rec


def rejects(feed: str, raw: bytes | None, **kw) -> RecordError:
    with pytest.raises(RecordError) as info:
        decode(feed, raw, **kw)
    err = info.value
    assert err.code in REASON_CODES
    assert str(err) == err.reason and err.reason
    return err


# --------------------------------------------------------------------------- schema files

def test_every_record_type_has_a_schema_file_and_an_example():
    assert set(SCHEMAS) == set(RECORD_TYPES)
    assert {record_type_of(p) for p in EXAMPLE_FILES} == set(RECORD_TYPES)
    for rt in RECORD_TYPES:
        assert (EXAMPLES_DIR.parent / f"{rt}.schema.json").is_file()


def _subschemas(node, path="$"):
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _subschemas(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _subschemas(v, f"{path}[{i}]")


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_schema_file_is_versioned_documented_and_open(record_type):
    s = SCHEMAS[record_type]
    assert s["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert s["$id"] == f"https://sunlight.example/schemas/{record_type}/1.json"
    assert s["version"] == 1
    assert s["description"]
    for path, sub in _subschemas(s):
        # Unknown extra fields are kept and ignored, never an error.
        assert sub.get("additionalProperties", True) is not False, path
        if ".if" in path:  # the condition of a conditional requirement
            continue
        for name, prop in sub.get("properties", {}).items():
            assert prop.get("description"), f"{path}.properties.{name} has no description"


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_typed_records_match_the_schema(record_type):
    s = SCHEMAS[record_type]
    td = TYPED[record_type]
    assert set(typing.get_type_hints(td)) == set(s["properties"])
    assert td.__required_keys__ == frozenset(s["required"])


def test_nested_typed_records_match_the_schema():
    kp = SCHEMAS["bid"]["properties"]["key_personnel"]["items"]
    assert R.KeyPersonnel.__required_keys__ == frozenset(kp["required"]) == set(kp["properties"])
    role = SCHEMAS["registry-person"]["properties"]["roles"]["items"]
    assert R.Role.__required_keys__ == frozenset(role["required"])
    assert set(typing.get_type_hints(R.Role)) == set(role["properties"])
    data = SCHEMAS["alert"]["properties"]["data"]
    assert R.AlertData.__required_keys__ == frozenset(data["required"])


def test_enums_are_the_contracts():
    def enum(rt, field):
        return tuple(SCHEMAS[rt]["properties"][field]["enum"])

    assert enum("bid", "stage") == typing.get_args(R.BidStage) == ("tender", "bid", "award")
    assert enum("bid", "category") == typing.get_args(R.BidCategory) == (
        "works", "goods", "services", "labour_only", "materials", "lease",
    )
    assert enum("attendance", "kind") == ("check_in", "check_out")
    assert enum("prescription", "kind") == ("purchase", "prescription")
    assert enum("payment", "status") == ("requested", "executed")
    assert enum("payment", "payee_kind") == ("person", "company")
    assert enum("payment", "purpose") == typing.get_args(R.PaymentPurpose) == (
        "work_subsidy", "welfare_subsidy", "injury_insurance", "materials", "services", "wages",
        "lease_rent", "other",
    )
    assert enum("disposition", "verdict") == ("confirmed", "dismissed")
    data = SCHEMAS["alert"]["properties"]["data"]["properties"]
    assert tuple(data["severity"]["enum"]) == ("red", "yellow")
    assert tuple(data["action"]["enum"]) == ("hold", "review")


# --------------------------------------------------------------------------- valid records

@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_validates(path):
    obj = orjson.loads(path.read_bytes())
    before = copy.deepcopy(obj)
    assert validate(record_type_of(path), obj) is obj
    assert obj == before


@pytest.mark.parametrize(
    "path", [p for p in EXAMPLE_FILES if record_type_of(p) in FEED_OF], ids=lambda p: p.stem
)
def test_example_decodes_on_its_feed(path):
    raw = path.read_bytes()
    assert decode(FEED_OF[record_type_of(path)], raw) == orjson.loads(raw)


@pytest.mark.parametrize("feed", FEEDS)
def test_unknown_extra_fields_are_kept(feed):
    rec = {**base(feed), "x_upstream_batch": {"id": 7, "tags": ["a", None]}, "zz": None}
    if feed == "bids":
        rec["key_personnel"][0]["badge_no"] = "B-17"
    out = decode(feed, orjson.dumps(rec))
    assert out == rec
    assert out["x_upstream_batch"] == {"id": 7, "tags": ["a", None]}


@pytest.mark.parametrize(
    "feed, path, value",
    [
        ("bids", ("bidder_id",), DELETE),  # a tender has no bidder
        ("bids", ("key_personnel",), DELETE),  # an award without key personnel
        ("bids", ("reference_price",), None),  # optional: null means absent
        ("prescriptions", ("unit_price",), None),
        ("payments", ("project_id",), None),
        ("payments", ("amount",), 0),
        ("payments", ("event_time",), "2026-05-14T01:30:00Z"),
        ("payments", ("event_time",), "2026-05-14T09:30:00.123456789+08:00"),
        ("payments", ("event_time",), "2026-05-14 09:30:00+08:00"),  # RFC 3339 5.6 note
        ("payments", ("event_time",), "2026-05-14t01:30:00z"),
        ("payments", ("event_time",), "2016-12-31T23:59:60Z"),  # leap second
        ("registry", ("roles",), DELETE),  # absent arrays mean empty
        ("registry", ("relatives",), DELETE),
        ("registry", ("integrity_flags",), DELETE),
        ("registry", ("deceased_on",), None),
        ("registry", ("deceased_on",), "1962-07-01"),  # dates may predate 1970
        ("registry", ("roles", 0, "end"), None),
        ("alert-dispositions", ("note",), DELETE),
    ],
)
def test_lenient_where_the_contract_is(feed, path, value):
    rec = mutated(base(feed), path, value)
    if feed == "bids" and path == ("bidder_id",):
        rec["stage"] = "tender"
        del rec["key_personnel"]
    assert decode(feed, orjson.dumps(rec)) == rec


def test_purchase_needs_no_doctor_and_company_needs_no_shareholders():
    purchase = example("prescription.purchase")
    assert "doctor_id" not in purchase
    assert decode("prescriptions", orjson.dumps(purchase)) == purchase
    company = example("registry-company.construction")
    del company["shareholder_ids"]
    assert decode("registry", orjson.dumps(company)) == company


# --------------------------------------------------------------------------- unreadable input

NAN_SPLICE = {
    "nan": b'"zz_extra": NaN, ',
    "infinity": b'"zz_extra": Infinity, ',
    "overflow_1e999": b'"zz_extra": 1e999, ',
}


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize(
    "raw, code, says",
    [
        (b'{"event_id": "e1", ', "not_json", "not valid JSON"),
        (b"{'event_id': 'e1'}", "not_json", "not valid JSON"),
        (b'{"event_id": "\xff\xfe"}', "not_json", "UTF-8"),
        (b'{"event_id": "\xed\xa0\x80"}', "not_json", "UTF-8"),  # encoded surrogate
        (b'[{"event_id": "e1"}]', "not_object", "array"),
        (b'"e1"', "not_object", "string"),
        (b"null", "not_object", "null"),
        (b"", "empty", "empty"),
        (None, "empty", "empty"),
        (b"[" * 100_000, "not_json", "deep"),
        (b'{"a":' * 50_000, "not_json", "deep"),
    ],
    ids=[
        "truncated", "single_quotes", "invalid_utf8", "surrogate", "json_array", "json_string",
        "json_null", "empty_bytes", "none", "deep_array", "deep_object",
    ],
)
def test_unreadable_input_is_rejected(feed, raw, code, says):
    err = rejects(feed, raw)
    assert err.code == code
    assert says in err.reason


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize("opener, closer", [(b"[", b"]"), (b'{"a":', b"}")])
def test_a_record_readable_but_too_deep_to_write_again_is_rejected(feed, opener, closer):
    # orjson reads up to 1024 levels but writes only 254: a record carried to the keyed stage
    # (its envelope) or cited in evidence is written again, so it is refused here, clearly.
    record = base(feed)
    nested = b'"zz_extra_deep": ' + opener * 300 + b"1" + closer * 300
    raw = b"{" + nested + b", " + orjson.dumps(record)[1:]
    err = rejects(feed, raw)
    assert err.code == "not_json" and "too deeply" in err.reason
    shallow = b'{"zz_extra_deep": ' + opener * 200 + b"1" + closer * 200 + b", "
    decoded = decode(feed, shallow + orjson.dumps(record)[1:])
    decoded.pop("zz_extra_deep")
    assert decoded == decode(feed, orjson.dumps(record))


@pytest.mark.parametrize("feed", FEEDS)
@pytest.mark.parametrize("literal", sorted(NAN_SPLICE))
def test_non_finite_number_literal_is_rejected(feed, literal):
    raw = orjson.dumps(base(feed))
    raw = b"{" + NAN_SPLICE[literal] + raw[1:]
    assert rejects(feed, raw).code == "not_json"


@pytest.mark.parametrize("feed", FEEDS)
def test_oversized_record_is_rejected_with_size_and_limit(feed):
    raw = orjson.dumps(base(feed))
    limit = len(raw) - 1
    err = rejects(feed, raw, max_bytes=limit)
    assert err.code == "oversized"
    assert str(len(raw)) in err.reason and str(limit) in err.reason
    assert decode(feed, raw, max_bytes=len(raw)) == orjson.loads(raw)


def test_default_limit_is_one_mebibyte():
    rec = {**base("payments"), "padding": "x" * 1_048_576}
    assert rejects("payments", orjson.dumps(rec)).code == "oversized"


# --------------------------------------------------------------------------- bad fields

TIME_FIELD = {feed: ("event_time",) for feed in FEEDS}
TIME_FIELD["registry"] = ("roles", 0, "start")  # reference data: dates, no event_time
TIME_FIELD["alert-dispositions"] = ("decided_at",)
TIME_FIELD["alerts"] = ("time",)
ID_FIELD = {feed: ("event_id",) for feed in FEEDS}
ID_FIELD["registry"] = ("person_id",)
ID_FIELD["alert-dispositions"] = ("alert_id",)
ID_FIELD["alerts"] = ("id",)

BAD = [
    # every feed: its id missing, its time without offset / not a calendar time / absurd year
    *[(f, "missing_id", ID_FIELD[f], DELETE, "missing_field") for f in FEEDS],
    *[(f, "empty_id", ID_FIELD[f], "", "bad_value") for f in FEEDS],
    *[(f, "id_not_string", ID_FIELD[f], 42, "wrong_type") for f in FEEDS],
    *[(f, "id_too_long", ID_FIELD[f], "x" * 10_000, "bad_value") for f in FEEDS],
    *[
        (f, "time_without_offset", TIME_FIELD[f], "2026-05-14 09:30", "bad_time")
        for f in FEEDS
    ],
    *[
        (f, "naive_time", TIME_FIELD[f], "2026-05-14T09:30:00", "bad_time")
        for f in FEEDS if f != "registry"
    ],
    *[
        (f, "bad_date", TIME_FIELD[f], "2026-02-30T09:30:00+08:00", "bad_time")
        for f in FEEDS if f != "registry"
    ],
    *[
        (f, "year_9999", TIME_FIELD[f], "9999-05-14T09:30:00+08:00", "bad_time")
        for f in FEEDS if f != "registry"
    ],
    *[
        (f, "year_1900", TIME_FIELD[f], "1900-05-14T09:30:00+08:00", "bad_time")
        for f in FEEDS if f != "registry"
    ],
    *[(f, "time_not_string", TIME_FIELD[f], 1778722200, "wrong_type") for f in FEEDS],
    *[
        (f, "missing_region", ("region",), DELETE, "missing_field")
        for f in FEEDS if f not in ("registry", "alert-dispositions", "alerts")
    ],
    *[
        (f, "empty_region", ("region",), "", "bad_value")
        for f in FEEDS if f not in ("registry", "alert-dispositions", "alerts")
    ],
    # bids
    ("bids", "amount_as_string", ("amount",), "462500", "wrong_type"),
    ("bids", "amount_as_bool", ("amount",), True, "wrong_type"),
    ("bids", "negative_amount", ("amount",), -1, "bad_value"),
    ("bids", "absurd_amount", ("amount",), 1e20, "bad_value"),
    ("bids", "unknown_stage", ("stage",), "offer", "bad_value"),
    ("bids", "unknown_category", ("category",), "weapons", "bad_value"),
    ("bids", "award_missing_bidder_id", ("bidder_id",), DELETE, "missing_field"),
    ("bids", "negative_reference_price", ("reference_price",), -5, "bad_value"),
    ("bids", "key_personnel_not_list", ("key_personnel",), {"person_id": "P"}, "wrong_type"),
    ("bids", "key_personnel_item_not_object", ("key_personnel", 0), "P-1", "wrong_type"),
    (
        "bids", "key_personnel_ratio_1_5",
        ("key_personnel", 0, "required_onsite_ratio"), 1.5, "bad_value",
    ),
    (
        "bids", "key_personnel_ratio_negative",
        ("key_personnel", 1, "required_onsite_ratio"), -0.2, "bad_value",
    ),
    (
        "bids", "key_personnel_missing_person",
        ("key_personnel", 0, "person_id"), DELETE, "missing_field",
    ),
    # attendance
    ("attendance", "unknown_kind", ("kind",), "lunch_break", "bad_value"),
    ("attendance", "project_id_as_number", ("project_id",), 17, "wrong_type"),
    ("attendance", "missing_person_id", ("person_id",), DELETE, "missing_field"),
    ("attendance", "missing_company_id", ("company_id",), DELETE, "missing_field"),
    # prescriptions
    ("prescriptions", "quantity_as_string", ("quantity",), "2", "wrong_type"),
    ("prescriptions", "negative_quantity", ("quantity",), -2, "bad_value"),
    ("prescriptions", "unknown_kind", ("kind",), "sale", "bad_value"),
    ("prescriptions", "prescription_missing_doctor_id", ("doctor_id",), DELETE, "missing_field"),
    (
        "prescriptions", "prescription_missing_patient_ref",
        ("patient_ref",), DELETE, "missing_field",
    ),
    ("prescriptions", "negative_unit_price", ("unit_price",), -1.5, "bad_value"),
    # payments
    ("payments", "amount_as_string", ("amount",), "3600", "wrong_type"),
    ("payments", "amount_as_null", ("amount",), None, "wrong_type"),
    ("payments", "negative_amount", ("amount",), -3600, "bad_value"),
    ("payments", "absurd_amount", ("amount",), 10**18, "bad_value"),
    ("payments", "unknown_status", ("status",), "paid", "bad_value"),
    ("payments", "status_wrong_case", ("status",), "Requested", "bad_value"),
    ("payments", "unknown_payee_kind", ("payee_kind",), "household", "bad_value"),
    ("payments", "unknown_purpose", ("purpose",), "bonus", "bad_value"),
    ("payments", "missing_payee_id", ("payee_id",), DELETE, "missing_field"),
    ("payments", "project_id_as_number", ("project_id",), 17, "wrong_type"),
    # registry
    ("registry", "unknown_record_type", ("record_type",), "vehicle", "unknown_record_type"),
    ("registry", "record_type_not_string", ("record_type",), 1, "unknown_record_type"),
    ("registry", "missing_record_type", ("record_type",), DELETE, "missing_field"),
    ("registry", "roles_not_list", ("roles",), "village_cadre", "wrong_type"),
    ("registry", "roles_null", ("roles",), None, "wrong_type"),
    ("registry", "role_missing_org_id", ("roles", 0, "org_id"), DELETE, "missing_field"),
    ("registry", "role_bad_start_date", ("roles", 0, "start"), "2021-13-01", "bad_time"),
    ("registry", "role_start_year_9999", ("roles", 0, "start"), "9999-01-15", "bad_time"),
    ("registry", "role_end_is_a_time", ("roles", 1, "end"), "2020-12-31T00:00:00Z", "bad_time"),
    ("registry", "deceased_on_bad_date", ("deceased_on",), "2024-02-30", "bad_time"),
    ("registry", "deceased_on_year_9999", ("deceased_on",), "9999-12-31", "bad_time"),
    ("registry", "relative_not_string", ("relatives", 0), 5, "wrong_type"),
    ("registry", "integrity_flags_not_list", ("integrity_flags",), "sanctioned", "wrong_type"),
    # alert-dispositions
    ("alert-dispositions", "unknown_verdict", ("verdict",), "maybe", "bad_value"),
    ("alert-dispositions", "decided_by_as_number", ("decided_by",), 7, "wrong_type"),
    ("alert-dispositions", "missing_decided_at", ("decided_at",), DELETE, "missing_field"),
    ("alert-dispositions", "note_as_object", ("note",), {"text": "x"}, "wrong_type"),
]


def _field_name(path: tuple) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out


@pytest.mark.parametrize(
    "feed, case, path, value, code", BAD, ids=[f"{b[0]}-{b[1]}" for b in BAD]
)
def test_bad_field_is_rejected_naming_the_field(feed, case, path, value, code):
    err = rejects(feed, orjson.dumps(mutated(base(feed), path, value)))
    assert err.code == code, err.reason
    field = _field_name(path)
    assert err.field == field
    assert f"'{field}'" in err.reason, err.reason
    assert len(err.reason) < 400


def test_reasons_read_like_sentences():
    def reason(feed, path, value):
        return rejects(feed, orjson.dumps(mutated(base(feed), path, value))).reason

    assert reason("payments", ("amount",), "3600") == "field 'amount' must be a number, got string"
    assert reason("payments", ("event_time",), "2026-05-14 09:30") == (
        "field 'event_time' is not an RFC 3339 time with an offset: '2026-05-14 09:30'"
    )
    assert reason("payments", ("status",), "paid") == (
        "field 'status' must be one of 'requested', 'executed'; got 'paid'"
    )
    assert reason("payments", ("amount",), -1) == "field 'amount' must be >= 0, got -1"
    assert reason("bids", ("key_personnel", 0, "required_onsite_ratio"), 1.5) == (
        "field 'key_personnel[0].required_onsite_ratio' must be <= 1, got 1.5"
    )
    assert reason("bids", ("bidder_id",), DELETE) == (
        "field 'bidder_id' is required when stage is bid or award"
    )
    assert "year 9999" in reason("payments", ("event_time",), "9999-05-14T09:30:00+08:00")
    # a huge value is not copied into the reason
    assert len(reason("payments", ("status",), "p" * 100_000)) < 200


def test_purchase_missing_supplier_and_company_missing_legal_rep():
    purchase = mutated(example("prescription.purchase"), ("supplier_id",), DELETE)
    err = rejects("prescriptions", orjson.dumps(purchase))
    assert (err.code, err.field) == ("missing_field", "supplier_id")
    assert "kind is purchase" in err.reason
    company = mutated(example("registry-company.construction"), ("legal_rep_id",), DELETE)
    err = rejects("registry", orjson.dumps(company))
    assert (err.code, err.field) == ("missing_field", "legal_rep_id")


def test_several_missing_fields_are_all_named():
    rec = mutated(mutated(base("payments"), ("amount",), DELETE), ("payer_id",), DELETE)
    err = rejects("payments", orjson.dumps(rec))
    assert err.code == "missing_field"
    assert "'payer_id'" in err.reason and "'amount'" in err.reason


def test_unknown_feed_is_a_programming_error():
    with pytest.raises(ValueError) as info:
        decode("payment", b"{}")
    assert not isinstance(info.value, RecordError)


# --------------------------------------------------------------------------- validate (outputs)

ALERT_BAD = [
    (("data", "score"), 1.5, "bad_value"),
    (("data", "score"), -0.1, "bad_value"),
    (("data", "score"), float("nan"), "bad_value"),
    (("data", "score"), float("inf"), "bad_value"),
    (("data", "score"), "0.9", "wrong_type"),
    (("data", "severity"), "orange", "bad_value"),
    (("data", "action"), "stop", "bad_value"),
    (("data", "evidence"), "see the payment", "wrong_type"),
    (("data", "summary"), DELETE, "missing_field"),
    (("data", "evidence", "z"), float("nan"), "bad_value"),
    (("data", "evidence", "observed"), DELETE, "missing_field"),
    (("data", "evidence", "threshold"), 3, "wrong_type"),
    (("data", "evidence", "records"), "the payment", "wrong_type"),
    (("data",), DELETE, "missing_field"),
    (("specversion",), "0.3", "bad_value"),
    (("id",), "", "bad_value"),
    (("subject",), DELETE, "missing_field"),
    (("time",), "2026-05-14T09:30:00", "bad_time"),
]


@pytest.mark.parametrize("path, value, code", ALERT_BAD, ids=[str(b) for b in ALERT_BAD])
def test_bad_alert_is_rejected(path, value, code):
    with pytest.raises(RecordError) as info:
        validate("alert", mutated(example("alert.ineligible-subsidy-payee"), path, value))
    assert info.value.code == code
    assert f"'{_field_name(path)}'" in info.value.reason


DEAD_LETTER_BAD = [
    (("partition",), "3", "wrong_type"),
    (("offset",), 1.5, "wrong_type"),
    (("offset",), DELETE, "missing_field"),
    (("value_b64",), "not base64!", "bad_value"),
    (("key_b64",), DELETE, "missing_field"),
    (("reason",), "", "bad_value"),
    (("reason_code",), "Not JSON", "bad_value"),
    (("received_at",), "yesterday", "bad_time"),
]


@pytest.mark.parametrize(
    "path, value, code", DEAD_LETTER_BAD, ids=[str(b) for b in DEAD_LETTER_BAD]
)
def test_bad_dead_letter_is_rejected(path, value, code):
    with pytest.raises(RecordError) as info:
        validate("dead-letter", mutated(example("dead-letter.not-json"), path, value))
    assert info.value.code == code
    assert f"'{_field_name(path)}'" in info.value.reason


def test_dead_letter_of_a_null_value_and_without_key():
    dl = {**example("dead-letter.not-json"), "key_b64": None, "value_b64": None}
    assert validate("dead-letter", dl) is dl


def test_validate_input_types_too_and_rejects_non_objects():
    assert validate("payment", base("payments")) == base("payments")
    with pytest.raises(RecordError) as info:
        validate("payment", [base("payments")])
    assert info.value.code == "not_object"
    with pytest.raises(RecordError) as info:
        validate("registry-person", example("registry-company.construction"))
    assert info.value.code in ("bad_value", "missing_field")
    with pytest.raises(ValueError) as info:
        validate("payments", {})
    assert not isinstance(info.value, RecordError)


# --------------------------------------------------------------------------- times

def test_event_ts_and_parse_time():
    pay = base("payments")  # 2026-05-14T09:30:00+08:00
    assert event_ts(pay) == datetime(2026, 5, 14, 1, 30, tzinfo=UTC).timestamp()
    dt = parse_time("2026-05-14T09:30:00+08:00")
    assert dt.utcoffset() == timedelta(hours=8)
    assert parse_time("2026-05-14T01:30:00Z") == dt
    assert parse_time("2026-05-14t01:30:00z") == dt
    assert parse_time("2026-05-14T09:30:00.5+08:00").microsecond == 500_000
    assert event_ts(example("disposition.confirmed")) == parse_time(
        "2026-05-16T10:12:00+08:00"
    ).timestamp()
    assert event_ts(example("alert.ineligible-subsidy-payee")) == dt.timestamp()


@pytest.mark.parametrize(
    "s",
    [
        "2026-05-14T09:30:00",
        "2026-05-14 09:30",
        "2026-05-14",
        "2026-05-14T09:30+08:00",
        "2026-05-14T09:30:00+0800",
        "20260514T093000+08:00",
        "2026-05-14T25:30:00+08:00",
        "2026-05-14T09:30:00+24:00",
        "9999-05-14T09:30:00+08:00",
        "1969-12-31T09:30:00+08:00",
        "２０２６-05-14T09:30:00+08:00",
        "",
    ],
)
def test_parse_time_rejects(s):
    with pytest.raises(RecordError) as info:
        parse_time(s)
    assert info.value.code == "bad_time"


def test_event_ts_of_a_record_without_time():
    with pytest.raises(RecordError) as info:
        event_ts(example("registry-person.village-cadre"))
    assert info.value.code == "missing_field"


def test_record_error_is_a_value_error_and_pickles():
    err = RecordError("bad_value", "field 'amount' must be >= 0, got -1", "amount")
    assert isinstance(err, ValueError) and str(err) == err.reason
    back = pickle.loads(pickle.dumps(err))
    assert (back.code, back.reason, back.field) == (err.code, err.reason, err.field)


def test_public_api():
    assert FEEDS == (
        "bids", "attendance", "prescriptions", "payments", "registry", "alert-dispositions",
        "alerts",
    )
    assert REASON_CODES == {
        "not_json", "not_object", "missing_field", "wrong_type", "bad_value", "bad_time",
        "oversized", "unknown_record_type", "empty", "duplicate_key", "key_mismatch",
        "future_time",
    }
    for name in ("FEEDS", "RecordError", "decode", "validate", "event_ts", "parse_time"):
        assert hasattr(schemas, name)


# --------------------------------------------------------------------------- properties

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["2026-05-14T09:30:00+08:00", "2026-02-30", "person", "award", ""]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _assert_dict_or_record_error(feed, raw):
    try:
        out = decode(feed, raw)
    except RecordError as err:
        assert err.code in REASON_CODES
        assert err.reason and str(err) == err.reason
        if err.code in FIELD_CODES:
            assert err.field
    else:
        assert type(out) is dict


@pytest.mark.parametrize("feed", FEEDS)
@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=400))
def test_arbitrary_bytes_give_a_dict_or_a_record_error(feed, raw):
    _assert_dict_or_record_error(feed, raw)


@pytest.mark.parametrize("feed", FEEDS)
@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_records_give_a_dict_or_a_record_error(feed, data):
    rec = base(feed)
    keys = sorted(rec) + ["record_type", "stage", "kind", "key_personnel", "roles"]
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from(keys))
        if data.draw(st.booleans()) and key in rec:
            del rec[key]
        else:
            rec[key] = data.draw(JSON_VALUES)
    _assert_dict_or_record_error(feed, orjson.dumps(rec))


@pytest.mark.parametrize("record_type", RECORD_TYPES)
@settings(max_examples=100, deadline=None, database=None)
@given(obj=st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=6))
def test_validate_arbitrary_objects(record_type, obj):
    try:
        assert validate(record_type, obj) is obj
    except RecordError as err:
        assert err.code in REASON_CODES


def test_non_finite_numbers_cannot_come_from_decode():
    # orjson rejects NaN/Infinity literals and overflowing numbers, so decode needs no scan.
    for raw in (b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400"):
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(raw)
    assert math.isfinite(orjson.loads(b"1" * 30))  # a huge integer becomes a (finite) float
    rec = orjson.dumps(base("payments")).replace(b'"amount":3600', b'"amount":' + b"9" * 30)
    assert rejects("payments", rec).code == "bad_value"


# The compiled checks take the top-level `required` and the if/then/else out of the schema for
# speed (schemas/contract.py::_compile). They must accept exactly what the plain schema accepts.
PLAIN = {
    rt: fastjsonschema.compile(SCHEMAS[rt], formats=contract._FORMATS, use_default=False)
    for rt in RECORD_TYPES
}
BASE_OF_TYPE = {
    "bid": "bid.award",
    "attendance": "attendance.check-in",
    "prescription": "prescription.prescription",
    "payment": "payment.work-subsidy-requested",
    "registry-person": "registry-person.village-cadre",
    "registry-company": "registry-company.construction",
    "alert": "alert.ineligible-subsidy-payee",
    "disposition": "disposition.confirmed",
    "dead-letter": "dead-letter.not-json",
}
STAGES_AND_KINDS = st.sampled_from(
    ["tender", "bid", "award", "purchase", "prescription", "person", "company", None, 3]
)


def test_conditionals_are_checked_outside_the_generated_code():
    for rt, field in (("bid", "stage"), ("prescription", "kind")):
        _, _, conditional = contract._COMPILED[rt]
        assert conditional is not None and conditional.field == field


@pytest.mark.parametrize("record_type", RECORD_TYPES)
@settings(max_examples=300, deadline=None, database=None)
@given(data=st.data())
def test_compiled_checks_accept_exactly_what_the_schema_accepts(record_type, data):
    rec = example(BASE_OF_TYPE[record_type])
    keys = sorted(rec) + ["stage", "kind", "bidder_id", "doctor_id", "supplier_id", "patient_ref"]
    for _ in range(data.draw(st.integers(1, 3))):
        key = data.draw(st.sampled_from(keys))
        if data.draw(st.booleans()) and key in rec:
            del rec[key]
        else:
            rec[key] = data.draw(STAGES_AND_KINDS | JSON_VALUES)
    try:
        PLAIN[record_type](copy.deepcopy(rec))
        plain_ok = True
    except fastjsonschema.JsonSchemaValueException:
        plain_ok = False
    try:
        validate(record_type, rec)
        ours_ok = True
    except RecordError:
        ours_ok = False
    assert ours_ok == plain_ok, rec
