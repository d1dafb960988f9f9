"""Compile :data:`compiled.MODULES` with mypyc into ``var/compiled`` (``make install`` runs it;
needs a C compiler and Python's headers, as any C extension does).

    python -m compiled.build     # then: python -c 'import compiled; print(compiled.status())'

Writes the extension modules, then ``manifest.json``: the Python they were built for and the
digest of every source compiled, which :func:`compiled.install` checks before using them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from compiled import (
    GROUP,
    MANIFEST,
    MODULES,
    ROOT,
    built,
    digest,
    directory,
    source,
    target,
)


def build(where: Path | None = None) -> dict[str, object]:
    """Compile into ``where`` (default :func:`compiled.directory`); returns the manifest.

    Each build goes in a folder of its own, named by what it was built from; the manifest that
    points to it is replaced in one step, last. A process starting meanwhile reads the old
    manifest or the new one, and finds the files it names: the previous build is kept, older
    ones removed."""
    from mypyc.build import mypycify  # the build needs mypy (a dev dependency), never a worker
    from setuptools import Distribution

    where = where or directory()
    started = time.monotonic()
    sources = {module: digest(source(module)) for module in MODULES}
    name = hashlib.sha256(json.dumps([target(), sources]).encode()).hexdigest()[:16]
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=_parent(where)))
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)  # mypyc names modules by their paths from here
        extensions = mypycify([str(source(m).relative_to(ROOT)) for m in MODULES],
                              group_name=GROUP, target_dir=str(staging / "c"))
        dist = Distribution({"name": "sunlight-compiled", "ext_modules": extensions})
        command = dist.get_command_obj("build_ext")
        command.build_lib = str(staging / "lib")
        command.build_temp = str(staging / "tmp")
        command.parallel = os.cpu_count() or 1
        dist.run_command("build_ext")
        os.chdir(cwd)
        # Only sources unchanged while compiling count as built.
        if {module: digest(source(module)) for module in MODULES} != sources:
            raise SystemExit("a source changed while compiling: run the build again")
        lib = (staging / "lib").resolve()
        files = {ext.name: str(Path(name) / (ROOT / command.get_ext_fullpath(ext.name))
                               .resolve().relative_to(lib)) for ext in extensions}
        where.mkdir(parents=True, exist_ok=True)
        if not all((where / file).exists() for file in files.values()):  # else: the same build
            shutil.rmtree(where / name, ignore_errors=True)
            os.rename(lib, where / name)
        manifest = {"target": target(), "sources": sources, "files": files,
                    "seconds": round(time.monotonic() - started, 1)}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
        previous = _current(where)
        os.replace(staging / MANIFEST, where / MANIFEST)
    finally:
        os.chdir(cwd)
        shutil.rmtree(staging, ignore_errors=True)
    for entry in where.iterdir():
        if entry.name not in {name, previous, MANIFEST}:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    return manifest


def _current(where: Path) -> str | None:
    """The folder of the build the manifest in ``where`` names now, if any."""
    try:
        files = json.loads((where / MANIFEST).read_text())["files"]
        return str(Path(next(iter(files.values()))).parts[0])
    except (OSError, ValueError, KeyError, StopIteration, IndexError):
        return None


def _parent(where: Path) -> Path:
    where.parent.mkdir(parents=True, exist_ok=True)
    return where.parent


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m compiled.build", description=__doc__)
    parser.add_argument("--if-needed", action="store_true",
                        help="only if the build is missing, or stale, or for another Python")
    if parser.parse_args().if_needed and built().mode == "in use":
        print(f"compiled modules up to date in {directory()}", file=sys.stderr)
        return
    manifest = build()
    print(f"compiled {len(MODULES)} modules with mypyc in {manifest['seconds']} s into "
          f"{directory()}", file=sys.stderr)


if __name__ == "__main__":
    main()
