"""``sunlight``: the command line (each command a module of stream/cli/).

Each command module has ``HELP``, ``ENV`` (the variables its --help lists), ``add_arguments``
and ``run``, and imports what the command needs only when it runs: ``sunlight worker`` loads
neither the simulator nor the backtest (tests/test_cli.py checks).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import sys
from types import ModuleType
from typing import Any

from stream.cli.common import ALL
from stream.config import Settings, SettingsError
from stream.usage import HelpFormatter, env_help

#: The commands in the order --help lists them (module: stream/cli/<name with _>.py).
COMMANDS = ("worker", "topics", "simulate", "replay", "score", "watch", "alerts", "dispose",
            "run", "topology", "new-detector", "completion")
#: Commands that need no settings (they run before the environment is checked).
NO_SETTINGS = ("new-detector", "completion")


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"stream.cli.{name.replace('-', '_')}")


def _version() -> str:
    try:
        return importlib.metadata.version("sunlight")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "unknown (not installed)"


def _settings() -> Settings | None:
    """The settings; None (and the one line said) when the environment holds an unusable
    one."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"sunlight: {exc}", file=sys.stderr)
        return None


def build_parser() -> argparse.ArgumentParser:
    """Every command, its options with their defaults, and the environment it reads."""
    parser = argparse.ArgumentParser(prog="sunlight", description=__doc__.splitlines()[0],
                                     formatter_class=HelpFormatter, epilog=env_help(ALL))
    parser.add_argument("--version", action="version", version=f"sunlight {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = command_module(name)
        extra: dict[str, Any] = {"add_help": False} if getattr(module, "OWN_PARSER", False) \
            else {}
        p = sub.add_parser(name, help=module.HELP, description=module.HELP,
                           formatter_class=HelpFormatter, epilog=env_help(module.ENV), **extra)
        module.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        code = _dispatch(argv)
        sys.stdout.flush()  # here, not at exit: a reader gone is caught below
        return code
    except BrokenPipeError:
        # The reader went away (`sunlight topology | head`): no traceback. stdout goes to
        # /dev/null so the interpreter's own flush at exit does not fail again; 141 is what a
        # shell reports for a command stopped by SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _dispatch(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["score"]:  # its own parser: `sunlight score --help` shows its options
        if not {"-h", "--help"} & set(argv[1:]) and _settings() is None:
            return 2
        return int(command_module("score").run(argv[1:]))
    parser = build_parser()
    args = parser.parse_args(argv)
    module = command_module(args.command)
    if args.command in NO_SETTINGS:
        return int(module.run(args, parser))
    settings = _settings()
    if settings is None:
        return 2
    return int(module.run(settings, args))
