"""Alerts on the broker follow the CloudEvents Kafka protocol binding (structured mode): the
CloudEvents Python SDK reads every one as an event with the right attributes; dead letters say
their content type too."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka_event

from schemas import SCHEMAS, validate
from tests.integration.harness import World, pay_cadres

pytestmark = pytest.mark.integration

VILLAGE = "VC-330784-031"


def test_alerts_are_structured_cloudevents_with_their_dataschema(bootstrap: str,
                                                                 tmp_path: Path) -> None:
    world = World(bootstrap, tmp_path)
    try:
        worker = world.start_worker()
        worker.wait_ready()
        cadres = ("P-CE1", "P-CE2")
        pay_cadres(world, VILLAGE, cadres)
        world.produce("payments", b"{not json")
        world.flush()

        messages = world.read_messages("alerts", expect=2, settle=1)
        assert len(messages) == 2
        for message in messages:
            headers = {name: value for name, value in message.headers}
            # The binding's rule: this header, and only this, makes a message structured.
            assert headers["content-type"] == b"application/cloudevents+json; charset=UTF-8"
            assert not any(name.startswith("ce_") for name in headers)
            event = from_kafka_event(KafkaMessage(headers, message.key, message.value))
            wire = orjson.loads(message.value)
            validate("alert", wire)
            assert event.get_specversion() == "1.0"
            assert event.get_id() == wire["id"]
            assert event.get_type() == "org.sunlight.alert.ineligible_subsidy_payee"
            assert event.get_source() == "sunlight/sunlight"
            assert event.get_subject() == wire["subject"] == message.key.decode()
            assert event.get_subject() in {f"person:{pid}" for pid in cadres}
            assert event.get_time().isoformat() == "2026-05-14T09:30:00+08:00"
            assert event.get_datacontenttype() == "application/json"
            assert event.get_dataschema() == (SCHEMAS["alert"]["$id"]
                                              + "#/properties/data")
            data = event.get_data()
            assert data["detector"] == "ineligible_subsidy_payee"
            assert data["severity"] == "red" and data == wire["data"]

        [letter] = world.read_messages("dead-letters", expect=1, settle=1)
        assert dict(letter.headers)["content-type"] == b"application/json; charset=UTF-8"
        assert orjson.loads(letter.value)["reason_code"] == "not_json"
    finally:
        world.close()
