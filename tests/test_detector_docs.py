"""Every detector's doc page (docs/detectors/<name>.md) is the one its docstrings generate, with
every section; a docstring that lacks a section fails with the detector and the section named."""

from __future__ import annotations

import pytest

from detectors import CATALOGUE
from detectors.base import Detector
from detectors.docs import PAGES, SECTIONS, DocError, index, page

REGENERATE = "stale: run `python -m detectors.docs` and commit docs/detectors"


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_the_page_is_generated_from_the_docstrings(name: str) -> None:
    path = PAGES / f"{name}.md"
    assert path.exists(), f"{path} missing: {REGENERATE}"
    text = path.read_text()
    assert text == page(CATALOGUE[name]), f"{path} {REGENERATE}"
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## The case", *(f"## {h}" for _, h in SECTIONS), "## Example"]
    for param in CATALOGUE[name].defaults:
        assert f"| `{param}` |" in text


def test_the_index_lists_every_page() -> None:
    assert (PAGES / "README.md").read_text() == index(CATALOGUE), REGENERATE
    assert sorted(p.stem for p in PAGES.glob("*.md") if p.stem != "README") == sorted(CATALOGUE)


def test_a_missing_section_is_an_error_naming_it() -> None:
    cls = CATALOGUE["deceased_recipient"]
    doc = cls.__dict__["__doc__"]
    before, _, after = doc.partition("Silent:")
    undocumented = type("Undocumented", (cls,), {
        "__doc__": before + after.partition("\n\n")[2], "__module__": cls.__module__})
    with pytest.raises(DocError, match="deceased_recipient: the docstrings lack Silent"):
        page(undocumented)
    described = doc.replace("purposes:", "purpose list:")
    vague = type("Vague", (cls,), {"__doc__": described, "__module__": cls.__module__})
    with pytest.raises(DocError, match=r"does not describe \['purposes'\]"):
        page(vague)
    assert issubclass(vague, Detector)
