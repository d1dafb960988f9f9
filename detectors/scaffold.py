"""``sunlight new-detector NAME``: a new detector's file, its scenario stub and its doc page.

Writes ``detectors/NAME.py`` (a stateless detector of payments with every docstring section the
doc page needs, one parameter and a doctest; being defined is what enters it in
``detectors.CATALOGUE``), ``stream/simulator/scenarios/NAME.py`` (a case and a near miss that
emit nothing yet) and enters it last in ``stream.simulator.scenarios.MODULES`` (whose order is
the simulator's), adds the detector to the detectors file at its default and generates its page.
From then on the generic checks (tests/test_detector_checks.py) run on it and say what is left:
first of all that its scenario gives no case.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")

DETECTOR = '''"""{name}: TODO what it finds, in one line.

The case: TODO the real case this detector is after: who did what, where it was found, and
how it showed in the feeds.

>>> from detectors.registry import Registry
>>> pay = Event("payments", {{"event_id": "p1", "event_time": "2026-05-14T09:30:00+08:00",
...     "region": "330784", "status": "requested", "payer_id": "VC1", "payee_id": "P1",
...     "payee_kind": "person", "purpose": "work_subsidy", "amount": 10}}, 0.0)
>>> {cls}().keys(pay)
('P1',)
>>> {cls}().process(pay, "P1", None, Registry())
(None, [])
"""

from __future__ import annotations

from typing import Any

from detectors.base import Detector, Event, Finding
from detectors.registry import Registry


class {cls}(Detector):
    """Fires: TODO when it fires, its severity and route.

    Silent: TODO its near misses: what looks like the case and is not.

    Evidence: TODO the records and registry links an alert cites.

    Parameters:
        threshold: TODO what it means.
    """

    name = "{name}"
    feeds = frozenset({{"payments"}})
    key_kind = "payee"
    logic_version = 1
    defaults = {{"threshold": 1.0}}

    def key(self, event: Event) -> str | None:
        return event.record.get("payee_id")

    def process(
        self, event: Event, key: str, state: Any, registry: Registry
    ) -> tuple[Any, list[Finding]]:
        # TODO: the findings this event makes true: self.finding(subject=..., severity=...,
        # route=..., sector=..., action=..., score=..., summary=..., time=event.time,
        # basis=(event.event_id,), evidence=evidence(records=[event.ref("amount")],
        # observed=..., threshold=...)) (detectors/evidence.py)
        return state, []
'''

SCENARIO = '''"""Scenarios of {name}: one case and one near miss (see
stream/simulator/scenarios/base.py)."""

from __future__ import annotations

import random
from datetime import datetime

from stream.simulator.scenarios.base import Emit, Scenario
from stream.simulator.world import World


def case(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    """TODO: the records of one case (``Emit(ts, feed, record)``, ids ending in ``n``)."""
    return []


def near_miss(world: World, rng: random.Random, n: str, ts: datetime) -> list[Emit]:
    """TODO: the records of one near miss: like the case, and silent."""
    return []


SCENARIOS = [Scenario("{name}", case, near_miss)]
'''


class ScaffoldError(ValueError):
    pass


def _detector_names(root: Path) -> dict[str, str]:
    """name -> module file of every detector the project at ``root`` defines (found as the
    catalogue finds them, in a fresh interpreter that imports that project)."""
    code = ("import json, sys, detectors; json.dump({n: sys.modules[c.__module__].__file__ "
            "for n, c in detectors.CATALOGUE.items()}, sys.stdout)")
    found = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                           text=True, check=True, env={**os.environ, "PYTHONPATH": str(root)})
    return json.loads(found.stdout)


def class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def new_detector(name: str, root: Path) -> list[Path]:
    """Scaffold detector ``name`` in the project at ``root``; returns the files written or
    changed. Raises ScaffoldError (nothing written) on a bad or taken name."""
    if not NAME.match(name):
        raise ScaffoldError(f"{name!r} is not a detector name (lower_case_with_underscores)")
    cls = class_name(name)
    detector = root / "detectors" / f"{name}.py"
    scenario = root / "stream" / "simulator" / "scenarios" / f"{name}.py"
    scenarios = root / "stream" / "simulator" / "scenarios" / "__init__.py"
    detectors_file = root / "detectors.yaml"
    for path in (detector, scenario):
        if path.exists():
            raise ScaffoldError(f"{path} exists already")
    taken = _detector_names(root)
    if name in taken:
        raise ScaffoldError(f"detector {name!r} is defined already (in {taken[name]})")

    # The scenario modules' registry (its order is the simulator's: a new one goes last),
    # edited at its anchors, checked before anything is written.
    scenarios_text = scenarios.read_text()
    match = re.search(r"^from stream\.simulator\.scenarios import ([\w, ]+)$", scenarios_text, re.M)
    if match is None or "\n)\nSCENARIOS" not in scenarios_text:
        raise ScaffoldError(f"{scenarios}: the scenario modules were not found")
    modules = sorted({*match.group(1).replace(" ", "").split(","), name})
    scenarios_text = (scenarios_text[:match.start(1)] + ", ".join(modules)
                      + scenarios_text[match.end(1):])
    scenarios_text = scenarios_text.replace("\n)\nSCENARIOS", f"\n    {name},\n)\nSCENARIOS", 1)

    detector.write_text(DETECTOR.format(name=name, cls=cls))
    scenario.write_text(SCENARIO.format(name=name))
    scenarios.write_text(scenarios_text)
    with detectors_file.open("a") as out:
        out.write(f"  {name}:\n    enabled: true\n    params:\n      threshold: 1.0\n")
    written = [detector, scenario, scenarios, detectors_file]
    # The page, by the generator, in a fresh interpreter that sees the new module.
    subprocess.run([sys.executable, "-m", "detectors.docs"], cwd=root, check=True,
                   stdout=subprocess.DEVNULL)
    return [*written, root / "docs" / "detectors" / f"{name}.md"]


def main(name: str, root: Path) -> int:
    try:
        written = new_detector(name, root)
    except ScaffoldError as exc:
        print(f"sunlight new-detector: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path.relative_to(root))
    print("next: write the case in the scenario, then the detector; the generic checks say "
          "what is missing: pytest tests/test_detector_checks.py -k " + name)
    return 0
