"""How the commands describe themselves: options with their defaults, and the environment
variables each reads (their form and default come from stream/config.py, the one place they
are defined)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from stream.config import KAFKA_SECURITY_VARIABLES, VARIABLES, Settings


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter,
                    argparse.RawDescriptionHelpFormatter):
    """Options with their defaults (where there is one); the environment epilog as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, [], argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


def env_help(names: Iterable[str]) -> str:
    """The environment variables ``names`` for a command's ``--help``: form, default, meaning."""
    by_name = {v.name: v for v in VARIABLES}
    lines = []
    for name in names:
        if name in by_name:
            variable = by_name[name]
            default = Settings.__dataclass_fields__[variable.field].default
            shown = {"": "none", True: "1", False: "0"}.get(default, default)
            meaning, form = variable.meaning, f"{variable.form}; default {shown}"
        else:
            meaning = "Kafka client security (stream/security.py)"
            form = f"{KAFKA_SECURITY_VARIABLES[name][0]}; default none"
        lines += [f"  {name:<27} {meaning}", f"  {'':<27} {form}"]
    if not lines:
        return "environment: none read"
    return "environment (checked at start; unset or empty: the default):\n" + "\n".join(lines)
