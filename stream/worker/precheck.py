"""``POST /v1/precheck``: the synchronous payment pre-check served by every worker.

A payment system sends a ``requested`` payment (the contract's payment record) and gets back
``allow`` or ``hold`` with the reasons, from the same in-memory registry view the stream uses.
A hold is also published as an alert (same id the stream gives the same payment), so the
inspectors see it. Authenticated by a bearer token (``SUNLIGHT_API_TOKEN``); bad requests get a
4xx with a JSON error, never a 500. Described by ``schemas/precheck.openapi.yaml``.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_request import BaseRequest

from detectors.base import Detector, Finding
from detectors.findings import alert_id
from detectors.precheck import payment_checks, precheck
from schemas import RecordError, decode, event_ts
from stream.config import Settings
from stream.worker.metrics import Metrics
from stream.worker.reference import RegistryView
from stream.worker.web import BodyError, Handler, read_body

log = logging.getLogger("sunlight.precheck")


def bearer_token(request: BaseRequest) -> bytes:
    """The bearer token as the raw bytes sent (any bytes at all: compared, never decoded or
    logged); empty when there is none."""
    for name, value in request.raw_headers:
        if name.lower() == b"authorization" and value.startswith(b"Bearer "):
            return value[7:]
    return b""


@dataclass(frozen=True)
class PrecheckContext:
    """What the pre-check uses of its worker, and nothing else."""

    settings: Settings
    metrics: Metrics
    #: The enabled detectors (those with a payment check answer).
    detectors: list[Detector]
    #: The registry the stream judges by, and whether it is loaded.
    view: RegistryView
    #: Publish a hold's finding as an alert; returns the broker's acknowledgement.
    publish: Callable[[Finding, float], Awaitable[Awaitable[None]]]


def handler(context: PrecheckContext) -> Handler:
    settings, metrics, view = context.settings, context.metrics, context.view
    checks = payment_checks(context.detectors)
    token = settings.api_token.encode() if settings.api_token else b""
    if not token:
        log.warning("SUNLIGHT_API_TOKEN is not set: /v1/precheck refuses every caller (401)")

    def answer(decision: str, body: dict[str, Any], status: int,
               started: float) -> web.Response:
        metrics.precheck_requests.labels(decision).inc()
        metrics.precheck_seconds.observe(time.perf_counter() - started)
        return web.json_response(body, status=status)

    async def post(request: BaseRequest) -> web.StreamResponse:
        started = time.perf_counter()
        if not token or not hmac.compare_digest(bearer_token(request), token):
            response = answer("unauthorized", {"error": "unauthorized"}, 401, started)
            response.force_close()  # the body is not read
            return response
        try:
            raw = await read_body(request, settings.max_record_bytes, settings.web_timeout_s)
        except BodyError:
            metrics.precheck_requests.labels("bad_request").inc()
            raise
        try:
            record = decode("payments", raw, settings.max_record_bytes)
            if record["status"] != "requested":
                raise RecordError(
                    "bad_value", "field 'status' must be 'requested' for a pre-check, "
                    f"got {record['status']!r}", "status")
        except RecordError as err:
            return answer("bad_request",
                          {"error": err.reason, "code": err.code, "field": err.field},
                          400, started)
        if not view.ready.is_set():
            return answer("unavailable",
                          {"error": "the registry is still loading; retry shortly"},
                          503, started)
        ts = event_ts(record)
        decision, findings = precheck(record, ts, view.registry, checks)
        reasons = []
        for finding in findings:
            reasons.append({
                "detector": finding.detector, "severity": finding.severity,
                "action": finding.action, "summary": finding.summary,
                "evidence": finding.evidence, "alert_id": alert_id(finding),
            })
            await (await context.publish(finding, time.time()))
        body = {"decision": decision, "event_id": record["event_id"], "reasons": reasons,
                "alert_ids": [r["alert_id"] for r in reasons]}
        return answer(decision, body, 200, started)

    return post
