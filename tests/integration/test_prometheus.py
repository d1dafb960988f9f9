"""A real Prometheus (Debian's ``prometheus``) scraping two real workers while the simulated feed
runs: the rules load and evaluate, every query of the Grafana dashboard parses and returns data,
and a feed that stops makes ``SunlightFeedSilent`` fire, for that feed only.

The Prometheus config and rules are the ones in ``deploy/prometheus``, with the test's own
targets and a 1 s scrape/evaluation interval; only the feed-silence rule's threshold and ``for``
are shortened (the real values are covered by ``promtool test rules``, tests/test_deploy_files.py).

Every panel query must parse. It must also return data when every metric it names has samples on
the workers' /metrics; a metric the workers declare without samples yet (or a planned one, in
``PLANNED``) only has to parse, so the test tightens by itself when such metrics get data.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from stream.simulator.simulate import Record, Simulation
from tests.integration.harness import WorkerProcess, World, free_port
from tests.tools import prometheus_tool

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "sunlight.json"
PROMETHEUS_YML = DEPLOY / "prometheus" / "prometheus.yml"
RULES = DEPLOY / "prometheus" / "rules" / "sunlight.rules.yml"

#: Sample names the dashboard may use before the workers export them (planned metrics; none
#: now: the dispositions, precision and pre-check metrics have landed).
PLANNED: set[str] = set()
#: Metrics that the test's dispositions must give samples to, once the workers declare them.
FROM_VERDICTS = ("sunlight_dispositions_total", "sunlight_alert_verdicts",
                 "sunlight_detector_precision")
#: Shortened feed-silence rule for this test: silent for more than SILENCE_S seconds, held FOR.
SILENCE_S = 10
SILENCE_FOR = "2s"
FEED_RATE = 150.0  # simulated records/s
TOKEN = "e2e-precheck-token"
METRIC_NAME = re.compile(r"\b(?:sunlight|faust)_[a-z0-9_]+\b")
#: A metric selector in a panel's query: (metric name, its {matchers} or "").
SELECTOR = re.compile(r"\b((?:sunlight|faust)_[a-z0-9_]+|up)\b(?!\s*\()(\{[^}]*\})?")


def all_dashboard_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from all_dashboard_panels(panel.get("panels", []))


class Prometheus:
    """``prometheus`` as a real OS process on a free port, with its data in ``tmp``."""

    def __init__(self, config: Path, tmp: Path) -> None:
        self.port = free_port()
        self.log_path = tmp / "prometheus.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [prometheus_tool("prometheus"), f"--config.file={config}",
             f"--storage.tsdb.path={tmp / 'prometheus-data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            cwd=tmp, stdout=self.log, stderr=subprocess.STDOUT)

    def get(self, path: str, **params: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:  # 400/422: a bad query, with the reason as JSON
            return json.loads(exc.read())

    def query(self, expr: str) -> dict[str, Any]:
        return self.get("/api/v1/query", query=expr)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"prometheus exited {self.process.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=2):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"prometheus not ready after {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Feeder(threading.Thread):
    """Produces the simulated feed at ``rate`` records/s until stopped; feeds in ``silenced``
    are skipped from then on (their records are dropped, as if upstream stopped)."""

    def __init__(self, world: World, records: Iterator[Record], rate: float) -> None:
        super().__init__(daemon=True)
        self.world, self.records, self.rate = world, records, rate
        self.silenced: set[str] = set()
        self.sent: Counter[str] = Counter()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        started, n = time.monotonic(), 0
        try:
            for record in self.records:
                if self.done.is_set():
                    break
                if record.feed in self.silenced:
                    continue
                self.world.produce(record.feed, record.value, key=record.key)
                self.sent[record.feed] += 1
                n += 1
                ahead = n / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    self.world.flush()
                    time.sleep(ahead)
            self.world.flush()
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=30)


def prometheus_config(tmp: Path, workers: list[WorkerProcess], rules: Path) -> Path:
    """deploy/prometheus/prometheus.yml with this test's targets, 1 s intervals, test rules."""
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules)]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    job = jobs["sunlight-worker"]  # the rules and the dashboard rely on this job name
    job.update(scrape_interval="1s", scrape_timeout="1s",
               static_configs=[{"targets": [f"127.0.0.1:{w.port}" for w in workers]}])
    config["scrape_configs"] = [job]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def shortened_rules(tmp: Path) -> Path:
    """The real rules with SunlightFeedSilent's threshold and ``for`` shortened."""
    rules = yaml.safe_load(RULES.read_text())
    found = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == "SunlightFeedSilent":
                expr, n = re.subn(r"\)\s*>\s*\d+\s*$", f") > {SILENCE_S}", rule["expr"].strip())
                assert n == 1, f"SunlightFeedSilent's expr no longer ends in '> N': {expr}"
                rule["expr"], rule["for"] = expr, SILENCE_FOR
                found += 1
    assert found == 1
    path = tmp / "sunlight.rules.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


