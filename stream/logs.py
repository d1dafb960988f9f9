"""Log lines as JSON (``SUNLIGHT_LOG_FORMAT=json``), one object a line, for log shippers.

The message is the same text the plain format shows, so person ids are masked exactly as there
(``stream/privacy.py``, at the call sites)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "pid"[, "exception"]}`` per record."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def use_json(logger: logging.Logger) -> None:
    """Every handler of ``logger`` writes JSON lines from now on."""
    for handler in logger.handlers:
        handler.setFormatter(JsonFormatter())
