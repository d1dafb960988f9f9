"""Kafka client security settings reach every client; tokens and masking hold."""

from __future__ import annotations

import faust

from stream.config import Settings
from stream.privacy import mask
from stream.security import client_options, faust_credentials


def test_sasl_settings_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_PLAIN_USERNAME", "sunlight")
    monkeypatch.setenv("KAFKA_SASL_PLAIN_PASSWORD", "pw")
    security = Settings.from_env().kafka_security
    options = client_options(security)
    assert options == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                       "sasl_plain_username": "sunlight", "sasl_plain_password": "pw"}
    credentials = faust_credentials(security)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.username == "sunlight"


def test_plaintext_by_default(monkeypatch) -> None:
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM"):
        monkeypatch.delenv(name, raising=False)
    assert faust_credentials(Settings.from_env().kafka_security) is None


def test_person_ids_are_masked_in_logs() -> None:
    masked = mask("person:P-330784-0042")
    assert "330784-0042" not in masked and masked.startswith("person:")
