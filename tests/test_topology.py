"""The topology as a value (stream/topology.py) and `sunlight topology`: no Kafka needed."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from detectors import CATALOGUE
from detectors.config import load_detectors
from stream.cli import main
from stream.config import INPUT_TOPICS, OUTPUT_TOPICS, Settings
from stream.topology import Topology, internal_topic

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = Settings(topic_prefix="t1-", app_id="app", partitions=3)


@pytest.fixture(scope="module")
def topology() -> Topology:
    return Topology.build(load_detectors(ROOT / "detectors.yaml"), SETTINGS)


def test_each_detector_runs_in_its_kind_on_each_of_its_feeds(topology: Topology) -> None:
    placed = {(kind.name, feed, d.name) for kind in topology.kinds.values()
              for feed, detectors in kind.feeds.items() for d in detectors}
    expected = {(cls.key_kind, feed, name) for name, cls in CATALOGUE.items()
                for feed in cls.feeds}
    assert placed == expected


def test_feeds_are_routed_to_the_kinds_that_read_them(topology: Topology) -> None:
    assert topology.routes("payments") == ["t1-app-keyed-payee", "t1-app-keyed-person",
                                           "t1-app-keyed-project", "t1-app-keyed-payer_purpose"]
    assert topology.routes("registry") == []  # validated, read whole by the registry view
    assert topology.routes("alert-dispositions") == ["t1-app-keyed-alert"]
    # Escalation reads alerts only: its clock is every feed some kind reads.
    assert topology.kinds["subject"].clock == ("attendance", "bids", "payments",
                                               "prescriptions")
    assert topology.ticking("payments") and not topology.ticking("alerts")


def test_every_topic_name_carries_the_prefix_and_is_distinct(topology: Topology) -> None:
    internal = topology.internal_topics()
    names = [*internal, *topology.inputs.values(), *topology.outputs.values()]
    assert len(names) == len(set(names)) == len(INPUT_TOPICS) + len(OUTPUT_TOPICS) + 2 * 6 + 2
    assert all(name.startswith("t1-") for name in names)
    # Changelogs are compacted (the latest state per key), the repartitioned topics are not.
    assert {name for name, compact in internal.items() if compact} == {
        *(kind.changelog for kind in topology.kinds.values()), "t1-app-verdicts-changelog"}
    assert set(topology.groups.values()) == {"t1-app-ingest", "t1-app-keyed", "t1-app"}


def test_an_unknown_role_is_refused() -> None:
    with pytest.raises(ValueError, match="roles are"):
        internal_topic(SETTINGS, "repartition", "payee")


def test_the_worker_uses_the_topologys_names() -> None:
    """The app's Faust table changelog (named by Faust) is the one the topology creates."""
    from stream.worker.app import Sunlight

    sunlight = Sunlight(SETTINGS, load_detectors(None))
    assert sunlight.verdicts.changelog_topic.get_topic_name() == "t1-app-verdicts-changelog"
    assert set(sunlight.keyed.changelogs.values()) == {
        kind.changelog for kind in sunlight.topology.kinds.values()}


def test_no_topic_name_is_built_outside_the_topology() -> None:
    """Internal topic names come from stream.topology.internal_topic only."""
    pattern = re.compile(r"""f["'][^"']*(-keyed-|-state-|-changelog)""")
    offenders = [f"{path.relative_to(ROOT)}:{n}" for path in (ROOT / "stream").rglob("*.py")
                 if path.name != "topology.py"
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if pattern.search(line)]
    assert offenders == []


def test_the_command_prints_it(capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch,
                               topology: Topology) -> None:
    for name, value in (("SUNLIGHT_TOPIC_PREFIX", "t1-"), ("SUNLIGHT_APP_ID", "app"),
                        ("SUNLIGHT_PARTITIONS", "3")):
        monkeypatch.setenv(name, value)
    assert main(["topology", "--json", "--detectors", str(ROOT / "detectors.yaml")]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert printed == orjson.loads(orjson.dumps(topology.as_dict()))
    assert main(["topology"]) == 0
    text = capsys.readouterr().out
    assert all(name in text for name in [*CATALOGUE, *topology.internal_topics()])


def test_a_missing_detectors_file_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["topology", "--detectors", "/nonexistent.yaml"]) == 2
    assert "no such file" in capsys.readouterr().err
