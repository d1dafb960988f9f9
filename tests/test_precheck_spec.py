"""The OpenAPI description of the pre-check is a valid OpenAPI document and cannot drift from
the payment contract it wraps: its request schema is generated from payment.schema.json
(schemas/openapi.py), and this test fails when the contract changed and the description was
not regenerated (`python -m schemas.openapi`)."""

from __future__ import annotations

import copy

import orjson
import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate as validate_openapi

from schemas import SCHEMAS, RecordError, decode, validate
from schemas import openapi as description_module
from schemas.openapi import described, expected, payment_request_schema

SPEC = described()


def test_the_description_is_valid_openapi() -> None:
    validate_openapi(SPEC)


def test_the_request_schema_is_generated_from_the_payment_contract() -> None:
    assert SPEC == expected(SPEC), ("schemas/precheck.openapi.yaml is out of date with "
                                    "schemas/payment.schema.json: run `python -m schemas.openapi`")


@pytest.mark.parametrize("change", [
    lambda p: p["properties"]["payee_id"].update(maxLength=128),
    lambda p: p["properties"]["purpose"]["enum"].append("pension"),
    lambda p: p["properties"].update(currency={"type": "string"}),
    lambda p: p["required"].append("project_id"),
])
def test_a_changed_payment_schema_fails_the_check(monkeypatch: pytest.MonkeyPatch,
                                                  change: object) -> None:
    changed = copy.deepcopy(SCHEMAS["payment"])
    change(changed)  # type: ignore[operator]
    monkeypatch.setitem(description_module.SCHEMAS, "payment", changed)
    assert SPEC != expected(SPEC)


def test_every_limit_of_the_contract_is_in_the_description() -> None:
    request = SPEC["components"]["schemas"]["Payment"]
    contract = SCHEMAS["payment"]
    assert request["required"] == contract["required"]
    for name, field in contract["properties"].items():
        for word in ("minLength", "maxLength", "minimum", "maximum", "enum", "format"):
            if word in field and name != "status":
                assert request["properties"][name][word] == field[word], (name, word)
    assert request["properties"]["status"]["enum"] == ["requested"]
    assert request["properties"]["project_id"]["nullable"] is True
    assert payment_request_schema(contract) == request


@pytest.mark.parametrize("payee, valid", [
    ("P-1", True), (" P-1\u200b", True), ("", False), ("   ", False), ("\u200b\ufeff", False),
])
def test_ids_the_server_refuses_as_blank_the_description_refuses(payee: str,
                                                                 valid: bool) -> None:
    request = SPEC["components"]["schemas"]["Payment"]
    body = {**SPEC["paths"]["/v1/precheck"]["post"]["requestBody"]["content"][
        "application/json"]["example"], "payee_id": payee}
    assert OAS30Validator(request).is_valid(body) is valid
    try:
        decode("payments", orjson.dumps(body))  # what the server applies
        accepted = True
    except RecordError:
        accepted = False
    assert accepted is valid


def test_the_examples_in_the_description_are_valid() -> None:
    post = SPEC["paths"]["/v1/precheck"]["post"]
    validate("payment", dict(post["requestBody"]["content"]["application/json"]["example"]))


def test_every_answer_the_server_gives_is_described() -> None:
    responses = SPEC["paths"]["/v1/precheck"]["post"]["responses"]
    assert set(responses) == {"200", "400", "401", "408", "413", "503"}
    decision = SPEC["components"]["schemas"]["Decision"]["properties"]["decision"]
    assert decision["enum"] == ["allow", "hold"]
