"""The command line as a newcomer and an operator meet it, run as real processes: a mistake in
the environment or the detectors file stops a command with exit code 2 and one line naming
what to fix (no traceback); --version, --help of every command (options with defaults, the
environment it reads) and shell completion."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stream.backtest.score import DETECTORS
from stream.cli import build_parser
from stream.config import KAFKA_SECURITY_VARIABLES, VARIABLES, Settings, SettingsError

ROOT = Path(__file__).resolve().parent.parent
#: Environment a command must not inherit from the test run (it would hide the case).
CLEAN = {k: v for k, v in os.environ.items()
         if not k.startswith(("SUNLIGHT_", "KAFKA_SECURITY_", "KAFKA_SASL_", "KAFKA_SSL_"))}


def sunlight(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stream.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env={**CLEAN, **env})


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a refused start (exit 2, no traceback)."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.mark.parametrize(("name", "value", "accepted"), [
    ("SUNLIGHT_PARTITIONS", "eight", "a whole number >= 1"),
    ("SUNLIGHT_WEB_PORT", "http", "a port number 1-65535"),
    ("SUNLIGHT_WEB_PORT", "70000", "a port number 1-65535"),
    ("SUNLIGHT_DETECTORS_FILE", "/nonexistent/tuned.yaml", "the path of an existing file"),
    ("SUNLIGHT_MASK_PERSON_IDS", "maybe", "1/0, true/false"),
    ("SUNLIGHT_DEDUPE_HORIZON_S", "-5", "a number of seconds > 0"),
    ("SUNLIGHT_SESSION_TIMEOUT_S", "30s", "a number of seconds > 0"),
    ("SUNLIGHT_LOG_LEVEL", "loud", "debug, info, warning, error or critical"),
    ("SUNLIGHT_LOG_FORMAT", "xml", "text or json"),
    ("SUNLIGHT_COMPILED", "fast", "auto, off or required"),
    ("SUNLIGHT_TOPIC_PREFIX", "my prefix/", "letters, digits"),
    ("KAFKA_BOOTSTRAP_SERVERS", "localhost", "host:port"),
    ("KAFKA_SECURITY_PROTOCOL", "TLS", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    ("KAFKA_SSL_CAFILE", "/nonexistent/ca.pem", "the path of an existing PEM file"),
])
def test_a_bad_setting_stops_the_worker_with_one_line(name: str, value: str,
                                                      accepted: str) -> None:
    line = one_line_error(sunlight("worker", **{name: value}))
    assert line.startswith(f"sunlight: {name}={value!r}") and accepted in line


def test_a_bad_option_value_is_refused_with_exit_2() -> None:
    result = sunlight("worker", "--web-port", "http")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "argument --web-port: 'http' is not a port number 1-65535" in result.stderr


def test_a_misspelt_kafka_security_variable_is_named() -> None:
    line = one_line_error(sunlight("topics", KAFKA_SSL_CAFIL="/etc/ssl/ca.pem"))
    assert "KAFKA_SSL_CAFIL is not a setting" in line and "KAFKA_SSL_CAFILE" in line


def test_every_command_checks_the_environment() -> None:
    for args in (["topics"], ["simulate", "--events", "1"], ["watch"], ["replay", "x.jsonl"],
                 ["score", "--in", "-"]):
        assert "SUNLIGHT_PARTITIONS" in one_line_error(sunlight(*args, SUNLIGHT_PARTITIONS="0"))


@pytest.mark.parametrize("params", [
    "threshold: 0.9\n      direction: sideways",   # the scorer's parameter
    "threshold: high",                              # a detector's, wrong type
])
def test_a_bad_detector_or_scorer_parameter_names_file_and_line(tmp_path: Path,
                                                                params: str) -> None:
    path = tmp_path / "tuned.yaml"
    path.write_text(f"detectors:\n  drug_purchase_spike:\n    params:\n      {params}\n")
    bad_line = 4 + params.count("\n")
    for result in (sunlight("worker", SUNLIGHT_DETECTORS_FILE=str(path)),
                   sunlight("replay", str(tmp_path), "--detectors", str(path))):
        line = one_line_error(result)
        assert f"{path} line {bad_line}:" in line and "drug_purchase_spike" in line


def test_a_file_that_is_not_yaml_is_one_line_too(tmp_path: Path) -> None:
    path = tmp_path / "tuned.yaml"
    path.write_text("detectors:\n  a: [1,\n  b: 2\n")
    assert f"{path} line" in one_line_error(sunlight("worker", SUNLIGHT_DETECTORS_FILE=str(path)))


def test_replay_with_a_detectors_file_that_is_not_there() -> None:
    line = one_line_error(sunlight("replay", "feed/", "--detectors", "/nonexistent/t.yaml"))
    assert "/nonexistent/t.yaml" in line and "no such file" in line


def test_settings_read_every_variable_in_its_type(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    settings = Settings.from_env({
        "KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9093", "SUNLIGHT_PARTITIONS": "12",
        "SUNLIGHT_WEB_PORT": "7000", "SUNLIGHT_MASK_PERSON_IDS": "off",
        "SUNLIGHT_DEDUPE_HORIZON_S": "3600", "SUNLIGHT_LOG_FORMAT": "JSON",
        "KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "KAFKA_SSL_CAFILE": str(ca),
        "SUNLIGHT_APP_ID": "", "SUNLIGHT_DATA_DIR": str(tmp_path)})
    assert (settings.bootstrap_servers, settings.partitions, settings.web_port) == (
        "k1:9092,k2:9093", 12, 7000)
    assert settings.mask_person_ids is False and settings.dedupe_horizon_s == 3600.0
    assert settings.log_format == "json" and settings.app_id == "sunlight"  # empty: default
    assert settings.data_dir == tmp_path
    assert settings.kafka_security == {"security_protocol": "SASL_SSL", "ssl_cafile": str(ca)}
    with pytest.raises(SettingsError):
        Settings.from_env({"SUNLIGHT_MAX_RECORD_BYTES": "1MB"})


def test_readme_documents_every_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in [v.name for v in VARIABLES] + list(KAFKA_SECURITY_VARIABLES):
        assert f"`{name}`" in readme, name


def test_version() -> None:
    result = sunlight("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"sunlight {importlib.metadata.version('sunlight')}"


def commands() -> list[str]:
    return sorted(re.findall(r"^    ([\w-]+)\s", sunlight("--help").stdout, re.M))


def test_help_of_every_command_lists_options_defaults_and_environment() -> None:
    names = commands()
    assert {"worker", "topics", "simulate", "replay", "score", "watch", "run",
            "completion"} <= set(names)
    for name in names:
        result = sunlight(name, "--help")
        assert result.returncode == 0, (name, result.stderr)
        text = " ".join(result.stdout.split())  # argparse wraps lines
        assert text.startswith(f"usage: sunlight {name}"), name
        options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", result.stdout.split("\n\n")[0]))
        for option in options:  # everything in the usage line is explained below it
            assert result.stdout.count(option) >= 2, (name, option)
        assert "environment (checked at start" in text or "environment: none read" in text, name
    worker = " ".join(sunlight("worker", "--help").stdout.split())
    assert "SUNLIGHT_PARTITIONS partitions of internal topics and changelogs a whole number " \
           ">= 1; default 8" in worker
    simulate = " ".join(sunlight("simulate", "--help").stdout.split())
    assert "--seed SEED random seed (same seed, same feed) (default: 7)" in simulate
    assert "KAFKA_BOOTSTRAP_SERVERS" in simulate and "SUNLIGHT_DETECTORS_FILE" not in simulate
    score = " ".join(sunlight("score", "--help").stdout.split())
    assert "--plot-size WxH" in score and "(default: 1200x700)" in score
    assert "SUNLIGHT_DETECTORS_FILE" in score


def completions(script: str, *words: str) -> list[str]:
    """What bash offers after typing ``words`` (the last one being completed)."""
    bash = shutil.which("bash")
    assert bash is not None
    line = " ".join(words)
    program = (f"source {script}\ncomplete -p sunlight >/dev/null || exit 3\n"
               f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}\n"
               "_sunlight_complete; printf '%s\\n' \"${COMPREPLY[@]}\"")
    empty = Path(script).parent / "cwd"  # file names are offered too: none here
    empty.mkdir(exist_ok=True)
    result = subprocess.run([bash, "--norc", "-c", program], capture_output=True, text=True,
                            timeout=30, cwd=empty)
    assert result.returncode == 0, result.stderr
    return [w for w in result.stdout.split("\n") if w]


def test_bash_completion(tmp_path: Path) -> None:
    result = sunlight("completion", "bash")
    assert result.returncode == 0
    script = tmp_path / "sunlight.bash"
    script.write_text(result.stdout)
    assert completions(str(script), "sunlight", "wor") == ["worker"]
    assert completions(str(script), "sunlight", "--v") == ["--version"]
    assert set(completions(str(script), "sunlight", "replay", "--d")) == {
        "--dispositions", "--detectors"}
    assert completions(str(script), "sunlight", "dispose", "id", "con") == ["confirmed"]
    assert "--plot-size" in completions(str(script), "sunlight", "score", "--plot")
    assert completions(str(script), "sunlight", "score", "--detector", "") == list(DETECTORS)
    # every option of every command is offered
    parser = build_parser()
    for name in commands():
        if name == "score":
            continue
        usage = sunlight(name, "--help").stdout.split("\n\n")[0]
        offered = set(completions(str(script), "sunlight", name, "--"))
        assert set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", usage)) <= offered, name
    assert parser.prog == "sunlight"


def test_zsh_completion_uses_the_bash_function() -> None:
    result = sunlight("completion", "zsh")
    assert result.returncode == 0
    assert result.stdout.startswith("#compdef sunlight\n")
    assert "bashcompinit" in result.stdout and "complete -o filenames -F _sunlight_complete" \
        in result.stdout
    zsh = shutil.which("zsh")
    if zsh is not None:  # where zsh exists, it must load the script
        check = subprocess.run([zsh, "-f", "-c", "autoload -U compinit && compinit -u && "
                                f"eval {result.stdout!r}"], capture_output=True, text=True,
                               timeout=30)
        assert check.returncode == 0, check.stderr


def _loaded_after(imports: str) -> list[str]:
    """The simulator and backtest modules a fresh interpreter holds after ``imports``."""
    code = (f"import sys; {imports}; print(' '.join(sorted(m for m in sys.modules "
            "if m.startswith(('stream.simulator', 'stream.backtest')))))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env=CLEAN)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_the_worker_loads_neither_the_simulator_nor_the_backtest() -> None:
    """`sunlight worker` imports the command line (every command's parser), its worker
    command and the worker runtime (stream.worker.app builds every stage): none of them pulls
    in stream.simulator or stream.backtest, so a change there cannot break a worker."""
    assert _loaded_after("from stream.cli import build_parser, command_module; "
                         "build_parser(); command_module('worker'); "
                         "import stream.worker.app, stream.worker.supervisor") == []
    # What the replay command runs does load the backtest: the check sees imports.
    assert "stream.backtest.replay" in _loaded_after("import stream.backtest.replay")


def test_a_reader_that_goes_away_gets_no_traceback() -> None:
    # `sunlight topology | head -1`: the pipe is closed before the command writes (it is
    # closed here at once, while the interpreter is still starting).
    process = subprocess.Popen([sys.executable, "-m", "stream.cli", "topology"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
