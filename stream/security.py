"""Kafka client security (SASL and TLS) from the environment, for every client Sunlight runs:
the Faust app, the registry view, the topic admin, the simulator and the benchmarks.

Environment (all optional; PLAINTEXT when unset):
  KAFKA_SECURITY_PROTOCOL   PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
  KAFKA_SASL_MECHANISM      PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
  KAFKA_SASL_PLAIN_USERNAME, KAFKA_SASL_PLAIN_PASSWORD
  KAFKA_SSL_CAFILE, KAFKA_SSL_CERTFILE, KAFKA_SSL_KEYFILE   (PEM files)
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any

import faust


def ssl_context(security: Mapping[str, str]) -> ssl.SSLContext | None:
    if "SSL" not in security.get("security_protocol", "").upper():
        return None
    context = ssl.create_default_context(cafile=security.get("ssl_cafile"))
    if security.get("ssl_certfile"):
        context.load_cert_chain(security["ssl_certfile"], security.get("ssl_keyfile"))
    return context


def faust_credentials(security: Mapping[str, str]) -> Any:
    """Faust's ``broker_credentials`` for these settings (None: plaintext)."""
    protocol = security.get("security_protocol", "PLAINTEXT").upper()
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=security.get("sasl_plain_username"),
            password=security.get("sasl_plain_password"),
            mechanism=security.get("sasl_mechanism", "PLAIN"),
            ssl_context=ssl_context(security))
    if protocol == "SSL":
        return faust.SSLCredentials(ssl_context(security))
    return None


def client_options(security: Mapping[str, str]) -> dict[str, Any]:
    """Keyword arguments for aiokafka and kafka-python clients."""
    options: dict[str, Any] = {k: v for k, v in security.items()
                               if k in ("security_protocol", "sasl_mechanism",
                                        "sasl_plain_username", "sasl_plain_password")}
    context = ssl_context(security)
    if context is not None:
        options["ssl_context"] = context
    return options
