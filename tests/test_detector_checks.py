"""Checks every detector of ``detectors.CATALOGUE`` must pass, run on each without a line of
its own (as river's ``yield_checks`` runs on every estimator): a new detector is checked from
the moment it is in the catalogue, and fails here with what it lacks.

Parameters: every default has a type, a wrong type is refused (ParameterError), ``version``
changes with any parameter. Over its scenarios from the simulator (replayed in event-time
order through the real Runner, alerts fed back): the scenario gives a case; each alert is valid
against schemas/alert.schema.json; the state read back from JSON after every event gives the
same alerts; ``process``, ``advance`` and ``forget`` never change the state they are given.
Its class docstring names every parameter, and its module holds a doctest example."""

from __future__ import annotations

import copy
import functools
import inspect
import re
import sys
from typing import Any

import pytest

from detectors import CATALOGUE
from detectors.base import Detector, ParameterError
from detectors.config import load_detectors
from detectors.registry import Registry
from schemas.contract import validate
from tests.worlds import (
    DETECTORS_FILE,
    Records,
    alerts_by_id,
    difference,
    in_event_time_order,
    scenarios_of,
    world,
)

NAMES = sorted(CATALOGUE)
PARAMETER_TYPES = (bool, int, float, str, tuple)


def wrong_value(default: Any) -> Any:
    """A value of another type than ``default``'s."""
    if isinstance(default, bool):
        return "yes"
    if isinstance(default, int | float):
        return "12"
    if isinstance(default, str):
        return 12
    return "one, two"  # a tuple parameter given a string


def other_values(default: Any) -> list[Any]:
    """Values of ``default``'s type that differ from it (a detector may refuse some)."""
    if isinstance(default, bool):
        return [not default]
    if isinstance(default, int):
        return [default + 1, default * 2, max(default - 1, 1)]
    if isinstance(default, float):
        return [default * 1.5, default * 0.5, default + 1.0, 1.0]
    if isinstance(default, str):
        return [default + "x", "none", "log", "up", "down", "both"]
    return [(*default, "x"), default[:-1]]


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_has_a_typed_default(name: str) -> None:
    untyped = {param: value for param, value in CATALOGUE[name].defaults.items()
               if not isinstance(value, PARAMETER_TYPES)
               or (isinstance(value, tuple) and not all(isinstance(v, str) for v in value))}
    assert untyped == {}, f"{name}: defaults of no parameter type (bool, int, float, str, " \
                          f"tuple of str): {untyped}"


@pytest.mark.parametrize("name", NAMES)
def test_a_parameter_of_the_wrong_type_is_refused(name: str) -> None:
    cls = CATALOGUE[name]
    for param, default in cls.defaults.items():
        with pytest.raises(ParameterError, match=re.escape(repr(param))):
            cls(**{param: wrong_value(default)})
    with pytest.raises(ParameterError, match="has no parameter 'no_such_parameter'"):
        cls(no_such_parameter=1)


@pytest.mark.parametrize("name", NAMES)
def test_version_changes_with_every_parameter(name: str) -> None:
    cls = CATALOGUE[name]
    base = cls().version
    unchanged = []
    for param, default in cls.defaults.items():
        versions = []
        for value in other_values(default):
            if value == default:
                continue
            try:
                versions.append(cls(**{param: value}).version)
            except ParameterError:
                raise
            except ValueError:  # a value the detector refuses (a range, a choice)
                continue
        if not versions or base in versions:
            unchanged.append(param)
    assert unchanged == [], f"{name}: version {base} unchanged (or no other value accepted) " \
                            f"when these change: {unchanged}"


@pytest.mark.parametrize("name", NAMES)
def test_the_class_docstring_names_every_parameter(name: str) -> None:
    cls = CATALOGUE[name]
    doc = cls.__dict__.get("__doc__") or ""
    unnamed = [param for param in cls.defaults if not re.search(rf"\b{param}\b", doc)]
    assert unnamed == [], f"{name}: the docstring of {cls.__name__} does not name {unnamed}"


@pytest.mark.parametrize("name", NAMES)
def test_a_doctest_example_exists(name: str) -> None:
    cls = CATALOGUE[name]
    docs = [sys.modules[cls.__module__].__doc__ or "", cls.__dict__.get("__doc__") or ""]
    assert any(">>>" in doc for doc in docs), (
        f"{name}: no example (>>>) in the docstring of {inspect.getfile(cls)} or its class")


@pytest.mark.parametrize("name", NAMES)
def test_a_scenario_exists(name: str) -> None:
    assert scenarios_of(name), (
        f"{name}: no scenario named {name!r} or {name}_* in stream/simulator/scenarios")


# -- over the detector's scenarios -------------------------------------------------------------
@functools.cache
def scenario_world(name: str) -> tuple[Registry, Records]:
    if not scenarios_of(name):
        pytest.fail(f"{name}: no scenario in stream/simulator/scenarios, nothing to check it on")
    return world(name, seed=3)  # the seed the arrival-order check uses


@functools.cache
def reference(name: str) -> dict[str, dict[str, Any]]:
    """The alerts of ``name``'s world, replayed by the detectors of the detectors file."""
    replay = in_event_time_order(*scenario_world(name), load_detectors(DETECTORS_FILE))
    assert dict(replay.report.errors) == {}, f"detectors raised: {replay.report.errors}"
    alerts = alerts_by_id(replay)
    assert any(a["data"]["detector"] == name for a in alerts.values()), (
        f"{name}: the scenario gives no case (no alert of {name} in a world of its scenarios "
        f"{scenarios_of(name)}): make its case() emit the records of one")
    return alerts


@pytest.mark.parametrize("name", NAMES)
def test_every_alert_is_valid_against_the_alert_schema(name: str) -> None:
    for alert in reference(name).values():
        validate("alert", alert)  # raises RecordError naming the field


@pytest.mark.parametrize("name", NAMES)
def test_state_read_back_from_json_after_every_event_gives_the_same_alerts(name: str) -> None:
    # cache_size=0: the Runner keeps no decoded state; before each event every detector gets
    # its state as orjson.loads(orjson.dumps(state)), as after a restart from the changelog.
    replay = in_event_time_order(*scenario_world(name), load_detectors(DETECTORS_FILE),
                                 cache_size=0)
    assert dict(replay.report.errors) == {}, f"detectors raised: {replay.report.errors}"
    got, want = alerts_by_id(replay), reference(name)
    assert got == want, difference(got, want)


#: The argument that holds the state, by method.
STATE_ARGUMENT = {"process": 2, "advance": 1, "forget": 0}


def guarded(detector: Detector, changed: list[str]) -> Detector:
    """``detector`` with process/advance/forget noting in ``changed`` any call that altered the
    state it was given (noted, not raised: the Runner catches a detector's exceptions)."""
    for method, index in STATE_ARGUMENT.items():
        original = getattr(detector, method)

        def call(*args: Any, _original: Any = original, _method: str = method,
                 _index: int = index) -> Any:
            before = copy.deepcopy(args[_index])
            result = _original(*args)
            if args[_index] != before:
                changed.append(f"{detector.name}.{_method}")
            return result

        setattr(detector, method, call)
    return detector


@pytest.mark.parametrize("name", NAMES)
def test_the_state_given_is_never_changed(name: str) -> None:
    changed: list[str] = []
    detectors = [guarded(d, changed) for d in load_detectors(DETECTORS_FILE)]
    replay = in_event_time_order(*scenario_world(name), detectors)
    assert sorted(set(changed)) == [], "these changed the state they were given in place"
    got, want = alerts_by_id(replay), reference(name)
    assert got == want, difference(got, want)
