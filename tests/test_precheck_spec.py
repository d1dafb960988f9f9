"""The OpenAPI description of the pre-check agrees with the contract it wraps."""

from __future__ import annotations

from pathlib import Path

import yaml

from schemas import SCHEMAS

SPEC = yaml.safe_load((Path(__file__).parent.parent / "schemas" / "precheck.openapi.yaml")
                      .read_text())


def test_request_schema_matches_the_payment_contract() -> None:
    contract = SCHEMAS["payment"]
    request = SPEC["components"]["schemas"]["Payment"]
    assert set(request["required"]) == set(contract["required"])
    for field in ("purpose", "payee_kind"):
        assert request["properties"][field]["enum"] == contract["properties"][field]["enum"]


def test_every_answer_the_server_gives_is_described() -> None:
    responses = SPEC["paths"]["/v1/precheck"]["post"]["responses"]
    assert set(responses) == {"200", "400", "401", "503"}
    decision = SPEC["components"]["schemas"]["Decision"]["properties"]["decision"]
    assert decision["enum"] == ["allow", "hold"]
