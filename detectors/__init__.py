"""Detectors: pure, deterministic units (event + state in, findings and state out).

A detector is found by being defined: ``CATALOGUE`` maps the name of every concrete subclass of
:class:`~detectors.base.Detector` that sets its own ``name``, in any module of this package, to
its class (by name). Adding one is writing its module; nothing lists it by hand. The detectors
file enables them and sets their parameters.
"""

import compiled

compiled.install()  # before any module it may serve is imported

import importlib  # noqa: E402 - the imports after the install above
import pkgutil  # noqa: E402

from detectors.base import Detector, Event, Finding  # noqa: E402

#: Modules of this package that are tools over the detectors, never detectors, and are not
#: imported to find them (``python -m detectors.docs`` must not find itself imported).
TOOLS = frozenset({"docs", "scaffold", "testing"})


def discover() -> dict[str, type[Detector]]:
    """Import every module of the package but the tools; name -> class of every detector."""
    for module in pkgutil.iter_modules(__path__):
        if module.name not in TOOLS and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    found: dict[str, type[Detector]] = {}
    pending = list(Detector.__subclasses__())
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        name = cls.__dict__.get("name")
        if isinstance(name, str) and cls.__module__.startswith(f"{__name__}."):
            other = found.setdefault(name, cls)
            if other is not cls:
                raise TypeError(f"two detectors are named {name!r}: {other.__module__}."
                                f"{other.__qualname__} and {cls.__module__}.{cls.__qualname__}")
    return dict(sorted(found.items()))


CATALOGUE: dict[str, type[Detector]] = discover()

__all__ = ["CATALOGUE", "Detector", "Event", "Finding", "discover"]
