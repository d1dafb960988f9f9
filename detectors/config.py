"""The detectors file: which detectors run and with what parameters.

Validated at start: an unknown detector, an unknown parameter or a wrong type stops the worker
with a message naming the file, the line and the problem.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "d.yaml"
>>> _ = path.write_text("detectors:\\n  ineligible_subsidy_payee:\\n    params: {colour: red}\\n")
>>> try:
...     load_detectors(path)
... except ConfigError as exc:
...     print(exc)
/...d.yaml line 3: detector 'ineligible_subsidy_payee' has no parameter 'colour' (it has: ...)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from detectors.base import Detector, ParameterError


class ConfigError(ValueError):
    pass


def load_detectors(path: Path | None) -> list[Detector]:
    """The enabled detectors of the file (every detector with defaults when there is none)."""
    from detectors import CATALOGUE

    if path is None or not Path(path).exists():
        return [cls() for cls in CATALOGUE.values()]
    text = Path(path).read_text()
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc

    def fail(node: yaml.Node, message: str) -> ConfigError:
        return ConfigError(f"{path} line {node.start_mark.line + 1}: {message}")

    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise fail(root, "the file must be a mapping with a 'detectors' key")
    top = {k.value: v for k, v in root.value}
    if "detectors" not in top or not isinstance(top["detectors"], yaml.MappingNode):
        raise fail(root, "expected a 'detectors:' mapping of detector names")
    detectors: list[Detector] = []
    for name_node, body in top["detectors"].value:
        name = name_node.value
        if name not in CATALOGUE:
            raise fail(name_node, f"unknown detector {name!r} (known: {', '.join(CATALOGUE)})")
        settings: dict[str, Any] = yaml.safe_load(yaml.serialize(body)) or {}
        if not isinstance(settings, dict):
            raise fail(body, f"detector {name!r} must be a mapping (enabled, params)")
        extra = set(settings) - {"enabled", "params"}
        if extra:
            raise fail(body, f"detector {name!r}: unknown key {sorted(extra)[0]!r} "
                             "(expected 'enabled' and 'params')")
        if not settings.get("enabled", True):
            continue
        params = settings.get("params") or {}
        params_node = next((v for k, v in body.value if k.value == "params"), body)
        try:
            detectors.append(CATALOGUE[name](**params))
        except ParameterError as exc:
            bad = next((k for k, _ in getattr(params_node, "value", [])
                        if isinstance(k, yaml.Node) and k.value in str(exc)), params_node)
            raise fail(bad, str(exc)) from exc
    return detectors
