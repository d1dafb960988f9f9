"""The per-event core compiled with mypyc (compiled/): in use after ``make install``, the
same alerts as its source, and never stale: an edited source runs as source."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import compiled
from tests.worlds import recorded_feed

ROOT = Path(__file__).resolve().parent.parent
#: Imports the core and says which files it came from.
PROBE = ("import compiled, detectors.runner, schemas.contract, stream.ingest; "
         "print(compiled.status().mode); print(detectors.runner.__spec__.origin); "
         "print(schemas.contract.__spec__.origin)")


def probe(**env: str) -> tuple[list[str], str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SUNLIGHT_COMPILED")}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={**clean, **env})
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines(), result.stderr


def edited_build(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the build in use, its manifest changed by ``edit``."""
    build = compiled.built()
    assert build.mode == "in use", build.detail
    copy = tmp_path / "compiled"
    shutil.copytree(compiled.directory(), copy)
    manifest = json.loads((copy / compiled.MANIFEST).read_text())
    edit(manifest)
    (copy / compiled.MANIFEST).write_text(json.dumps(manifest))
    return copy


def test_the_core_runs_compiled_once_built() -> None:
    """``make install`` builds it; every module of the list is then served compiled."""
    (mode, runner, contract), _ = probe()
    assert mode == "in use", compiled.built().detail
    assert runner.endswith(".so") and contract.endswith(".so")


def test_off_runs_the_sources() -> None:
    (mode, runner, contract), _ = probe(SUNLIGHT_COMPILED="off")
    assert (mode, runner, contract) == ("off", str(ROOT / "detectors" / "runner.py"),
                                        str(ROOT / "schemas" / "contract.py"))


def test_a_source_edited_since_the_build_runs_as_source(tmp_path: Path) -> None:
    """A copy of the build whose manifest says the Runner's source was another: the sources
    run, all of them (compiled modules call each other: none is mixed in), with a warning."""
    copy = edited_build(tmp_path, lambda manifest: manifest["sources"].update(
        {"detectors.runner": "0" * 64}))
    (mode, runner, contract), stderr = probe(SUNLIGHT_COMPILED_DIR=str(copy))
    assert mode == "stale"
    assert runner.endswith("runner.py") and contract.endswith("contract.py")
    assert "RuntimeWarning" in stderr and "detectors.runner" in stderr and "rebuild" in stderr


def test_a_build_of_another_module_list_runs_as_source(tmp_path: Path) -> None:
    """A build that also compiled a module no longer on the list (another release's, or an
    experiment's) would serve that module's old code unchecked: the sources run instead."""
    def add_module(manifest: dict[str, Any]) -> None:
        manifest["sources"]["stream.worker.keyed"] = "0" * 64
        manifest["files"]["stream.worker.keyed"] = manifest["files"]["detectors.runner"]

    copy = edited_build(tmp_path, add_module)
    (mode, runner, _), stderr = probe(SUNLIGHT_COMPILED_DIR=str(copy))
    assert mode == "stale" and runner.endswith("runner.py")
    assert "stream.worker.keyed" in stderr and "rebuild" in stderr


def test_a_build_replaces_the_last_whole_and_keeps_the_one_before(tmp_path: Path) -> None:
    """A process that read the manifest just before a rebuild still finds the files it names:
    the previous build stays; older ones go. The new build is then the one in use."""
    from compiled.build import build

    where = tmp_path / "compiled"
    for old in ("older", "previous"):
        (where / old).mkdir(parents=True)
    (where / compiled.MANIFEST).write_text(json.dumps({"files": {"x": "previous/x.so"}}))
    manifest = build(where)
    (current,) = {Path(f).parts[0] for f in manifest["files"].values()}
    assert sorted(p.name for p in where.iterdir()) == sorted(
        [current, "previous", compiled.MANIFEST])
    (mode, runner, _), _ = probe(SUNLIGHT_COMPILED_DIR=str(where))
    assert mode == "in use" and runner.startswith(str(where / current))


def test_a_source_that_cannot_be_read_is_not_stood_in_for(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """No crash at import: the build is simply not used."""
    original = compiled.source
    monkeypatch.setattr(compiled, "source", lambda module: tmp_path / "gone.py"
                        if module == "detectors.runner" else original(module))
    status = compiled.built()
    assert status.mode == "stale" and "detectors.runner" in status.detail


def test_required_refuses_to_run_without_the_build(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SUNLIGHT_COMPILED")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**clean, "SUNLIGHT_COMPILED": "required",
             "SUNLIGHT_COMPILED_DIR": str(tmp_path / "none")})
    assert result.returncode != 0
    assert "SUNLIGHT_COMPILED=required" in result.stderr and "no build" in result.stderr


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return recorded_feed(tmp_path_factory.mktemp("feed"), seed=7, events=30_000, people=2_000,
                         step_s=300, case_rate=0.01)


def test_compiled_and_source_give_the_same_alerts(feed: Path, tmp_path: Path) -> None:
    """The same replay, compiled and as source: the same alerts, byte for byte."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SUNLIGHT_COMPILED")}
    outputs = {}
    for mode in ("required", "off"):
        out = tmp_path / f"{mode}.jsonl"
        result = subprocess.run(
            [sys.executable, "-m", "stream.cli", "replay", str(feed), "--out", str(out),
             "--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=600,
            env={**clean, "SUNLIGHT_COMPILED": mode})
        assert result.returncode == 0, result.stderr
        outputs[mode] = out.read_bytes()
    assert outputs["required"].count(b"\n") > 50
    assert outputs["required"] == outputs["off"]


def test_the_examples_in_the_compiled_modules_docs_hold() -> None:
    """Compiled modules have no docstrings at run time, so the suite's doctest pass cannot see
    theirs: they are run here, against the sources."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SUNLIGHT_COMPILED")}
    files = [str(compiled.source(module).relative_to(ROOT)) for module in compiled.MODULES]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files], cwd=ROOT,
        capture_output=True, text=True, timeout=300, env={**clean, "SUNLIGHT_COMPILED": "off"})
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
