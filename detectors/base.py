"""The small interface every detector shares, and the records that cross it.

A detector is pure and deterministic: ``process(event, state, registry)`` returns the new state of
the event's key and the findings, and does no I/O. The stream layer runs it inside a Faust agent;
the replay command runs the very same object over files. It never sees Kafka.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from detectors.clock import DAY
from detectors.evidence import record_ref
from detectors.registry import Registry

RED = "red"
YELLOW = "yellow"
REVIEW = "review"
HOLD = "hold"


@dataclass(frozen=True, slots=True)
class Event:
    """One validated input record with where it came from.

    ``day`` is the calendar date of ``event_time`` at its own offset: the date a person reading
    the record sees, and the one registry roles (dated ``YYYY-MM-DD``) are compared with.
    """

    feed: str
    record: Mapping[str, Any]
    ts: float
    topic: str = ""
    partition: int = -1
    offset: int = -1

    @property
    def event_id(self) -> str:
        # Alerts read back (feed "alerts") are identified by their CloudEvent id.
        record = self.record
        return record["event_id"] if "event_id" in record else record["id"]

    @property
    def time(self) -> str:
        record = self.record
        return record["event_time"] if "event_time" in record else record["time"]

    @property
    def day(self) -> str:
        return self.time[:10]

    def ref(self, *fields: str) -> dict[str, Any]:
        """The evidence entry for this record: topic, event_id and the fields that matter."""
        record = self.record
        return record_ref(self.feed, self.event_id, self.time,
                          {name: record[name] for name in fields if name in record})


@dataclass(frozen=True, slots=True)
class Finding:
    """What a detector found. ``basis`` identifies the finding (e.g. the triggering event ids):
    the same basis always yields the same alert id, whatever run produced it."""

    detector: str
    detector_version: str
    subject: str
    severity: str
    route: str
    sector: str
    action: str
    score: float
    summary: str
    time: str
    basis: tuple[str, ...]
    evidence: dict[str, Any] = field(default_factory=dict)


class PersonPayeeKey:
    """Mixin: payments to a person for one of the detector's ``purposes``, keyed by payee."""

    params: Mapping[str, Any]

    def key(self, event: Event) -> str | None:
        record = event.record
        if record["purpose"] in self.params["purposes"] and record["payee_kind"] == "person":
            return record["payee_id"]
        return None


class RenamedParameter(FutureWarning):
    """A detector parameter given by its old name (accepted for one release)."""


class ParameterError(ValueError):
    """A detector was given a parameter it does not have, or one of the wrong type."""


