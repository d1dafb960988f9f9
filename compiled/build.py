"""Compile :data:`compiled.MODULES` with mypyc into ``var/compiled`` (``make install`` runs it;
needs a C compiler and Python's headers, as any C extension does).

    python -m compiled.build     # then: python -c 'import compiled; print(compiled.status())'

Writes the extension modules, then ``manifest.json``: the Python they were built for and the
digest of every source compiled, which :func:`compiled.install` checks before using them.
"""

from __future__ import annotations

import argparse
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
    """Compile into ``where`` (default :func:`compiled.directory`); returns the manifest."""
    from mypyc.build import mypycify  # the build needs mypy (a dev dependency), never a worker
    from setuptools import Distribution

    where = where or directory()
    started = time.monotonic()
    sources = {module: digest(source(module)) for module in MODULES}
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
        outputs = {ext.name: Path(command.get_ext_fullpath(ext.name))
                   for ext in extensions}
    finally:
        os.chdir(cwd)
    # Only sources unchanged while compiling count as built.
    if {module: digest(source(module)) for module in MODULES} != sources:
        shutil.rmtree(staging, ignore_errors=True)
        raise SystemExit("a source changed while compiling: run the build again")
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    files = {}
    for name, output in outputs.items():
        output = output if output.is_absolute() else ROOT / output
        placed = where / output.relative_to(staging / "lib")
        placed.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(output, placed)
        files[name] = str(placed.relative_to(where))
    shutil.rmtree(staging, ignore_errors=True)
    manifest = {"target": target(), "sources": sources,
                "files": files,
                "seconds": round(time.monotonic() - started, 1)}
    (where / MANIFEST).write_text(json.dumps(manifest, indent=1))  # last: the build is whole
    return manifest


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
