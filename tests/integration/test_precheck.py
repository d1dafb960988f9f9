"""The payment pre-check over real HTTP on a real worker, with its registry from a real broker."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.harness import WorkerProcess, World

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token-for-tests"
VILLAGE = "VC-330784-007"


def person(pid: str, *roles: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"record_type": "person", "person_id": pid, "roles": list(roles), **extra}


def cadre_role(start: str = "2021-01-01") -> dict[str, Any]:
    return {"role": "village_cadre", "org_id": VILLAGE, "region": "330784", "start": start}


def request(payee: str, event_id: str, purpose: str = "work_subsidy",
            status: str = "requested") -> dict[str, Any]:
    return {"event_id": event_id, "event_time": "2026-05-14T09:30:00+08:00",
            "region": "330784", "status": status, "payer_id": VILLAGE, "payee_id": payee,
            "payee_kind": "person", "purpose": purpose, "amount": 900.0}


def post(worker: WorkerProcess, body: bytes | dict, token: str | None = TOKEN
         ) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    req = urllib.request.Request(worker.url("/v1/precheck"), data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, orjson.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read() or b"{}")


@pytest.fixture(scope="module")
def deployment(bootstrap: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[tuple[World, WorkerProcess]]:
    world = World(bootstrap, Path(tmp_path_factory.mktemp("precheck")))
    try:
        worker = world.start_worker(SUNLIGHT_API_TOKEN=TOKEN)
        worker.wait_ready()
        world.produce("registry", person("P-CADRE", cadre_role()), key="P-CADRE")
        world.produce("registry", person("P-VILLAGER"), key="P-VILLAGER")
        world.produce("registry", person("P-DEAD", deceased_on="2025-01-09"), key="P-DEAD")
        world.flush()
        worker.wait_metric('sunlight_registry_records{record_type="person"}', 3)
        yield world, worker
    finally:
        world.close()


def test_cadre_work_subsidy_is_held_and_alerted(deployment: tuple) -> None:
    world, worker = deployment
    status, body = post(worker, request("P-CADRE", "pc-1"))
    assert status == 200
    assert body["decision"] == "hold"
    [reason] = body["reasons"]
    assert reason["detector"] == "ineligible_subsidy_payee"
    assert reason["severity"] == "red" and reason["action"] == "hold"
    assert reason["evidence"]["registry_links"][0]["org_id"] == VILLAGE
    assert body["alert_ids"] == [reason["alert_id"]]
    alerts = world.read("alerts", expect=1, settle=0.5)
    assert [a["id"] for a in alerts if a["subject"] == "person:P-CADRE"] == body["alert_ids"]


def test_welfare_subsidy_to_the_dead_is_held(deployment: tuple) -> None:
    _, worker = deployment
    status, body = post(worker, request("P-DEAD", "pc-dead", purpose="welfare_subsidy"))
    assert (status, body["decision"]) == (200, "hold")
    assert [r["detector"] for r in body["reasons"]] == ["deceased_recipient"]


def test_ordinary_villager_is_allowed(deployment: tuple) -> None:
    _, worker = deployment
    status, body = post(worker, request("P-VILLAGER", "pc-2"))
    assert (status, body["decision"], body["reasons"]) == (200, "allow", [])


def test_a_new_cadre_in_the_registry_is_seen_within_seconds(deployment: tuple) -> None:
    world, worker = deployment
    assert post(worker, request("P-NEW", "pc-3"))[1]["decision"] == "allow"
    world.produce("registry", person("P-NEW", cadre_role("2026-04-01")), key="P-NEW")
    world.flush()
    produced = time.monotonic()
    decision = "allow"
    while decision == "allow" and time.monotonic() - produced < 15:
        decision = post(worker, request("P-NEW", "pc-3"))[1]["decision"]
        time.sleep(0.1)
    assert decision == "hold"


@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_wrong_or_missing_token_gets_401_and_nothing_else(deployment: tuple,
                                                          token: str | None) -> None:
    _, worker = deployment
    status, body = post(worker, request("P-CADRE", "pc-4"), token=token)
    assert (status, body) == (401, {"error": "unauthorized"})


@pytest.mark.parametrize("body, field", [
    (b"{not json", None),
    (b"[1, 2]", None),
    ({**request("P-CADRE", "pc-5"), "amount": "lots"}, "amount"),
    ({k: v for k, v in request("P-CADRE", "pc-6").items() if k != "payee_id"}, "payee_id"),
    ({**request("P-CADRE", "pc-7"), "event_time": "2026-05-14 09:30"}, "event_time"),
    (request("P-CADRE", "pc-8", status="executed"), "status"),
])
def test_malformed_body_gets_400_with_the_schema_error(deployment: tuple, body: Any,
                                                       field: str | None) -> None:
    _, worker = deployment
    status, answer = post(worker, body)
    assert status == 400
    assert answer["error"] and answer["code"]
    if field:
        assert field in answer["error"]


def test_metrics_count_the_decisions(deployment: tuple) -> None:
    _, worker = deployment
    post(worker, request("P-VILLAGER", "pc-9"))
    post(worker, b"nope")
    metrics = worker.metrics()
    assert metrics['sunlight_precheck_requests_total{decision="allow"}'] >= 1
    assert metrics['sunlight_precheck_requests_total{decision="bad_request"}'] >= 1
    assert metrics["sunlight_precheck_seconds_count"] >= 2


def test_a_cadre_id_spelt_with_invisible_characters_is_still_the_cadre(deployment: tuple
                                                                       ) -> None:
    world, worker = deployment
    status, body = post(worker, request("\ufeffP-CADRE\u200b ", "pc-zero-width"))
    assert status == 200 and body["decision"] == "hold"


def test_a_key_given_twice_is_a_bad_request(deployment: tuple) -> None:
    world, worker = deployment
    raw = orjson.dumps(request("P-VILLAGER", "pc-dup"))[:-1] + b', "payee_id": "P-CADRE"}'
    status, body = post(worker, raw)
    assert status == 400 and body["code"] == "duplicate_key" and body["field"] == "payee_id"
