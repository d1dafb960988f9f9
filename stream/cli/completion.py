"""Shell completion for ``sunlight``, written from the command line's own parser, so a new
command or option completes without anyone editing a script.

bash: ``source <(sunlight completion bash)``; zsh: the same with ``zsh`` (bash's completion
function through zsh's ``bashcompinit``).
"""

from __future__ import annotations

import argparse
import shlex


def _words(parser: argparse.ArgumentParser
           ) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """(option strings, the choices of its positional arguments, option -> its value's
    choices) of one parser."""
    options: list[str] = []
    choices: list[str] = []
    values: dict[str, list[str]] = {}
    for action in parser._actions:  # argparse has no public listing of its actions
        if action.option_strings:
            options += action.option_strings
            if action.choices:
                for option in action.option_strings:
                    values[option] = [str(c) for c in action.choices]
        elif action.choices and not isinstance(action, argparse._SubParsersAction):
            choices += [str(c) for c in action.choices]
    return options, choices, values


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def bash(parser: argparse.ArgumentParser,
         own: dict[str, argparse.ArgumentParser] | None = None) -> str:
    """A bash completion function for ``parser``'s program: commands first, then each
    command's options and choices, and file names where a value is expected. ``own``: the
    parsers of commands that parse their arguments themselves."""
    prog = parser.prog
    commands = {**_commands(parser), **(own or {})}
    top_options = _words(parser)[0]
    cases = []
    for name, sub in commands.items():
        options, choices, values = _words(sub)
        by_option = "".join(f" {shlex.quote(o)}) values={shlex.quote(' '.join(v))} ;;"
                            for o, v in values.items())
        cases.append(f"        {shlex.quote(name)}) opts={shlex.quote(' '.join(options))}; "
                     f"choices={shlex.quote(' '.join(choices))}"
                     + (f'; case "$prev" in{by_option} esac' if values else "") + " ;;")
    function = f"_{prog.replace('-', '_')}_complete"
    return "\n".join([
        f"# {prog} completion (bash): source <({prog} completion bash)",
        f"{function}() {{",
        '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    local opts="" choices="" values=""',
        "    if [[ $COMP_CWORD -eq 1 ]]; then",
        f"        COMPREPLY=($(compgen -W {shlex.quote(' '.join([*commands, *top_options]))}"
        ' -- "$cur"))',
        "        return",
        "    fi",
        '    case "${COMP_WORDS[1]}" in',
        *cases,
        "    esac",
        '    if [[ -n "$values" ]]; then  # the value of an option that has choices',
        '        COMPREPLY=($(compgen -W "$values" -- "$cur"))',
        '    elif [[ "$cur" == -* ]]; then',
        '        COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
        "    else",
        '        COMPREPLY=($(compgen -W "$choices" -- "$cur") $(compgen -f -- "$cur"))',
        "    fi",
        "}",
        f"complete -o filenames -F {function} {prog}",
    ])


def script(parser: argparse.ArgumentParser, shell: str,
           own: dict[str, argparse.ArgumentParser] | None = None) -> str:
    """The completion script of ``parser`` for ``shell`` (bash or zsh)."""
    if shell == "bash":
        return bash(parser, own)
    if shell == "zsh":
        return "\n".join([f"#compdef {parser.prog}",
                          "autoload -U +X bashcompinit && bashcompinit",
                          bash(parser, own)])
    raise ValueError(f"no completion for shell {shell!r} (bash or zsh)")


# -- the command ----------------------------------------------------------------------------
HELP = "print a shell completion script (bash or zsh)"
ENV: tuple[str, ...] = ()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("shell", choices=("bash", "zsh"),
                   help="bash: `source <(sunlight completion bash)`; zsh: "
                        "`source <(sunlight completion zsh)`, or save it as _sunlight on $fpath")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from stream.cli import score

    print(script(parser, args.shell, {"score": score.parser()}))
    return 0
