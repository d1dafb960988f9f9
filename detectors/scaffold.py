"""``sunlight new-detector NAME``: a new detector's file, its scenario stub and its doc page.

Writes ``detectors/NAME.py`` (a stateless detector of payments with every docstring section the doc
page needs, one parameter and a doctest), ``stream/simulator/scenarios/NAME.py`` (a case and a near
miss that emit nothing yet), enters both in their registries (``detectors.CATALOGUE``,
``stream.simulator.scenarios.MODULES``), adds the detector to the detectors file at its default and
generates its page. From then on the generic checks (tests/test_detector_checks.py) run on it and
say what is left: first of all that its scenario gives no case.
"""

from __future__ import annotations

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
        # basis=(event.event_id,), evidence={{"records": [event.ref("amount")]}})
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
    catalogue = root / "detectors" / "__init__.py"
    scenarios = root / "stream" / "simulator" / "scenarios" / "__init__.py"
    detectors_file = root / "detectors.yaml"
    for path in (detector, scenario):
        if path.exists():
            raise ScaffoldError(f"{path} exists already")
    catalogue_text = catalogue.read_text()
    if f'"{name}"' in catalogue_text or f" {cls}," in catalogue_text:
        raise ScaffoldError(f"detector {name!r} is in the catalogue already")

    # Registries, edited at their anchors (checked before anything is written).
    imports = re.findall(r"^from detectors\.\w+ import \w+\n", catalogue_text, re.M)
    new_import = f"from detectors.{name} import {cls}\n"
    later = [line for line in imports if line > new_import and "detectors.base" not in line]
    anchor = later[0] if later else imports[-1]
    catalogue_text = catalogue_text.replace(
        anchor, new_import + anchor if later else anchor + new_import, 1)
    if "\n    )\n}" not in catalogue_text:
        raise ScaffoldError(f"{catalogue}: the CATALOGUE tuple's end was not found")
    catalogue_text = catalogue_text.replace("\n    )\n}", f"\n        {cls},\n    )\n}}", 1)
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
    catalogue.write_text(catalogue_text)
    scenarios.write_text(scenarios_text)
    with detectors_file.open("a") as out:
        out.write(f"  {name}:\n    enabled: true\n    params:\n      threshold: 1.0\n")
    written = [detector, scenario, catalogue, scenarios, detectors_file]
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
