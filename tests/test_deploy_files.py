"""Fast checks of the deployment files in deploy/: the Prometheus configs and rules (promtool:
config, rules, rule unit tests), the Grafana dashboard and its provisioning, the compose file and
the worker's Dockerfile. No Docker engine runs here: the compose file is checked by
`docker compose config` only where a compose client exists, and structurally always.

promtool comes with Debian's `prometheus` package, which `make test` installs where it can
(tests/tools.py): a missing promtool fails these tests with what to install, never skips them.
"""

from __future__ import annotations

import http.server
import json
import re
import shutil
import socketserver
import subprocess
import sys
import threading
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tools import prometheus_tool

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
PROM = DEPLOY / "prometheus"
RULES = PROM / "rules" / "sunlight.rules.yml"
RULE_TESTS = [PROM / "rules" / "sunlight.rules.test.yml",
              PROM / "rules" / "sunlight.rules.daily.test.yml"]
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "sunlight.json"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml"
PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "sunlight.yaml"
COMPOSE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
OPERATIONS = DEPLOY / "OPERATIONS.md"
UNITS = {"s", "ms", "ops", "percentunit", "percent", "short", "none"}


def promtool(*args: str, cwd: Path = PROM) -> subprocess.CompletedProcess[str]:
    return subprocess.run([prometheus_tool("promtool"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in load_yaml(RULES)["groups"] for r in g["rules"] if "alert" in r]


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def all_panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(all_panels(panel.get("panels", [])))  # panels inside collapsed rows
    return out


def provisioned_uid() -> str:
    sources = load_yaml(DATASOURCES)["datasources"]
    assert len(sources) == 1 and sources[0]["type"] == "prometheus"
    return sources[0]["uid"]


# -- Prometheus --------------------------------------------------------------------------------

@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus.docker.yml"])
def test_prometheus_config_passes_promtool(config: str) -> None:
    result = promtool("check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_file_sd_alternative_passes_promtool(tmp_path: Path) -> None:
    """The file_sd form documented in prometheus.yml and OPERATIONS.md is a valid config."""
    config = load_yaml(PROM / "prometheus.yml")
    config["rule_files"] = [str(RULES)]
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "sunlight-worker")
    del job["static_configs"]
    job["file_sd_configs"] = [{"files": ["targets/sunlight-workers.yml"], "refresh_interval": "1m"}]
    (tmp_path / "targets").mkdir()
    example = PROM / "targets" / "sunlight-workers.yml"
    (tmp_path / "targets" / "sunlight-workers.yml").write_text(example.read_text())
    # Two workers of `--processes 2` on one machine: consecutive ports, both listed.
    [group] = load_yaml(example)
    assert {"10.1.2.11:6066", "10.1.2.11:6067"} <= set(group["targets"])
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "file_sd_configs" in (PROM / "prometheus.yml").read_text()


def test_docker_config_finds_the_compose_workers() -> None:
    job = next(j for j in load_yaml(PROM / "prometheus.docker.yml")["scrape_configs"]
               if j["job_name"] == "sunlight-worker")
    (sd,) = job["dns_sd_configs"]
    worker = load_yaml(COMPOSE)["services"]["worker"]
    assert sd["names"] == ["worker"] and sd["type"] == "A"
    assert sd["port"] == int(worker["environment"]["SUNLIGHT_WEB_PORT"])


def test_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", *[str(p) for p in RULE_TESTS])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(RULE_TESTS)


def test_every_alert_is_unit_tested_firing_and_quiet() -> None:
    cases: dict[str, list[bool]] = {}
    for path in RULE_TESTS:
        for test in load_yaml(path)["tests"]:
            for case in test.get("alert_rule_test", []):
                cases.setdefault(case["alertname"], []).append(bool(case.get("exp_alerts")))
    for rule in alert_rules():
        seen = cases.get(rule["alert"], [])
        assert True in seen, f"{rule['alert']}: no unit test where it fires"
        assert False in seen, f"{rule['alert']}: no unit test where it stays quiet"


def test_every_alert_has_a_runbook_in_operations_md() -> None:
    anchors = {re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
               for line in OPERATIONS.read_text().splitlines() if line.startswith("#")}
    for rule in alert_rules():
        runbook = rule["annotations"]["runbook"]
        assert runbook.startswith("deploy/OPERATIONS.md#"), runbook
        assert runbook.split("#", 1)[1] in anchors, f"{rule['alert']}: no section {runbook}"
        assert rule["labels"]["severity"] in ("critical", "warning", "info")


# -- Grafana -----------------------------------------------------------------------------------

def test_dashboard_is_valid_and_complete() -> None:
    text = DASHBOARD.read_text()
    board = json.loads(text)
    assert "${" not in text, "datasource variables (${DS_...}) break provisioning: use the uid"
    assert board["uid"] and board["title"]
    uid = provisioned_uid()
    panels = all_panels(board["panels"])
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    rows = [p for p in panels if p["type"] == "row"]
    assert len(rows) >= 8
    for panel in panels:
        if panel["type"] == "row":
            continue
        where = f"panel {panel['id']} {panel['title']!r}"
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, where
        unit = panel["fieldConfig"]["defaults"].get("unit")
        assert unit in UNITS, f"{where}: unit {unit!r}"
        steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
        assert steps[0]["value"] is None, where
        assert panel.get("description"), f"{where}: say what it shows"
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, where
        targets = panel["targets"]
        assert targets, where
        assert len({t["refId"] for t in targets}) == len(targets), where
        for target in targets:
            assert target["datasource"] == {"type": "prometheus", "uid": uid}, where
            assert target["expr"].strip(), where
    units = {p["fieldConfig"]["defaults"]["unit"] for p in panels if p["type"] != "row"}
    assert {"s", "ops", "percentunit"} <= units


def test_dashboard_queries_parse(tmp_path: Path) -> None:
    """Every panel query parses as PromQL: each becomes a recording rule that promtool checks
    (the e2e test, tests/integration/test_prometheus.py, also runs them on live data)."""
    rules = [{"record": f"dashboard:panel_{p['id']}_{t['refId']}", "expr": t["expr"]}
             for p in all_panels(dashboard()["panels"]) for t in p.get("targets", [])]
    assert len(rules) >= 30
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_filters_by_template_variables(tmp_path: Path) -> None:
    """Worker, detector and region are choices on the dashboard, not hard-coded: each a query
    variable on the provisioned datasource (multi-value, All by default), and every panel
    selector filters by the worker. Which selectors need the detector and region filters is
    checked against a real Prometheus (tests/integration/test_prometheus.py)."""
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert set(variables) == {"instance", "detector", "region"}
    selectors = []
    for name, variable in variables.items():
        assert variable["type"] == "query" and variable["multi"] and variable["includeAll"]
        assert variable["allValue"] == ".*" and variable["current"]["value"] == ["$__all"]
        assert variable["datasource"] == {"type": "prometheus", "uid": provisioned_uid()}
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable["definition"])
        assert match and match.group(2) == name, variable["definition"]
        assert variable["query"]["query"] == variable["definition"]
        selectors.append(match.group(1))
    rules = [{"record": f"dashboard:variable_{i}", "expr": s} for i, s in enumerate(selectors)]
    path = tmp_path / "variables.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "variables", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    selector = re.compile(r"\b((?:sunlight|faust)_[a-z0-9_]+|up)\b(?!\s*\()(\{[^}]*\})?")
    for panel in all_panels(board["panels"]):
        for target in panel.get("targets", []):
            for metric, matchers in selector.findall(target["expr"]):
                assert 'instance=~"$instance"' in matchers, (panel["title"], metric)


def test_dashboard_covers_every_concern() -> None:
    exprs = " ".join(t["expr"] for p in all_panels(dashboard()["panels"])
                     for t in p.get("targets", []))
    for metric in ("sunlight_records_in_total", "sunlight_last_record_timestamp_seconds",
                   "sunlight_records_rejected_total", "sunlight_consumer_lag_messages",
                   "sunlight_alerts_total", "sunlight_event_to_alert_seconds_bucket",
                   "sunlight_ingest_to_alert_seconds_bucket", 'action="hold"',
                   "sunlight_dispositions_total", "sunlight_detector_precision",
                   "sunlight_alert_verdicts",
                   "sunlight_precheck_requests_total", "sunlight_precheck_seconds_bucket",
                   "sunlight_registry_records", "sunlight_registry_ready", "up{",
                   "histogram_quantile(0.5,", "histogram_quantile(0.99,"):
        assert metric in exprs, metric


def test_grafana_provisioning_matches_compose() -> None:
    (provider,) = load_yaml(PROVIDERS)["providers"]
    assert provider["type"] == "file"
    grafana = load_yaml(COMPOSE)["services"]["grafana"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in grafana["volumes"]
                  if v.startswith("./"))
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    (source,) = load_yaml(DATASOURCES)["datasources"]
    assert source["url"] == "http://prometheus:9090"


# -- Compose -----------------------------------------------------------------------------------

def test_compose_file_structure() -> None:
    """What `docker compose config` cannot say: KRaft, a scalable worker, the optional
    simulator, mounts that exist. Runs everywhere (no Docker needed)."""
    compose = load_yaml(COMPOSE)
    services = compose["services"]
    assert set(services) >= {"kafka", "topics", "worker", "simulator", "prometheus", "grafana"}
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: {source} missing"
            else:
                assert source in compose["volumes"], f"{name}: volume {source} not declared"
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    assert "zookeeper" not in COMPOSE.read_text().lower()
    worker = services["worker"]
    assert worker["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (DEPLOY / worker["build"]["context"] / worker["build"]["dockerfile"]).exists()
    # --scale worker=N: no fixed container name, no host port
    assert "container_name" not in worker and "ports" not in worker
    assert worker["environment"]["SUNLIGHT_WEB_HOST"] == "0.0.0.0"
    assert worker["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert services["simulator"]["profiles"] == ["simulator"]
    assert all("profiles" not in s for n, s in services.items() if n != "simulator")
    assert "sunlight" in services["simulator"]["command"][0]
    prometheus = services["prometheus"]
    assert any(v.startswith("./prometheus/prometheus.docker.yml:") for v in prometheus["volumes"])
    assert any(v.startswith("./prometheus/rules:") for v in prometheus["volumes"])


def _compose_client() -> list[str] | None:
    docker = shutil.which("docker")
    if docker:
        plugin = subprocess.run([docker, "compose", "version"], capture_output=True)
        if plugin.returncode == 0:
            return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def test_compose_config_with_a_compose_client() -> None:
    client = _compose_client()
    if client is None:
        pytest.skip("no Docker Compose client here (the docker CLI has no compose plugin): "
                    "test_compose_file_structure checked the file instead")
    for extra in ([], ["--profile", "simulator"]):
        result = subprocess.run([*client, "-f", str(COMPOSE), *extra, "config", "-q"],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run([*client, "-f", str(COMPOSE), "config", "--services"],
                            capture_output=True, text=True, timeout=60)
    assert "simulator" not in result.stdout.split()  # only with --profile simulator


# -- Dockerfile --------------------------------------------------------------------------------

def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_base_user_cmd_and_healthcheck() -> None:
    instructions = dockerfile_instructions()
    get = lambda name: [rest for word, rest in instructions if word == name]  # noqa: E731
    # The compiled core is built in a stage with a compiler; the image runs on the slim one.
    assert get("FROM") == ["python:3.11 AS compile", "python:3.11-slim"]
    assert any("python -m compiled.build" in run for run in get("RUN"))
    assert "--from=compile /app ./" in get("COPY")
    assert any("pip install ." in run for run in get("RUN"))
    (user,) = get("USER")
    assert user not in ("root", "0")
    assert json.loads(get("CMD")[-1]) == ["sunlight", "worker"]
    (health,) = get("HEALTHCHECK")
    assert "/livez" in health and " CMD " in f" {health} "
    assert get("EXPOSE") == ["6066"]
    env = " ".join(get("ENV"))
    assert "SUNLIGHT_WEB_HOST=0.0.0.0" in env and "SUNLIGHT_DETECTORS_FILE=" in env
    # Every COPY source exists and is let through by the Dockerfile's own .dockerignore.
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    for copy in get("COPY"):
        if copy.startswith("--from="):
            continue  # from the compile stage, not the build context
        for source in copy.split()[:-1]:
            assert (ROOT / source).exists(), source
            assert f"!{source.rstrip('/')}" in ignore or f"!{source.rstrip('/')}/" in ignore, source


def test_dockerfile_healthcheck_command_works() -> None:
    """The HEALTHCHECK's own command: 0 against a server answering /livez, non-zero when no
    worker answers."""
    (health,) = [rest for word, rest in dockerfile_instructions() if word == "HEALTHCHECK"]
    command = json.loads(health.split(" CMD ", 1)[1])
    assert command[0] == "python"

    class Livez(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200 if self.path == "/livez" else 404)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    class Server(http.server.HTTPServer):
        server_bind = socketserver.TCPServer.server_bind  # no reverse DNS lookup of the host

    server = Server(("127.0.0.1", 0), Livez)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        ok = subprocess.run([sys.executable, *command[1:]], capture_output=True, timeout=30,
                            env={"SUNLIGHT_WEB_PORT": str(port)})
        assert ok.returncode == 0, ok.stderr
    finally:
        server.shutdown()
        server.server_close()
    down = subprocess.run([sys.executable, *command[1:]], capture_output=True, timeout=30,
                          env={"SUNLIGHT_WEB_PORT": str(port)})
    assert down.returncode != 0


def test_image_command_exists() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"]["sunlight"] == "stream.cli:main"
    result = subprocess.run([sys.executable, "-m", "stream.cli", "worker", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
