"""The detectors file: each kind of mistake names its line; overrides apply where they match."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from detectors import CATALOGUE
from detectors.config import ConfigError, load_detectors
from detectors.registry import Registry
from tests.records import payment_event

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "detectors.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, line, words", [
    ("detectors:\n  no_such_detector:\n    enabled: true\n", 2, "unknown detector"),
    ("detectors:\n  deceased_recipient:\n    params:\n      purposes: [welfare_subsidy]\n"
     "      colour: red\n", 5, "no parameter 'colour'"),
    ("detectors:\n  duplicate_subsidy_regions:\n    params:\n      window_days: thirty\n",
     4, "must be float"),
    ("detectors:\n  duplicate_subsidy_regions:\n    params:\n      min_regions: 2.5\n",
     4, "must be int"),
    ("detectors:\n  deceased_recipient:\n    enable: false\n", 3, "unknown key 'enable'"),
    ("detectors:\n  deceased_recipient:\n    overrides:\n      - params: {}\n", 4,
     "needs 'match'"),
    ("detectors:\n  deceased_recipient:\n    overrides:\n      - match: {region: '3311'}\n"
     "        params: {purposes: 7}\n", 5, "must be tuple"),
    ("- just\n- a list\n", 1, "must be a mapping"),
])
def test_each_mistake_names_its_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_detectors(write(tmp_path, text))
    assert f"line {line}:" in str(err.value)
    assert words in str(err.value)


def test_bad_yaml_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_detectors(write(tmp_path, "detectors:\n  a: [unclosed\n"))


def test_the_shipped_file_enables_every_detector() -> None:
    names = [d.name for d in load_detectors(ROOT / "detectors.yaml")]
    assert sorted(names) == sorted(CATALOGUE)


def test_disabled_detectors_do_not_run(tmp_path: Path) -> None:
    path = write(tmp_path, "detectors:\n  deceased_recipient:\n    enabled: false\n"
                           "  ineligible_subsidy_payee: {}\n")
    assert [d.name for d in load_detectors(path)] == ["ineligible_subsidy_payee"]


def test_overrides_apply_to_their_region_only(tmp_path: Path) -> None:
    path = write(tmp_path, """detectors:
  ineligible_subsidy_payee:
    params: {purposes: [work_subsidy]}
    overrides:
      - match: {region: "3311"}
        params: {purposes: [work_subsidy, welfare_subsidy]}
