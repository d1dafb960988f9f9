"""One detector, tuned per place: parameter overrides by region code prefix and record fields.

Zhejiang writes a model once and shares it across the province, tuned per place. A ``Tuned``
detector holds the base instance and one instance per override; each event is judged by the
first override whose ``match`` it meets (``region`` is a code prefix, any other field must be
equal, e.g. ``purpose`` or ``category`` for a sector), else by the base. A key's state records
which instance judged it, so windows closed later (``advance``) use the same parameters.

>>> from detectors.ineligible_subsidy_payee import IneligibleSubsidyPayee
>>> tuned = Tuned(IneligibleSubsidyPayee(), [({"region": "3311"},
...     IneligibleSubsidyPayee(purposes=["work_subsidy", "welfare_subsidy"]))])
>>> pay = {"region": "331102", "purpose": "welfare_subsidy", "payee_kind": "person",
...        "payee_id": "P1", "event_id": "e", "event_time": "2026-05-14T09:30:00+08:00"}
>>> tuned.keys(Event("payments", pay, 0.0)), tuned.keys(Event("payments",
...     {**pay, "region": "330784"}, 0.0))
(('P1',), ())
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors.base import Detector, Event, Finding, RegistryCheck
from detectors.registry import Registry


class Tuned(Detector):
    def __init__(self, base: Detector,
                 overrides: list[tuple[Mapping[str, Any], Detector]]) -> None:
        # Not Detector.__init__: the parameters live in the wrapped instances.
        self.base = base
        self.variants = [base, *(instance for _, instance in overrides)]
        self.matches = [dict(match) for match, _ in overrides]
        # A wrapper takes its base's class-level identity per instance.
        self.name = base.name  # type: ignore[misc]
        self.feeds = base.feeds  # type: ignore[misc]
        self.key_kind = base.key_kind  # type: ignore[misc]
        self.stateful = base.stateful  # type: ignore[misc]
        self.params = base.params
        self.version = "+".join(v.version for v in self.variants)

    def variant(self, event: Event) -> int:
        record = event.record
        for index, match in enumerate(self.matches, start=1):
            if all(str(record.get(field, "")).startswith(str(value)) if field == "region"
                   else record.get(field) == value for field, value in match.items()):
                return index
        return 0

    def keys(self, event: Event) -> tuple[str, ...]:
        return self.variants[self.variant(event)].keys(event)

    def process(self, event: Event, key: str, state: Any, registry: Registry
                ) -> tuple[Any, list[Finding]]:
        index = self.variant(event)
        if state is not None and "v" in state:
            index = state["v"]  # a key keeps the parameters it started with
        inner, findings = self.variants[index].process(
            event, key, None if state is None else state["s"], registry)
        return (None if inner is None else {"v": index, "s": inner}), findings

    def is_late(self, event: Event, key: str, state: Any) -> bool:
        if state is None:
            return False
        return self.variants[state["v"]].is_late(event, key, state["s"])

    def due(self, state: Any) -> float | None:
        return None if state is None else self.variants[state["v"]].due(state["s"])

    def advance(self, key: str, state: Any, watermark: float, registry: Registry
                ) -> tuple[Any, list[Finding]]:
        inner, findings = self.variants[state["v"]].advance(key, state["s"], watermark,
                                                            registry)
        return (None if inner is None else {"v": state["v"], "s": inner}), findings

    def __repr__(self) -> str:
        return f"Tuned({self.base!r}, {len(self.matches)} override(s))"


class TunedCheck(Tuned, RegistryCheck):
    """A tuned registry check: the payment pre-check uses it as it is."""

    def check(self, event: Event, registry: Registry) -> list[Finding]:
        variant = self.variants[self.variant(event)]
        assert isinstance(variant, RegistryCheck)
        return variant.check(event, registry)

    def process(self, event: Event, key: str, state: Any, registry: Registry
                ) -> tuple[Any, list[Finding]]:
        return state, self.check(event, registry)


def tune(base: Detector, overrides: list[tuple[Mapping[str, Any], Detector]]) -> Detector:
    if not overrides:
        return base
    return (TunedCheck if isinstance(base, RegistryCheck) else Tuned)(base, overrides)