class Detector:
    """Base of all detectors.

    Subclasses set ``name``, ``feeds`` (the logical input feeds), ``key_kind`` (what the stream
    partitions their input by, e.g. ``"payee"``), ``logic_version`` (bump when the logic
    changes) and ``defaults`` (every parameter with its default value), and implement
    :meth:`key` and :meth:`process`.
    """

    name: ClassVar[str]
    feeds: ClassVar[frozenset[str]]
    key_kind: ClassVar[str]
    logic_version: ClassVar[int] = 1
    defaults: ClassVar[Mapping[str, Any]] = {}
    #: Whether process() keeps state per key (stateless detectors cost no state writes).
    stateful: ClassVar[bool] = False
    #: Old parameter name -> its name now (one naming across detectors, detectors/docs.py
    #: NAMING). The old name is accepted, with a warning, for one release. The version digest
    #: keeps the old name: a rename alone changes no alert's ``detector_version``.
    renamed: ClassVar[Mapping[str, str]] = {}

    def __init__(self, **params: Any) -> None:
        params = self.current_names(params)
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ParameterError(
                f"detector {self.name!r} has no parameter {unknown[0]!r} "
                f"(it has: {', '.join(sorted(self.defaults)) or 'none'})"
            )
        merged = dict(self.defaults)
        for key, value in params.items():
            merged[key] = _coerce(self.name, key, self.defaults[key], value)
        self.params: Mapping[str, Any] = merged
        old = {new: old for old, new in self.renamed.items()}
        named = sorted((old.get(key, key), value) for key, value in merged.items())
        digest = hashlib.sha256(repr(named).encode()).hexdigest()[:8]
        #: Changes when the logic or the effective parameters change.
        self.version = f"{self.logic_version}.{digest}"

    @classmethod
    def current_names(cls, params: Mapping[str, Any], where: Mapping[str, str] | None = None
                      ) -> dict[str, Any]:
        """``params`` with old parameter names replaced by their names now, each with a
        :class:`RenamedParameter` warning (``where``: old name -> where it was given, e.g.
        the file and line, to start the message)."""
        current: dict[str, Any] = {}
        for key, value in params.items():
            new = cls.renamed.get(key)
            if new is not None:
                if new in params:
                    raise ParameterError(f"detector {cls.name!r} is given both {key!r} and "
                                         f"{new!r}, its name now")
                at = (where or {}).get(key, "")
                warnings.warn(f"{at}detector {cls.name!r}: parameter {key!r} is now called "
                              f"{new!r}; the old name is accepted until the next release",
                              RenamedParameter, stacklevel=3)
                key = new
            current[key] = value
        return current

    def key(self, event: Event) -> str | None:
        """The key this event is processed under, or None when the detector ignores it.
        Detectors that fan one record out to several keys override :meth:`keys` instead."""
        raise NotImplementedError

    def keys(self, event: Event) -> tuple[str, ...]:
        """Every key this event is processed under (an award names several key personnel)."""
        key = self.key(event)
        return () if key is None else (key,)

    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        """Return the key's new state and the findings this event makes true.

        ``state`` is None for a new key and must stay JSON-serialisable and small (it is
        checkpointed to a Kafka changelog): prune what no window can need any more."""
        raise NotImplementedError

    def retention_s(self) -> float:
        """How far behind the watermark (event time, seconds) a record may be and still be
        judged: the ``retention_days`` parameter, or for ever without one. The runner counts
        an older record as late instead of applying it, so the state never needs more."""
        days = self.params.get("retention_days")
        return float("inf") if days is None else float(days) * DAY

    def forget(self, state: Any, horizon: float) -> Any:
        """``state`` without what no record at or after event time ``horizon`` can need (the
        watermark minus the retention; never a key's own newest record, which depends on
        arrival); None when nothing is left."""
        return state

    def is_late(self, event: Event, key: str, state: Any) -> bool:
        """True when the event belongs to a window already judged: the runner counts and logs
        it (per detector) and does not apply it."""
        return False

    def due(self, state: Any) -> float | None:
        """The event time (epoch seconds) at which :meth:`advance` must next run for this key,
        e.g. a week's end plus the allowed lateness; None when nothing is pending."""
        return None

    def advance(
        self, key: str, state: Any, watermark: float, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        """Judge what is complete now that event time has reached ``watermark`` (the largest
        event time the runner has seen). Called when ``watermark >= due(state)``."""
        return state, []

    def finding(self, **fields: Any) -> Finding:
        return Finding(detector=self.name, detector_version=self.version, **fields)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({params})"


class RegistryCheck(Detector):
    """A stateless detector that judges one record against the registry alone.

    Its :meth:`check` is what both the stream and the synchronous payment pre-check call, so a
    hold answered over HTTP and the alert the stream raises for the same payment agree."""

    def check(self, event: Event, registry: Registry) -> list[Finding]:
        raise NotImplementedError

    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        return state, self.check(event, registry)


def _coerce(detector: str, key: str, default: Any, value: Any) -> Any:
    """Check a parameter against its default's type (ints are accepted for floats)."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, tuple | list | frozenset):
        ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ParameterError(
            f"detector {detector!r} parameter {key!r} must be {type(default).__name__}, "
            f"got {type(value).__name__} {value!r}"
        )
    return value


def unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