""")
    [detector] = load_detectors(path)
    registry = Registry()
    for village in ("VC-331102-001", "VC-330784-001"):
        registry.apply({"record_type": "person", "person_id": f"P-{village}", "roles": [
            {"role": "village_cadre", "org_id": village, "region": village[3:9],
             "start": "2020-01-01"}]})

    def findings(region: str) -> list:
        village = f"VC-{region}-001"
        event = payment_event("w1", f"P-{village}", payer=village, region=region,
                              purpose="welfare_subsidy")
        keys = detector.keys(event)
        return [f for key in keys for f in detector.process(event, key, None, registry)[1]]

    [lishui] = findings("331102")
    assert findings("330784") == []  # the base parameters: welfare subsidies not watched
    base_version = detector.base.version  # type: ignore[attr-defined]
    assert lishui.detector_version != base_version


def test_version_follows_the_effective_parameters(tmp_path: Path) -> None:
    one = load_detectors(write(tmp_path, "detectors:\n  duplicate_subsidy_regions: {}\n"))[0]
    same = load_detectors(write(tmp_path, "detectors:\n  duplicate_subsidy_regions:\n"
                                          "    params: {window_days: 31}\n"))[0]
    other = load_detectors(write(tmp_path, "detectors:\n  duplicate_subsidy_regions:\n"
                                           "    params: {window_days: 45}\n"))[0]
    assert one.version == same.version != other.version


def test_worker_refuses_to_start_with_a_bad_file(tmp_path: Path) -> None:
    path = write(tmp_path, "detectors:\n  deceased_recipient:\n    params: {colour: red}\n")
    result = subprocess.run(
        [sys.executable, "-m", "stream.cli", "worker"], cwd=ROOT, capture_output=True,
        text=True, timeout=60, env={**os.environ, "SUNLIGHT_DETECTORS_FILE": str(path)})
    assert result.returncode == 2
    assert "line 3" in result.stderr and "colour" in result.stderr


# -- the shipped file: the full effective configuration, kept equal to the defaults ---------
OVERRIDE_MARK = "# override:"


def shipped_parameters() -> list[tuple[str, str, object, str]]:
    """(detector, parameter, value, its line) of every parameter in the shipped file's
    ``params`` (overrides by region or field are deliberate and not listed here)."""
    text = (ROOT / "detectors.yaml").read_text()
    lines = text.splitlines()
    top = {k.value: v for k, v in yaml.compose(text).value}
    found = []
    for name_node, body in top["detectors"].value:
        params = next((v for k, v in body.value if k.value == "params"), None)
        for key, value in getattr(params, "value", []):
            found.append((name_node.value, key.value, yaml.safe_load(yaml.serialize(value)),
                          lines[key.start_mark.line]))
    return found


def test_the_shipped_file_lists_every_detector_and_parameter() -> None:
    listed = yaml.safe_load((ROOT / "detectors.yaml").read_text())["detectors"]
    assert sorted(set(CATALOGUE) - set(listed)) == [], "detectors missing from detectors.yaml"
    missing = [f"{name}.{param}" for name, cls in CATALOGUE.items()
               for param in cls.defaults if param not in (listed[name] or {}).get("params", {})]
    assert missing == [], f"parameters missing from detectors.yaml (with their default): {missing}"


def test_the_shipped_file_holds_the_defaults_unless_marked_as_an_override() -> None:
    """A value unlike its detector's default must say so on its line (``# override: why``),
    and a marked one must differ: a default changed in code is then changed here too."""
    drifted, stale = [], []
    for name, param, value, line in shipped_parameters():
        cls = CATALOGUE[name]
        effective = cls(**{param: value}).params[param]
        marked = OVERRIDE_MARK in line
        if effective != cls.defaults[param] and not marked:
            drifted.append(f"{name}.{param}: {value!r} in the file, {cls.defaults[param]!r} "
                           "in code")
        if effective == cls.defaults[param] and marked:
            stale.append(f"{name}.{param}")
    assert drifted == [], (f"detectors.yaml differs from the defaults (mark a deliberate "
                           f"change with '{OVERRIDE_MARK} <why>'): {drifted}")
    assert stale == [], f"marked as overrides but equal to the default: {stale}"


#: detector_version of the detectors whose parameters were renamed, at their defaults, as it
#: was under the old names (at 3cbbd7d): a rename changes no alert.
VERSIONS_BEFORE_THE_RENAMES = {"drug_purchase_spike": "1.39b272b4",
                               "payer_amount_outlier": "1.bee111b1",
                               "prescriber_concentration": "1.f3855506",
                               "bid_price_screen": "1.7aea0498"}


def test_a_rename_keeps_every_version() -> None:
    assert {name: CATALOGUE[name]().version for name in VERSIONS_BEFORE_THE_RENAMES} == \
        VERSIONS_BEFORE_THE_RENAMES


def test_an_old_parameter_name_is_accepted_with_a_warning(tmp_path: Path) -> None:
    from detectors.base import RenamedParameter

    path = write(tmp_path, "detectors:\n  payer_amount_outlier:\n    params:\n"
                           "      threshold: 0.9\n      lateness_hours: 48\n")
    with pytest.warns(RenamedParameter) as caught:
        (old,) = load_detectors(path)
    assert len(caught) == 1
    assert str(caught[0].message).startswith(f"{path} line 5: detector 'payer_amount_outlier': "
                                             "parameter 'lateness_hours' is now called "
                                             "'allowed_lateness_hours'")
    new = write(tmp_path, "detectors:\n  payer_amount_outlier:\n    params:\n"
                          "      threshold: 0.9\n      allowed_lateness_hours: 48\n")
    (renamed,) = load_detectors(new)
    assert old.params == renamed.params and old.version == renamed.version
    both = write(tmp_path, "detectors:\n  bid_price_screen:\n    params:\n"
                           "      window_days: 10\n      retention_days: 10\n")
    with pytest.raises(ConfigError, match="line 4: detector 'bid_price_screen' is given both"):
        load_detectors(both)