def dashboard_queries(chosen: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(panel title, expr) of every target of every panel, with the template variables
    replaced as Grafana does: ``chosen`` values, else All (the variables' allValue)."""
    dashboard = json.loads(DASHBOARD.read_text())
    values = {v["name"]: v["allValue"] for v in dashboard["templating"]["list"]}
    values.update(chosen or {})

    def expand(expr: str) -> str:
        for name in sorted(values, key=len, reverse=True):
            expr = expr.replace(f"${name}", values[name])
        assert "$" not in expr, f"a variable the dashboard does not define: {expr}"
        return expr

    return [(panel["title"], expand(target["expr"]))
            for panel in dashboard["panels"] if panel["type"] != "row"
            for target in panel.get("targets", [])]


#: A query variable's definition: label_values(<series selector>, <label>).
LABEL_VALUES = re.compile(r"^label_values\((.+),\s*(\w+)\)$")


def variable_values(prometheus: Prometheus) -> dict[str, set[str]]:
    """What each of the dashboard's template variables offers, asked of Prometheus the way
    Grafana asks it (the label's values over the variable's series selector)."""
    dashboard = json.loads(DASHBOARD.read_text())
    offered = {}
    for variable in dashboard["templating"]["list"]:
        match = LABEL_VALUES.match(variable["definition"])
        assert match, variable["definition"]
        selector, label = match.groups()
        answer = prometheus.get(f"/api/v1/label/{label}/values", **{"match[]": selector})
        assert answer["status"] == "success", (variable["name"], answer)
        offered[variable["name"]] = set(answer["data"])
    return offered


def labels_of(prometheus: Prometheus, metric: str) -> set[str]:
    """Every label name the series of ``metric`` carry in Prometheus."""
    answer = prometheus.get("/api/v1/series", **{"match[]": metric})
    return {label for series in answer.get("data", []) for label in series}


def exported(workers: list[WorkerProcess]) -> tuple[set[str], set[str]]:
    """(sample names with at least one sample, family names declared) on the workers' /metrics."""
    samples: set[str] = set()
    families: set[str] = set()
    for worker in workers:
        body = urllib.request.urlopen(worker.url("/metrics"), timeout=5).read().decode()
        for line in body.splitlines():
            if line.startswith("# TYPE "):
                families.add(line.split()[2])
            elif line and not line.startswith("#"):
                samples.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return samples, families


def declared(name: str, families: set[str]) -> bool:
    return any(name == f or name in (f"{f}_total", f"{f}_bucket", f"{f}_count", f"{f}_sum")
               for f in families)


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def precheck(worker: WorkerProcess, payment: dict[str, Any], token: str) -> int:
    request = urllib.request.Request(
        worker.url("/v1/precheck"), data=orjson.dumps(payment), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def firing_silent_topics(prometheus: Prometheus) -> set[str]:
    result = prometheus.query('ALERTS{alertname="SunlightFeedSilent",alertstate="firing"}')
    return {sample["metric"]["topic"] for sample in result["data"]["result"]}


def test_prometheus_scrapes_workers_dashboard_has_data_and_silence_alerts(
        bootstrap: str, tmp_path: Path) -> None:
    prometheus_tool("prometheus")
    world = World(bootstrap, tmp_path)
    prometheus: Prometheus | None = None
    feeder: Feeder | None = None
    try:
        workers = [world.start_worker(SUNLIGHT_API_TOKEN=TOKEN),
                   world.start_worker(SUNLIGHT_API_TOKEN=TOKEN)]
        prometheus = Prometheus(prometheus_config(tmp_path, workers, shortened_rules(tmp_path)),
                                tmp_path)
        prometheus.wait_ready()
        for worker in workers:
            worker.wait_ready()

        # Figure: from starting Prometheus to its first sample of both workers.
        wait_for(lambda: len([s for s in prometheus.query('up{job="sunlight-worker"} == 1')
                              ["data"]["result"]]) == 2, 30, "both workers scraped up")
        first_sample_s = time.monotonic() - prometheus.started

        # The rules loaded, every one of them evaluates without error.
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        loaded = {r["name"]: r for g in groups for r in g["rules"]}
        real = yaml.safe_load(RULES.read_text())
        names = {r.get("alert") or r["record"] for g in real["groups"] for r in g["rules"]}
        assert names == set(loaded)

        sim = Simulation(seed=11, events=40_000, people=400)
        registry = list(sim.registry())
        for record in registry:
            world.produce(record.feed, record.value, key=record.key)
        world.flush()
        people = sum(1 for r in registry if r.key.startswith(b"P-"))
        for worker in workers:
            worker.wait_metric('sunlight_registry_records{record_type="person"}', people)

        feeder = Feeder(world, sim.stream(), FEED_RATE)
        feeder.start()
        # A held payment reaches Prometheus: the hold panels have something to show.
        wait_for(lambda: prometheus.query('sum(sunlight_alerts_total{action="hold"}) > 0')
                 ["data"]["result"], 60, "a hold alert in Prometheus")
        # Verdicts for the alerts so far, as case handlers would send them (dispositions).
        alerts = world.read("alerts", expect=1, timeout=30, settle=0.5)
        for i, alert in enumerate(alerts):
            world.produce("alert-dispositions", {
                "alert_id": alert["id"], "verdict": "confirmed" if i % 3 else "dismissed",
                "decided_by": "inspector-7", "decided_at": datetime.now(UTC).isoformat()},
                key=alert["id"])
        world.flush()
        # The metrics these verdicts feed, where the workers declare them, must get samples
        # (the verdict gauges are exported every 15 s): their panels then must show data.
        families = exported(workers)[1]
        for name in FROM_VERDICTS:
            if declared(name, families):
                wait_for(lambda name=name: name in exported(workers)[0], 40,
                         f"{name} on a worker's /metrics after the dispositions")
        # A payment system asks the synchronous pre-check (and one caller without the token).
        payments = (orjson.loads(r.value) for r in Simulation(seed=5, events=400).stream()
                    if r.feed == "payments" and r.value and r.value.startswith(b"{"))
        for worker in workers:
            for n, payment in zip(range(3), payments, strict=False):
                payment.update(status="requested", event_id=f"pre-{worker.port}-{n}")
                assert precheck(worker, payment, TOKEN) == 200
            assert precheck(worker, payment, "wrong") == 401

        # Every dashboard query parses; each returns data once its metrics are exported.
        queries = dashboard_queries()
        assert len(queries) >= 30

        waiting: list[str] = []  # panels whose metrics have no samples yet (data not required)

        def check() -> list[str]:
            samples, families = exported(workers)
            problems = []
            waiting.clear()
            for title, expr in queries:
                answer = prometheus.query(expr)
                if answer.get("status") != "success":
                    problems.append(f"{title}: {expr}: {answer.get('error')}")
                    continue
                missing = {n for n in METRIC_NAME.findall(expr) if n not in samples}
                unknown = {n for n in missing if n not in PLANNED and not declared(n, families)}
                if unknown:
                    problems.append(f"{title}: {expr}: neither exported nor planned: {unknown}")
                elif (not missing or "or vector(0)" in expr) and not answer["data"]["result"]:
                    problems.append(f"{title}: {expr}: no data")
                elif missing and "or vector(0)" not in expr:
                    waiting.append(title)
            return problems

        problems: list[str] = []
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            problems = check()
            if not problems:
                break
            time.sleep(1)
        assert not problems, "\n".join(problems)
        panels_ok_s = time.monotonic() - prometheus.started

        # Template variables: each offers what Prometheus holds; every selector of a metric
        # with an instance, detector or region label filters by that variable; narrowed to
        # one worker, a panel shows that worker only.
        offered = variable_values(prometheus)
        assert offered["instance"] == {f"127.0.0.1:{w.port}" for w in workers}
        assert "ineligible_subsidy_payee" in offered["detector"]  # the holds above
        if declared("sunlight_alert_verdicts", exported(workers)[1]):
            assert offered["region"], "the dispositions above name regions"
        board = json.loads(DASHBOARD.read_text())
        for panel in all_dashboard_panels(board["panels"]):
            for target in panel.get("targets", []):
                for metric, selector in SELECTOR.findall(target["expr"]):
                    for label in {"instance", "detector", "region"} & labels_of(prometheus,
                                                                              metric):
                        assert f'{label}=~"${label}"' in selector, (panel["title"], metric)
        one = f"127.0.0.1:{workers[0].port}"
        narrowed = dict(dashboard_queries({"instance": one}))
        result = prometheus.query(narrowed["Up per worker"])["data"]["result"]
        assert [series["metric"]["instance"] for series in result] == [one]

        # Every rule still healthy after evaluating on live data.
        groups = prometheus.get("/api/v1/rules")["data"]["groups"]
        unhealthy = [(r["name"], r.get("lastError")) for g in groups for r in g["rules"]
                     if r["health"] != "ok"]
        assert not unhealthy

        # Feeds flowing: no silence alert (those fired before the feed started have resolved).
        wait_for(lambda: not firing_silent_topics(prometheus), 20, "no feed silent while flowing")
        # attendance stops; the other feeds go on.
        feeder.silenced.add("attendance")
        silenced_at = time.monotonic()
        fired = wait_for(lambda: firing_silent_topics(prometheus), 40, "SunlightFeedSilent")
        fired_after_s = time.monotonic() - silenced_at
        assert fired == {world.topic("attendance")}
        assert feeder.is_alive() and feeder.error is None, feeder.error
        before = dict(feeder.sent)
        time.sleep(2)
        assert firing_silent_topics(prometheus) == {world.topic("attendance")}
        assert all(feeder.sent[f] > before[f] for f in ("bids", "prescriptions", "payments"))

        print(f"\nprometheus: first sample of both workers {first_sample_s:.1f}s after start; "
              f"all {len(queries)} panel queries answered {panels_ok_s:.1f}s after start, "
              f"{len(queries) - len(waiting)} with data required, not yet (no samples): "
              f"{sorted(set(waiting))}; "
              f"feed-silent fired {fired_after_s:.1f}s after attendance stopped "
              f"(threshold {SILENCE_S}s, for {SILENCE_FOR}); sent {dict(feeder.sent)}")
    finally:
        if feeder is not None:
            feeder.stop()
        if prometheus is not None:
            prometheus.stop()
        world.close()
