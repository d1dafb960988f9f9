"""Sunlight's pure core compiled to C with mypyc, used in place of its source only when built
from exactly that source.

The modules in :data:`MODULES` (the Runner, the contract's decode, the detectors' shared code)
run once or more per event: compiled, their Python overhead (calls, attribute and dict access
through the interpreter) goes, and a worker needs fewer CPU microseconds per event. They stay
ordinary Python in the tree; ``python -m compiled.build`` (``make install`` runs it) compiles
them into ``var/compiled`` with a manifest of the digests of the sources it compiled.

:func:`install` (called first by each of Sunlight's packages) puts a finder before Python's
own that serves those modules from the build, all of them or none: the build is used only if
it was made for this Python and every module's source is unchanged since (compiled modules call
each other directly, so one edited source with the others compiled would run stale code). An
edited source is simply run as source, with a warning to rebuild. ``SUNLIGHT_COMPILED``:
``auto`` (default: the build if usable), ``off`` (always the source: to debug, or to compare),
``required`` (fail at import unless the build is in use: benchmarks, tests).

>>> status().mode in {"in use", "off", "not built", "stale", "other python"}
True
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

#: The modules compiled (one group: they call each other natively): those run per event. Pure
#: code only, whose annotations hold at run time (mypyc checks them: a function that takes any
#: value to refuse the wrong ones says ``object``), never monkeypatched.
MODULES: tuple[str, ...] = (
    "detectors.clock",
    "detectors.runner",
    "detectors.scoring",
    "schemas.contract",
    "stream.ingest",
)
#: mypyc's group name: the shared library of the group is ``<GROUP>__mypyc``.
GROUP = "sunlight_compiled"
ROOT = Path(__file__).resolve().parent.parent
MANIFEST = "manifest.json"


def _wanted() -> str:
    """``SUNLIGHT_COMPILED``: auto, off or required (anything else counts as auto here, and a
    command refuses it at start, as any setting: stream/config.py)."""
    return os.environ.get("SUNLIGHT_COMPILED", "").strip().lower() or "auto"


def directory() -> Path:
    """Where the build is (``SUNLIGHT_COMPILED_DIR``, default ``var/compiled`` in the tree)."""
    return Path(os.environ.get("SUNLIGHT_COMPILED_DIR") or ROOT / "var" / "compiled")


def source(module: str) -> Path:
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def digest(path: Path) -> str | None:
    """The source's sha256 (None if it cannot be read: then no build can stand in for it)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def target() -> str:
    """The Python a build is for: its extension modules load only there."""
    return f"{sys.implementation.cache_tag} {importlib.machinery.EXTENSION_SUFFIXES[0]}"


@dataclass(frozen=True)
class Status:
    #: "in use", "off", "not built", "stale" (a source changed since the build) or "other
    #: python" (built for another interpreter).
    mode: str
    detail: str
    #: module name -> its extension file (empty unless in use).
    files: dict[str, Path]


def status(modules: Sequence[str] = MODULES) -> Status:
    """Whether the build can stand in for the sources now, and why not."""
    if _wanted() == "off":
        return Status("off", "SUNLIGHT_COMPILED=off: running the sources", {})
    return built(modules)


def built(modules: Sequence[str] = MODULES) -> Status:
    """Whether the build is whole, for this Python, and of the sources as they are now."""
    where = directory()
    try:
        manifest = json.loads((where / MANIFEST).read_text())
    except (OSError, ValueError):
        return Status("not built", f"no build in {where} (python -m compiled.build)", {})
    if manifest.get("target") != target():
        return Status("other python", f"{where} was built for {manifest.get('target')}, this "
                      f"is {target()}: rebuild (python -m compiled.build)", {})
    built = manifest.get("sources", {})
    if set(built) != set(modules):  # another release's list: its extra modules are unchecked
        return Status("stale", f"the build in {where} is of other modules "
                      f"({', '.join(sorted(set(built) ^ set(modules)))} differ): running the "
                      "sources (rebuild: python -m compiled.build)", {})
    changed = [m for m in modules if built.get(m) is None or built.get(m) != digest(source(m))]
    if changed:
        return Status("stale", f"changed since the build in {where}: {', '.join(changed)}; "
                      "running the sources (rebuild: python -m compiled.build)", {})
    files = {name: where / file for name, file in manifest.get("files", {}).items()}
    missing = [str(f) for f in files.values() if not f.exists()]
    if missing or set(modules) - set(files):
        return Status("not built", f"incomplete build in {where}: rebuild", {})
    return Status("in use", f"{len(modules)} modules compiled with mypyc ({where})", files)


class _Loader(importlib.machinery.ExtensionFileLoader):
    """Loads the extension; its ``__file__`` is then its source (the extension is
    ``__spec__.origin``), so tools that read a module's source (doctests, ``inspect``) find it,
    beside the package's data files."""

    def exec_module(self, module: ModuleType) -> None:
        super().exec_module(module)
        if "." in module.__name__:  # not the group's shared library: it has no source
            module.__file__ = str(source(module.__name__))


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        file = self.files.get(fullname)
        if file is None:
            return None
        return importlib.util.spec_from_file_location(fullname, file,
                                                      loader=_Loader(fullname, str(file)))


_installed: Status | None = None


def install() -> Status:
    """Serve the compiled modules if the build is usable (once per process; see the module
    docstring). Returns the status."""
    global _installed
    if _installed is not None:
        return _installed
    current = status()
    already = [m for m in MODULES if m in sys.modules]
    if current.mode == "in use" and already:  # imported as source before: never mix the two
        current = Status("off", f"imported before the build could serve them: "
                         f"{', '.join(already)}", {})
    if current.mode == "in use":
        sys.meta_path.insert(0, _Finder(current.files))
    elif _wanted() == "required":
        raise ImportError(f"SUNLIGHT_COMPILED=required, but the compiled build is not in use: "
                          f"{current.detail}")
    elif current.mode in {"stale", "other python"}:
        warnings.warn(f"compiled modules not used: {current.detail}", RuntimeWarning,
                      stacklevel=2)
    _installed = current
    return current
