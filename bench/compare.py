"""A/B a benchmark against another revision: runs taken in turn, medians and ratios.

This machine is shared and noisy: the same code drains the bench backlog at 54 to 84 CPU µs an
event from one run to the next. A figure means something only beside a baseline measured in
the same minutes, so this runs a bench command alternately in this tree and in a worktree of
``--base`` (each with its own compiled core, built if needed), ``--runs`` times each, the first
of each pair alternating (ABBA: neither side always follows the other), and prints each
figure's medians, their ratio and the median of the pairwise ratios.

    .venv/bin/python bench/compare.py --base main --runs 5
    .venv/bin/python bench/compare.py --base HEAD~3 --figure "events/s" -- \\
        bench/peers.py --peers sunlight,quix-keyed

A figure is read off each run's output: the last number on the first line that contains its
label (``--figure``, repeatable). ``--same`` names a line that must read the same in every run
(by default the events processed and alerts): the two sides must have done the same work.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_COMMAND = ("bench/pipeline.py", "--parts", "throughput", "--events", "200000",
                   "--people", "100000")
DEFAULT_FIGURES = ("every detector on, events/s", "CPU µs per event")
DEFAULT_SAME = "keyed events processed / alerts"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def shown(value: float) -> str:
    """A figure as printed: whole numbers with separators from 100 on, smaller ones (CPU
    microseconds, ratios) to 3 significant figures."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def figure(output: str, label: str) -> float | None:
    """The last number on the first line of ``output`` containing ``label`` (None: none).

    >>> figure("worker, every detector on, events/s    15,648\\n", "events/s")
    15648.0
    """
    for line in output.splitlines():
        if label in line:
            numbers = _NUMBER.findall(line.split(label, 1)[1])
            return float(numbers[-1].replace(",", "")) if numbers else None
    return None


def line_with(output: str, label: str) -> str | None:
    """The first line containing ``label``, its spacing collapsed."""
    for line in output.splitlines():
        if label in line:
            return " ".join(line.split())
    return None


@dataclass
class Side:
    """One tree's runs: each figure's values, in run order."""

    name: str
    tree: Path
    values: dict[str, list[float]] = field(default_factory=dict)
    same: list[str | None] = field(default_factory=list)


@dataclass(frozen=True)
class Summary:
    label: str
    new: list[float]
    base: list[float]

    @property
    def ratio(self) -> float:
        """Median of this tree's values over the base's."""
        return statistics.median(self.new) / statistics.median(self.base)

    @property
    def pairwise(self) -> float:
        """Median of the ratios of the runs taken together (run i here, run i of the base)."""
        return statistics.median(n / b for n, b in zip(self.new, self.base, strict=True))

    def row(self) -> str:
        def spread(values: list[float]) -> str:
            return (f"{shown(statistics.median(values))} ({shown(min(values))}-"
                    f"{shown(max(values))})")
        return (f"{self.label:<32} {spread(self.new):>26} {spread(self.base):>26} "
                f"{self.ratio:>7.3f} {self.pairwise:>9.3f}")


def worktree(rev: str, repo: Path) -> Path:
    """A worktree of ``rev`` under ``var/compare`` (made once per commit, then reused)."""
    sha = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=repo,
                         check=True, capture_output=True, text=True).stdout.strip()
    tree = repo / "var" / "compare" / sha[:12]
    if not (tree / ".git").exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=repo,
                       check=True, capture_output=True)
    return tree


def build(tree: Path) -> None:
    """The tree's compiled core, if it has one (older revisions have none)."""
    if (tree / "compiled" / "build.py").exists():
        subprocess.run([sys.executable, "-m", "compiled.build", "--if-needed"], cwd=tree,
                       check=True, stdout=subprocess.DEVNULL)


def run(side: Side, command: Sequence[str], figures: Sequence[str], same: str,
        env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, *command], cwd=side.tree, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{side.name} ({side.tree}) failed, exit {result.returncode}:\n"
                         + "\n".join(result.stderr.splitlines()[-20:]))
    figures_shown: list[str] = []
    for label in figures:
        value = figure(result.stdout, label)
        if value is None:
            raise SystemExit(f"{side.name}: no line with {label!r} in the output of "
                             f"{' '.join(command)}")
        side.values.setdefault(label, []).append(value)
        figures_shown.append(f"{label} {shown(value)}")
    side.same.append(line_with(result.stdout, same) if same else None)
    load = os.getloadavg()[0]
    print(f"  {side.name:<5} run {len(side.same)}: {'; '.join(figures_shown)} (load {load:.1f})",
          flush=True)


def compare(base: str, runs: int, command: Sequence[str], figures: Sequence[str], same: str,
            repo: Path = ROOT, build_trees: bool = True) -> list[Summary]:
    new = Side("this", repo)
    old = Side("base", worktree(base, repo))
    if build_trees:
        build(new.tree)
        build(old.tree)
    env = dict(os.environ)
    print(f"{' '.join(command)}: this tree ({repo}) against {base} ({old.tree}), "
          f"{runs} runs each, taken in turn", flush=True)
    for i in range(runs):
        for side in ((new, old) if i % 2 == 0 else (old, new)):
            run(side, command, figures, same, env)
    summaries = [Summary(label, new.values[label], old.values[label]) for label in figures]
    print(f"\n{'figure':<32} {'this: median (range)':>26} {'base: median (range)':>26} "
          f"{'ratio':>7} {'pairwise':>9}")
    for summary in summaries:
        print(summary.row())
    lines = set(new.same + old.same)
    if lines == {None}:
        print(f"(no line with {same!r} to compare the runs' work by)" if same else "")
    elif len(lines) == 1:
        print(f"same work in every run: {lines.pop()}")
    else:
        print(f"THE RUNS DIFFER in {same!r}: {sorted(map(str, lines))}")
    return summaries


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="main", help="the revision to compare against")
    parser.add_argument("--runs", type=int, default=5, help="runs of each side")
    parser.add_argument("--figure", action="append", dest="figures",
                        help=f"a figure's label (default: {', '.join(DEFAULT_FIGURES)})")
    parser.add_argument("--same", default=DEFAULT_SAME,
                        help="a line every run must print alike ('' for none)")
    parser.add_argument("--no-build", action="store_true", help="use the trees as they are")
    parser.add_argument("--repo", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="*", help="the bench command and its arguments "
                        f"(default: {' '.join(DEFAULT_COMMAND)})")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    compare(args.base, args.runs, args.command or DEFAULT_COMMAND,
            args.figures or DEFAULT_FIGURES, args.same, args.repo, not args.no_build)
    return 0


if __name__ == "__main__":
    sys.exit(main())
