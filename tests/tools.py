"""External programs the tests need besides the broker: Prometheus and promtool.

A missing one is installed the way ``make test`` does it (``deploy/install-prometheus``: Debian's
package, where this machine allows it); where it cannot be, the test fails with what to
install. Never a skip: CI without Prometheus is a failed run.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def _install_prometheus() -> str:
    """Run the installer once per session; its message (what to install) if it could not."""
    result = subprocess.run([str(ROOT / "deploy" / "install-prometheus")],
                            capture_output=True, text=True, timeout=600)
    return (result.stderr or result.stdout).strip()


def prometheus_tool(name: str) -> str:
    """The path of ``prometheus`` or ``promtool``; the test fails if it cannot be had."""
    path = shutil.which(name)
    if path is None:
        message = _install_prometheus()
        path = shutil.which(name)
        if path is None:
            pytest.fail(f"`{name}` is not installed: {message}", pytrace=False)
    return path
