"""Kafka headers on what Sunlight publishes: every producer takes them from here.

Alerts follow the CloudEvents Kafka protocol binding, structured mode: the whole event is the
message value and the ``content-type`` header says so. A spec-following receiver (the
CloudEvents SDKs, Knative, Dapr) that finds no ``application/cloudevents...`` content type
takes a message for binary mode and misreads it.

>>> dict(headers_for("alerts"))["content-type"]
b'application/cloudevents+json; charset=UTF-8'
>>> dict(headers_for("dead-letters"))["content-type"]
b'application/json; charset=UTF-8'
"""

from __future__ import annotations

CLOUDEVENTS_JSON = b"application/cloudevents+json; charset=UTF-8"
JSON = b"application/json; charset=UTF-8"

#: Logical output topic -> its Kafka headers (a topic not listed carries plain JSON).
_HEADERS: dict[str, list[tuple[str, bytes]]] = {
    "alerts": [("content-type", CLOUDEVENTS_JSON)],
}


def headers_for(topic: str) -> list[tuple[str, bytes]]:
    """The headers of a record on the logical topic ``topic`` (alerts, dead-letters, ...)."""
    return list(_HEADERS.get(topic, [("content-type", JSON)]))
