"""Masking person ids in logs: enough to correlate lines, not enough to identify anyone."""

from __future__ import annotations

import hashlib


def mask(value: str, enabled: bool = True) -> str:
    """``person:P-330784-0042`` -> ``person:P-3…#284c``: a short prefix and a hash suffix.

    >>> mask("person:P-330784-0042")
    'person:P-3…#284c'
    >>> mask("person:P-330784-0042", enabled=False)
    'person:P-330784-0042'
    """
    if not enabled:
        return value
    kind, sep, ident = value.rpartition(":")
    digest = hashlib.sha256(ident.encode()).hexdigest()[:4]
    return f"{kind}{sep}{ident[:3]}…#{digest}"
