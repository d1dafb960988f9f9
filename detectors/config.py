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

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from detectors.base import Detector, ParameterError
from detectors.tuned import tune


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
    except yaml.YAMLError as exc:  # one line: where, and what the parser found
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from exc

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
        extra = set(settings) - {"enabled", "params", "overrides"}
        if extra:
            bad_key = next(k for k, _ in body.value if k.value in extra)
            raise fail(bad_key, f"detector {name!r}: unknown key {bad_key.value!r} "
                                "(expected enabled, params, overrides)")
        enabled = settings.get("enabled", True)
        if not isinstance(enabled, bool):
            raise fail(body, f"detector {name!r}: 'enabled' must be true or false")
        if not enabled:
            continue
        params = settings.get("params") or {}
        node = _child(body, "params")
        base = _build(CATALOGUE[name], params, node, fail)
        overrides = []
        overrides_node = _child(body, "overrides")
        if settings.get("overrides") is not None and not isinstance(
                overrides_node, yaml.SequenceNode):
            raise fail(overrides_node, f"detector {name!r}: 'overrides' must be a list")
        for item, item_node in zip(settings.get("overrides") or [],
                                   getattr(overrides_node, "value", []), strict=False):
            if not isinstance(item, dict) or set(item) - {"match", "params"} or not isinstance(
                    item.get("match"), dict) or not item["match"]:
                raise fail(item_node, f"detector {name!r}: an override needs 'match' (e.g. "
                                      "region: '3311') and 'params'")
            merged = {**params, **(item.get("params") or {})}
            overrides.append((item["match"], _build(CATALOGUE[name], merged,
                                                    _child(item_node, "params"), fail)))
        detectors.append(tune(base, overrides))
    return detectors


def _child(node: yaml.Node, key: str) -> yaml.Node:
    if isinstance(node, yaml.MappingNode):
        return next((v for k, v in node.value if k.value == key), node)
    return node


def _build(cls: type[Detector], params: Any, node: yaml.Node,
           fail: Callable[[yaml.Node, str], ConfigError]) -> Detector:
    if not isinstance(params, dict):
        raise fail(node, f"detector {cls.name!r}: 'params' must be a mapping")
    try:
        # Old names: said at their line, once (the class then sees the names of now).
        where = {k.value: str(fail(k, "")) for k, _ in getattr(node, "value", [])
                 if isinstance(k, yaml.Node) and k.value in cls.renamed}
        return cls(**cls.current_names(params, where))
    except (ValueError, TypeError) as exc:
        # ParameterError, the scorer's ScorerParameterError, or any other refusal of a value
        # by a detector's constructor: all are the file's mistake, reported at its line.
        bad = next((k for k, _ in getattr(node, "value", [])
                    if isinstance(k, yaml.Node) and f"{k.value!r}" in str(exc)), node)
        message = str(exc) if isinstance(exc, ParameterError) else (
            f"detector {cls.name!r}: {exc}")
        raise fail(bad, message) from exc
