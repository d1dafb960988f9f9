"""Registration by convention: a detector is in ``detectors.CATALOGUE`` because its class is
defined in a module of ``detectors/`` (tests/test_new_detector.py shows a new file found)."""

from __future__ import annotations

import gc
import importlib
import pkgutil

import pytest

import detectors
from detectors import CATALOGUE, TOOLS, discover
from detectors.base import Detector


def test_every_detector_defined_in_the_package_is_catalogued() -> None:
    """Every module, the tools too: none of them may hide a detector from discovery."""
    defined: dict[str, type[Detector]] = {}
    for info in pkgutil.iter_modules(detectors.__path__):
        module = importlib.import_module(f"detectors.{info.name}")
        defined.update({cls.__dict__["name"]: cls
                        for cls in vars(module).values()
                        if isinstance(cls, type) and issubclass(cls, Detector)
                        and cls.__module__ == module.__name__ and "name" in cls.__dict__})
    assert defined == CATALOGUE
    assert len(CATALOGUE) == 14 and list(CATALOGUE) == sorted(CATALOGUE)
    assert not any(cls.__module__.rsplit(".", 1)[1] in TOOLS for cls in CATALOGUE.values())


def test_bases_and_wrappers_are_not_detectors() -> None:
    from detectors.base import RegistryCheck
    from detectors.tuned import Tuned

    assert RegistryCheck not in CATALOGUE.values() and Tuned not in CATALOGUE.values()


def test_two_detectors_of_one_name_are_refused() -> None:
    twin = type("Twin", (Detector,), {"name": "escalation", "__module__": "detectors.twin"})
    try:
        with pytest.raises(TypeError, match="two detectors are named 'escalation'"):
            discover()
    finally:
        del twin
        gc.collect()
    assert discover() == CATALOGUE
