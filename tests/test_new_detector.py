"""`sunlight new-detector NAME` in a copy of the project: the detector, its scenario stub and
its page are written and registered, and the generic checks run on it at once: everything
passes but what the stub cannot have, each failing with a message that says what to write."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "fare_dodging"


def project_copy(tmp_path: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    copy = tmp_path / "sunlight"
    for name in files:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    return copy


def sunlight(copy: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = f"from stream.cli import main; raise SystemExit(main({list(args)!r}))"
    return subprocess.run([sys.executable, "-c", code], cwd=copy, capture_output=True,
                          text=True, timeout=120)


def test_a_scaffolded_detector_is_checked_at_once(tmp_path: Path) -> None:
    copy = project_copy(tmp_path)
    made = sunlight(copy, "new-detector", NAME)
    assert made.returncode == 0, made.stderr
    for path in (f"detectors/{NAME}.py", f"stream/simulator/scenarios/{NAME}.py",
                 f"docs/detectors/{NAME}.md"):
        assert path in made.stdout and (copy / path).exists()
    again = sunlight(copy, "new-detector", NAME)
    assert again.returncode == 2 and "exists already" in again.stderr
    bad = sunlight(copy, "new-detector", "Fare-Dodging")
    assert bad.returncode == 2 and "not a detector name" in bad.stderr

    report = tmp_path / "report.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    f"--junitxml={report}", "tests/test_detector_checks.py",
                    "tests/test_detector_docs.py", "tests/test_detectors_file.py",
                    f"detectors/{NAME}.py", "-k", f"{NAME} or index or shipped"],
                   cwd=copy, capture_output=True, text=True, timeout=600,
                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    results: dict[str, str] = {}
    for case in ET.parse(report).iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        results[case.get("name", "")] = "" if failure is None else failure.get("message", "")
    ran = [name for name in results if NAME in name]
    assert len(ran) >= 10, results  # the generic checks ran on it (and its doctest, its page)
    failed = {name: message for name, message in results.items() if message}
    # What the stub cannot have: a case. Each such failure says so; nothing else fails.
    assert failed, "the stub's scenario gives no case: the checks over it must fail"
    for name, message in failed.items():
        assert NAME in name and "the scenario gives no case" in message, (name, message)
    assert results[f"test_the_page_is_generated_from_the_docstrings[{NAME}]"] == ""
    assert results[f"test_version_changes_with_every_parameter[{NAME}]"] == ""
