"""The pre-check's API description holds for a real worker: real answers (hold, allow, 400,
401) match it, and a bounded property-based run (schemathesis: requests generated from the
description, valid and invalid) gets no 500, no hang, and only answers the description gives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from schemas import SCHEMAS
from schemas.contract import is_id_field, normalise_id
from schemas.openapi import DESCRIPTION
from tests.integration.harness import WorkerProcess, World

pytestmark = pytest.mark.integration

TOKEN = "api-description-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
VILLAGE = "VC-330784-051"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
#: Seconds a request may take: longer counts as a hang and fails the test.
REQUEST_TIMEOUT_S = 10


def said_in_words(body: dict[str, Any], refused: dict[str, Any]) -> bool:
    """Whether a refusal follows from a rule the description states in words only: the year
    range of event_time, or an id's length limits after its normalisation (NFKC can make an
    id longer)."""
    if refused.get("code") == "bad_time":
        return True
    field = refused.get("field")
    if refused.get("code") != "bad_value" or not field or not is_id_field(field):
        return False
    limit = SCHEMAS["payment"]["properties"][field]["maxLength"]
    return len(normalise_id(body[field])) > limit


@pytest.fixture(scope="module")
def worker(bootstrap: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[WorkerProcess]:
    world = World(bootstrap, Path(tmp_path_factory.mktemp("precheck-api")))
    try:
        worker = world.start_worker(SUNLIGHT_API_TOKEN=TOKEN)
        worker.wait_ready()
        world.produce("registry", {"record_type": "person", "person_id": "P-API-CADRE",
                                   "roles": [{"role": "village_cadre", "org_id": VILLAGE,
                                              "region": "330784", "start": "2021-01-01"}]},
                      key="P-API-CADRE")
        world.flush()
        worker.wait_metric('sunlight_registry_records{record_type="person"}', 1)
        yield worker
    finally:
        world.close()


@pytest.fixture(scope="module")
def operation() -> Any:
    return schemathesis.openapi.from_path(str(DESCRIPTION))["/v1/precheck"]["POST"]


def payment(payee: str, **extra: Any) -> dict[str, Any]:
    return {"event_id": f"api-{payee}", "event_time": "2026-05-14T09:30:00+08:00",
            "region": "330784", "status": "requested", "payer_id": VILLAGE, "payee_id": payee,
            "payee_kind": "person", "purpose": "work_subsidy", "amount": 900.0, **extra}


@pytest.mark.parametrize("body, headers, status", [
    (payment("P-API-CADRE"), AUTH, 200),                        # hold, with a reason
    (payment("P-API-NOBODY", project_id=None), AUTH, 200),      # allow
    (payment("P-API-NOBODY", amount=-1), AUTH, 400),
    (payment("P-API-NOBODY", payee_id="x" * 257), AUTH, 400),   # over the contract's limit
    (payment("P-API-NOBODY", payee_id=" \u200b "), AUTH, 400),  # blank once normalised
    ({"event_id": "api-x"}, AUTH, 400),
    (payment("P-API-CADRE"), {}, 401),
    (payment("P-API-CADRE"), {"Authorization": "Bearer wrong"}, 401),
])
def test_real_answers_match_the_description(worker: WorkerProcess, operation: Any,
                                            body: dict, headers: dict, status: int) -> None:
    case = operation.Case(body=body, media_type="application/json")
    response = case.call(base_url=worker.url(""), headers=headers, timeout=REQUEST_TIMEOUT_S)
    assert response.status_code == status, response.text
    case.validate_response(response, checks=CHECKS)
    if body.get("payee_id") == "P-API-CADRE" and status == 200:
        assert response.json()["decision"] == "hold"


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_get_no_500_and_no_hang(worker: WorkerProcess, operation: Any,
                                                   mode: GenerationMode) -> None:
    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=worker.url(""), headers=AUTH, timeout=REQUEST_TIMEOUT_S)
        case.validate_response(response, checks=CHECKS)
        if mode.is_positive:  # valid by the description: the worker must not refuse it...
            refused = response.json() if response.status_code == 400 else {}
            assert response.status_code == 200 or said_in_words(case.body, refused), (
                case.body, response.text)

    run()
