"""The pre-check's API description (``schemas/precheck.openapi.yaml``) takes its request body
from the payment contract, so the two cannot drift: ``components.schemas.Payment`` is
generated from ``payment.schema.json`` (OpenAPI 3.0 spells a few JSON Schema words its own
way), with ``status`` narrowed to ``requested``. The rest of the file is written by hand.

``python -m schemas.openapi`` rewrites the generated part after the payment schema changed;
``tests/test_precheck_spec.py`` fails until it has.

>>> request = payment_request_schema(SCHEMAS["payment"])
>>> request["properties"]["status"]["enum"], request["properties"]["project_id"]["nullable"]
(['requested'], True)
>>> request["properties"]["amount"]["maximum"] == SCHEMAS["payment"]["properties"]["amount"][
...     "maximum"]
True
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from schemas.contract import SCHEMAS, is_id_field

DESCRIPTION = Path(__file__).resolve().parent / "precheck.openapi.yaml"
#: JSON Schema words that are about the file, not the record (OpenAPI 3.0 does not know them).
_FILE_WORDS = ("$schema", "$id", "version", "title")


def to_openapi(schema: Any) -> Any:
    """A draft-07 JSON Schema as an OpenAPI 3.0 Schema Object: ``type: [t, "null"]`` becomes
    ``type: t, nullable: true`` and ``const`` a one-value ``enum``."""
    if isinstance(schema, list):
        return [to_openapi(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _FILE_WORDS:
            continue
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if len(types) != 1:
                raise ValueError(f"OpenAPI 3.0 cannot say type {value!r}")
            out["type"] = types[0]
            if "null" in value:
                out["nullable"] = True
        elif key == "const":
            out["enum"] = [value]
        elif key == "properties":
            out[key] = {name: to_openapi(sub) for name, sub in value.items()}
        else:
            out[key] = to_openapi(value)
    return out


#: An id must keep a character once normalised (schemas.contract.normalise_id drops
#: zero-width characters and surrounding space): JSON Schema's words for "not blank".
VISIBLE_ID = r"[^\s\u200b\u200c\u200d\u2060\ufeff]"
ID_WORDS = (" Compared after Unicode NFKC normalisation with zero-width characters removed and "
            "surrounding space stripped; the limits hold after that.")


def payment_request_schema(payment: dict[str, Any]) -> dict[str, Any]:
    """The pre-check's request body: a payment record whose status is ``requested``; its ids
    as the server reads them (see :data:`VISIBLE_ID`)."""
    request = to_openapi(payment)
    for name, field in request["properties"].items():
        if is_id_field(name) and field.get("type") == "string":
            field["pattern"] = VISIBLE_ID
            field["description"] = field.get("description", "") + ID_WORDS
    status = request["properties"]["status"]
    status["enum"] = ["requested"]
    status["description"] = "A pre-check is for a payment not yet made: requested."
    request["description"] = ("Generated from schemas/payment.schema.json (the contract) by "
                              "`python -m schemas.openapi`; do not edit by hand. "
                              + payment.get("description", ""))
    return request


def described() -> dict[str, Any]:
    return yaml.safe_load(DESCRIPTION.read_text())


def expected(description: dict[str, Any]) -> dict[str, Any]:
    """``description`` with its generated part made from the current payment schema."""
    schemas = {**description["components"]["schemas"],
               "Payment": payment_request_schema(SCHEMAS["payment"])}
    return {**description, "components": {**description["components"], "schemas": schemas}}


class _Dumper(yaml.SafeDumper):
    """Long text as YAML blocks, so the written file stays readable."""


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text.strip() else ">" if len(text) > 60 else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _text)


def main() -> int:
    DESCRIPTION.write_text(yaml.dump(expected(described()), Dumper=_Dumper, sort_keys=False,
                                     allow_unicode=True, width=96))
    print(f"wrote {DESCRIPTION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
