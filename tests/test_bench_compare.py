"""bench/compare.py: a bench command run in turn in this tree and a worktree of another
revision, its figures read off each run, medians and ratios printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from compare import compare, figure  # noqa: E402

SCRIPT = '''import sys
print("speed, events/s   {speed:,}")
print("work: {work}")
with open({log!r}, "a") as f:
    f.write("{name}\\n")
'''


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose bench script prints 10,000 events/s at HEAD~1 and 25,000 at HEAD
    (the same work in both), and logs which tree ran."""
    repo, log = tmp_path / "repo", tmp_path / "order.log"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    (repo / ".gitignore").write_text("var/\n")
    for name, speed in (("base", 10_000), ("this", 25_000)):
        (repo / "fig.py").write_text(SCRIPT.format(speed=speed, work="671 alerts", log=str(log),
                                                   name=name))
        git(repo, "add", ".")
        git(repo, "commit", "-qm", name)
    return repo


def test_figures_are_read_off_the_output() -> None:
    out = "worker, every detector on, events/s    15,648\nworker CPU µs per event (x)   59\n"
    assert figure(out, "every detector on, events/s") == 15648.0
    assert figure(out, "CPU µs per event") == 59.0
    assert figure(out, "latency") is None


def test_runs_alternate_and_the_ratio_is_of_the_medians(repo: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    (summary,) = compare("HEAD~1", 3, ["fig.py"], ["events/s"], "work:", repo=repo,
                         build_trees=False)
    assert summary.new == [25_000.0] * 3 and summary.base == [10_000.0] * 3
    assert summary.ratio == pytest.approx(2.5) and summary.pairwise == pytest.approx(2.5)
    # ABBA: neither side always runs second (a warming machine would favour it).
    order = (repo.parent / "order.log").read_text().split()
    assert order == ["this", "base", "base", "this", "this", "base"]
    out = capsys.readouterr().out
    assert "same work in every run: work: 671 alerts" in out
    assert "2.500" in out


def test_runs_that_did_different_work_are_flagged(repo: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "fig.py").write_text((repo / "fig.py").read_text().replace("671", "670"))
    compare("HEAD~1", 1, ["fig.py"], ["events/s"], "work:", repo=repo, build_trees=False)
    assert "THE RUNS DIFFER" in capsys.readouterr().out


def test_a_missing_figure_is_an_error_naming_it(repo: Path) -> None:
    with pytest.raises(SystemExit, match="latency"):
        compare("HEAD~1", 1, ["fig.py"], ["latency"], "", repo=repo, build_trees=False)
