"""One doc page per detector, generated from its docstrings: ``python -m detectors.docs`` writes
``docs/detectors/<name>.md`` (and an index); ``--check`` only says which pages are stale.

The sources, so the page cannot drift from the code: the module docstring's first line (the
title), its paragraph starting "The case" and its doctest (the example); the class docstring's
``Fires:``, ``Silent:``, ``Evidence:`` and ``Parameters:`` sections (each parameter as
``name: meaning``, with its default read from ``defaults``). A missing section, or a parameter
the docstring does not describe, is an error naming the detector.

>>> from detectors.deceased_recipient import DeceasedRecipient
>>> print(page(DeceasedRecipient).splitlines()[0])
# deceased_recipient: a welfare subsidy paid to a person who had already died.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from detectors.base import Detector

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "docs" / "detectors"
#: Class docstring sections, in page order after the case: (docstring header, page heading).
SECTIONS = (("Fires", "When it fires"), ("Silent", "What stays silent"),
            ("Parameters", "Parameters"), ("Evidence", "Evidence"))
NAMING = """\
Time parameters have one meaning across detectors: `allowed_lateness_hours` /
`allowed_lateness_days` is how long after a record or window event time must move on before it
is judged (records arriving by then still count); `retention_days` is how far behind the
watermark a record is still judged (an older one is counted late, never judged on part of its
evidence); `window_days` is the detection window. Old names (`lateness_hours`, and
`bid_price_screen`'s `window_days` for its retention) are accepted for one release, with a
warning; a rename changes no alert's `detector_version`."""


class DocError(ValueError):
    """A detector's docstrings lack what its page needs."""


def class_sections(cls: type[Detector]) -> dict[str, str]:
    """The class docstring's sections by header (text dedented, paragraphs kept)."""
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "")
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in doc.splitlines():
        match = re.match(r"^(\w+)( of [^:]*)?:(.*)$", line)
        if match and match.group(1) in dict(SECTIONS):
            current = sections.setdefault(match.group(1), [])
            if match.group(2):  # "Parameters of the online scorer (...)": same section
                current.append("")
            if match.group(3).strip():
                current.append(match.group(3).strip())
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip() for name, lines in sections.items()}


def parameters(cls: type[Detector], text: str) -> dict[str, str]:
    """name -> meaning, from a Parameters section (``name: meaning`` lines, continued deeper)."""
    found: dict[str, str] = {}
    name = None
    for line in text.splitlines():
        match = re.match(r"^\s*(\w+): (.*)$", line)
        if match and match.group(1) in cls.defaults:
            name = match.group(1)
            found[name] = match.group(2).strip()
        elif name is not None and line.startswith(" ") and line.strip():
            found[name] += " " + line.strip()
        else:
            name = None
    return found


def _default(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(value) + "]"
    return str(value)


def _module_parts(cls: type[Detector]) -> tuple[str, str, str]:
    doc = inspect.cleandoc(sys.modules[cls.__module__].__doc__ or "")
    prose, _, example = doc.partition("\n>>>")
    raw = [p.strip() for p in prose.split("\n\n") if p.strip()]
    title = " ".join(raw[0].split()) if raw else ""
    case_at = next((i for i, p in enumerate(raw) if p.startswith("The case")), None)
    case = ""
    if case_at is not None:  # the paragraph, and a list that follows it (bid_price_screen's)
        case = " ".join(raw[case_at].split())
        for paragraph in raw[case_at + 1:]:
            if not paragraph.startswith("- "):
                break
            case += "\n\n" + "\n".join(
                ("" if line.startswith("- ") else "  ") + " ".join(line.split())
                for line in paragraph.splitlines())
    return title, case, (">>>" + example).strip() if example else ""


def page(cls: type[Detector]) -> str:
    """The Markdown page of detector class ``cls`` (raises DocError on what is missing)."""
    title, case, example = _module_parts(cls)
    sections = class_sections(cls)
    missing = [header for header, _ in SECTIONS if not sections.get(header)]
    missing += [] if case else ['the module docstring\'s paragraph "The case ..."']
    missing += [] if example else ["a doctest example (>>>) in the module docstring"]
    if missing:
        raise DocError(f"{cls.name}: the docstrings lack {', '.join(missing)} "
                       f"({inspect.getfile(cls)})")
    meanings = parameters(cls, sections["Parameters"])
    undescribed = [name for name in cls.defaults if name not in meanings]
    if undescribed:
        raise DocError(f"{cls.name}: the Parameters section does not describe {undescribed}")
    out = [f"# {title}", "",
           f"<!-- Generated by `python -m detectors.docs` from {_source(cls)}: edit the "
           "docstrings, not this page. -->", "",
           f"Reads {', '.join(f'`{feed}`' for feed in sorted(cls.feeds))}, keyed by "
           f"`{cls.key_kind}`; logic version {cls.logic_version}.", "",
           "## The case", "", case, ""]
    for header, heading in SECTIONS:
        out += [f"## {heading}", ""]
        if header == "Parameters":
            out += ["| parameter | default | meaning |", "|---|---|---|"]
            out += [f"| `{name}` | `{_default(value)}` | {meanings[name]} |"
                    for name, value in cls.defaults.items()]
            out += ["", NAMING]
        else:
            out.append(" ".join(sections[header].split()))
        out.append("")
    out += ["## Example", "", "```pycon", example, "```", ""]
    return "\n".join(out)


def _source(cls: type[Detector]) -> str:
    return f"detectors/{Path(inspect.getfile(cls)).name}"


def index(catalogue: Mapping[str, type[Detector]]) -> str:
    lines = ["# Detectors", "",
             "<!-- Generated by `python -m detectors.docs`. -->", "",
             "| detector | what it finds |", "|---|---|"]
    for name, cls in catalogue.items():
        what = _module_parts(cls)[0].partition(": ")[2]
        lines.append(f"| [{name}]({name}.md) | {what} |")
    return "\n".join(lines) + "\n"


def pages(catalogue: Mapping[str, type[Detector]]) -> dict[str, str]:
    """File name -> content of every page (and the index)."""
    out = {f"{name}.md": page(cls) for name, cls in catalogue.items()}
    out["README.md"] = index(catalogue)
    return out


def main(argv: list[str] | None = None) -> int:
    from detectors import CATALOGUE

    parser = argparse.ArgumentParser(prog="python -m detectors.docs", description=__doc__)
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming the pages that are stale")
    parser.add_argument("--out", type=Path, default=PAGES)
    args = parser.parse_args(argv)
    try:
        wanted = pages(CATALOGUE)
    except DocError as exc:
        print(f"detectors.docs: {exc}", file=sys.stderr)
        return 1
    stale = [name for name, text in wanted.items()
             if not (args.out / name).exists() or (args.out / name).read_text() != text]
    extra = sorted(p.name for p in args.out.glob("*.md") if p.name not in wanted) \
        if args.out.exists() else []
    if args.check:
        for name in [*stale, *extra]:
            print(f"stale: {args.out / name}", file=sys.stderr)
        return 1 if stale or extra else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (args.out / name).write_text(wanted[name])
    for name in extra:
        (args.out / name).unlink()
    print(f"{len(stale)} page(s) written, {len(extra)} removed, in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
