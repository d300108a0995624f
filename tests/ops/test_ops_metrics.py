"""No dead panels, no blind alerts: a real Prometheus scrapes a real worker under traffic.

The test starts its own Prometheus (Debian's package, installed by the stack code when
missing) in a temporary directory on a free port, scraping a `chainbreaker worker` process
every second and loading ops/prometheus/rules.yml. Payments flow while it runs: a
sex-trafficking ring (so alerts, cases and the end-to-end histogram have data), a steady
trickle of ordinary payments from two institutions, and a few undecodable messages (dead
letters). Then every PromQL expression of the Grafana dashboards and of the alert rules is
evaluated through the HTTP API and must return data.

Alert rules compare a query with a threshold (`<query> > 0.5`); with a healthy worker the
comparison is empty by design, so the query on the left is what must return data, and the
full expression must still evaluate without error.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from config import clients
from config.names import disposition_topic
from publisher.producer import Publisher
from schemas.codec import AvroCodec
from stack import prometheus
from stack import services as st
from streams.topics import ensure_topics
from tests.streams.test_worker_integration import EVENTS, publish, ring_events
from tests.support import (
    ROOT,
    WorkerProcess,
    free_port,
    institution_producer,
    isolated_env,
    midnight_days_ago,
    payment,
    producer,
    settings_for,
    wait_for,
)

pytestmark = pytest.mark.integration

DASHBOARDS = sorted((ROOT / "grafana" / "dashboards").glob("*.json"))
RULES = ROOT / "ops" / "prometheus" / "rules.yml"
INSTITUTIONS = ("bank-test", "cu-ops-2")
# Grafana's built-in variables, as Grafana would expand them for a 1 s scrape interval.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "5s", "$__range": "1h"}
DISPOSITIONS = AvroCodec("disposition")
THRESHOLD = re.compile(r"^(?P<query>.*?)\s*(?:==|!=|>=|<=|>|<)\s*(?:bool\s+)?[0-9.eE+-]+\s*$", re.S)


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, expr) for every target of every panel, rows included."""
    out = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        panels = list(board["panels"])
        while panels:
            p = panels.pop(0)
            panels.extend(p.get("panels", []))
            for target in p.get("targets", []):
                out.append((f"{path.name}: {p['title']}", target["expr"]))
    return out


def rule_queries() -> list[tuple[str, str, str]]:
    """(alert, full expression, the query it compares) for every alerting rule."""
    out = []
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                continue  # recording_rules()
            expr = " ".join(rule["expr"].split())
            match = THRESHOLD.match(expr)
            assert match, f"{rule['alert']}: expected `<query> <op> <number>`, got {expr!r}"
            out.append((rule["alert"], expr, match["query"]))
    return out


def recording_rules() -> list[tuple[str, str]]:
    """(recorded series, expression) for every recording rule."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [(r["record"], r["expr"]) for g in groups for r in g["rules"] if "record" in r]


def substitute(expr: str, institution: str) -> str:
    for name, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(name, value)
    return expr.replace("$institution", institution)


class Prometheus:
    def __init__(self, url: str, proc: subprocess.Popen | None, log: Path) -> None:
        self.url, self.proc, self.log = url, proc, log

    def api(self, path: str, **params: str) -> dict:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited: {self.log.read_text()[-2000:]}")
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as resp:
            body = json.loads(resp.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]


class Trickle:
    """Ordinary payments from two institutions, a few per second, until stopped."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        p = producer(self.settings)
        day = midnight_days_ago(0)
        n = 0
        while not self.stop.wait(0.05):
            n += 1
            institution = INSTITUTIONS[n % 2]
            rec = payment(f"trickle-{n}", day + n, f"acct-t{n % 20}", institution_id=institution)
            p.produce(self.settings.topic_payments, key=rec["account_id"].encode(),
                      value=EVENTS.encode(rec))  # fmt: skip
            p.poll(0)
        p.flush(10)


@pytest.fixture(scope="module")
def observed(stack, tmp_path_factory) -> Iterator[tuple[Prometheus, WorkerProcess]]:
    try:
        binary, _promtool = prometheus.binaries()
    except st.StackError as exc:
        pytest.skip(f"Prometheus cannot be installed here: {exc}")
    tmp = tmp_path_factory.mktemp("ops")
    env = isolated_env(tmp)
    settings = settings_for(env)
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(prometheus.config_text(settings, interval="1s"))
    log = tmp / "prometheus.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            prometheus.command(binary, config, tmp / "tsdb", port),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    prom = Prometheus(f"http://127.0.0.1:{port}", proc, log)
    worker = WorkerProcess(env, tmp / "worker.log")
    trickle = Trickle(settings)
    try:
        worker.start()
        # Traffic only once Prometheus scrapes the worker: an increase that happened before
        # the first scrape would never show in rate() and the latency panels would be empty.
        wait_for(
            lambda: prom.query('up{job="chainbreaker-worker"} == 1'),
            30,
            "Prometheus to scrape the worker",
        )
        trickle.thread.start()
        publish(settings, ring_events("ops"), raw=[(b"acct-x", b"not avro")] * 3)
        worker.wait_metric("chainbreaker_cases_enqueued_total", 1)
        worker.wait_metric("chainbreaker_dead_letters_total", 3)
        # An analyst finds the ring's alert valuable: the precision panels and rules get data.
        p = institution_producer(settings, "bank-test")
        topic = disposition_topic(settings.topic_dispositions, "bank-test")
        p.produce(topic, key=b"acct-1", value=DISPOSITIONS.encode({
            "disposition_id": "ops-d1", "alert_id": "ops-a1", "institution_id": "bank-test",
            "account_id": "acct-1", "typology": "SEX_TRAFFICKING", "outcome": "VALUABLE",
            "indicator_codes": ["HOTEL_MULTI_CITY", "LATE_NIGHT_CASH"], "note": None,
            "analyst_id": "analyst-1", "decided_at": int(time.time() * 1000),
            "rule_set_version": "ops",
        }))  # fmt: skip
        assert p.flush(30) == 0
        worker.wait_metric("chainbreaker_dispositions_total", 1)
        yield prom, worker
    finally:
        trickle.stop.set()
        trickle.thread.join(15)
        worker.stop()
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def first_data(prom: Prometheus, expr: str, timeout: float) -> list[dict]:
    """The expression's series once at least one holds a number, else [].

    rate() needs two scrapes of a series, and a quantile of a histogram that saw nothing in
    the window is NaN, which a panel shows as no data: both count as dead until they change.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = prom.query(expr)
        if any(r["value"][1] not in ("NaN", "+Inf", "-Inf") for r in result):
            return result
        if time.monotonic() > deadline:
            return []
        time.sleep(0.5)


def test_every_dashboard_query_returns_data(observed) -> None:
    prom, _worker = observed
    queries = dashboard_queries()
    assert len(queries) >= 20 and len(DASHBOARDS) == 4
    dead = []
    for where, expr in queries:
        for institution in (".*", INSTITUTIONS[0]):
            query = substitute(expr, institution)
            if not first_data(prom, query, timeout=20):
                dead.append(f"{where}: {query}")
            if "$institution" not in expr:
                break
    assert not dead, "panels without data:\n" + "\n".join(dead)

    # The $institution variable lists the institutions that sent events.
    values = {r["metric"]["institution"] for r in prom.query(
        "group by (institution) (chainbreaker_events_processed_total)")}  # fmt: skip
    assert set(INSTITUTIONS) <= values


def test_every_alert_rule_watches_series_that_exist(observed) -> None:
    prom, _worker = observed
    dead = []
    for alert, expr, query in rule_queries():
        prom.query(expr)  # the full rule evaluates (an error fails in api())
        if not first_data(prom, query, timeout=20):
            dead.append(f"{alert}: {query}")
    assert not dead, "alert rules over series without data:\n" + "\n".join(dead)

    # Prometheus itself loaded the file and evaluated every rule without error.
    def rules_evaluated() -> list[dict] | None:
        groups = prom.api("rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return rules if rules and all(r.get("lastEvaluation", "").startswith("2") and
                                      r["health"] == "ok" for r in rules) else None  # fmt: skip

    rules = wait_for(rules_evaluated, 20, "every rule to be evaluated")
    assert len(rules) == len(rule_queries()) + len(recording_rules())


def test_every_recording_rule_records_data(observed) -> None:
    prom, _worker = observed
    assert recording_rules()
    dead = [name for name, _expr in recording_rules() if not first_data(prom, name, 20)]
    assert not dead, "recording rules without data:\n" + "\n".join(dead)


def test_metrics_tell_the_truth(observed) -> None:
    """A few values, not just presence: the panels show what happened."""
    prom, worker = observed
    settings = worker.settings

    def value(expr: str) -> float:
        result = prom.query(expr)
        return float(result[0]["value"][1]) if result else float("nan")

    # The ring raised one sex-trafficking alert and opened one case on bank-test's queue.
    assert value('sum(chainbreaker_alerts_total{typology="SEX_TRAFFICKING"})') == 1
    wait_for(
        lambda: value('chainbreaker_case_queue_length{institution="bank-test"}') == 1,
        20,
        "the case queue depth of bank-test",
    )
    # No analysts group yet: nothing pending, and the one case counts as open.
    assert value('chainbreaker_case_queue_pending{institution="bank-test"}') == 0
    assert value('chainbreaker_case_queue_oldest_age_seconds{institution="bank-test"}') > 0
    # Traffic from both institutions, and the three undecodable messages.
    for institution in INSTITUTIONS:
        rate = f'rate(chainbreaker_events_processed_total{{institution="{institution}"}}[1m])'
        assert value(rate) > 0, institution
    assert value('chainbreaker_dead_letters_total{reason="undecodable"}') == 3
    # One disposition, VALUABLE: precision 1 for its typology and both its indicators.
    assert value('chainbreaker:typology_precision:ratio30d{typology="SEX_TRAFFICKING"}') == 1
    assert value('chainbreaker_typology_precision{typology="SEX_TRAFFICKING"}') == 1
    assert value('chainbreaker:indicator_precision:ratio30d{indicator="LATE_NIGHT_CASH"}') == 1
    assert value("sum(chainbreaker_dispositions_total)") == 1
    # Lag is exported for each of the worker's input partitions; state holds the accounts.
    partitions = prom.query(
        f'chainbreaker_consumer_lag_messages{{topic="{settings.topic_payments}"}}'
    )
    assert {r["metric"]["partition"] for r in partitions} == {"0", "1"}
    assert value("chainbreaker_table_keys") >= 2
    # RocksDB's one budget for the worker is in use and within its bound
    # (CB_ROCKSDB_BLOCK_CACHE_MB); the decoded states it keeps are counted.
    rocksdb = value('chainbreaker_rocksdb_memory_bytes{kind="cache"}')
    assert 0 < rocksdb <= settings.rocksdb_block_cache_mb * 2**20
    assert value("chainbreaker_state_cache_accounts") >= 2
    # One worker joined the group once: at least one rebalance, none in progress now.
    assert value("chainbreaker_rebalances_total") >= 1
    assert value("chainbreaker_rebalancing") == 0
    assert value('chainbreaker_recovery_remaining_records{kind="active"}') == 0


def test_stack_runs_its_own_prometheus(stack, tmp_path) -> None:
    """`stack up --with-prometheus` in a stack directory of its own, next to the shared
    Kafka and Redis (passed as external, so this stack starts and stops only Prometheus)."""
    from config import settings as settings_mod

    shared = settings_mod.load()
    env = {
        "CB_STACK_DIR": str(tmp_path / "stack"),
        "CB_KAFKA_BOOTSTRAP": shared.kafka_bootstrap,
        "CB_REDIS_URL": clients.redis_url(shared),  # the operator's URL
        "CB_PROMETHEUS_PORT": str(free_port()),
        "CB_METRICS_PORT": "19999",
    }
    s = settings_mod.load(env)
    try:
        report = st.up(s, with_prometheus=True)
    except st.StackError as exc:
        if "install" in str(exc):
            pytest.skip(f"Prometheus cannot be installed here: {exc}")
        raise
    try:
        svc = report.service(st.PROMETHEUS)
        assert svc.running and svc.action == "started"
        assert f"{prometheus.url(s)}/graph" in report.render()
        prom = Prometheus(prometheus.url(s), None, svc.log)

        def targets() -> list[str]:  # the loaded configuration (target discovery lags ~5 s)
            config = yaml.safe_load(prom.api("status/config")["yaml"])
            return [t for job in config["scrape_configs"] for sc in job["static_configs"]
                    for t in sc["targets"]]  # fmt: skip

        assert targets() == ["127.0.0.1:19999"]
        assert len(prom.api("rules")["groups"][0]["rules"]) == len(rule_queries())
        # Idempotent, and a new metrics port is picked up by a reload, same process.
        again = st.up(settings_mod.load({**env, "CB_METRICS_PORT": "19998"}), with_prometheus=True)
        assert again.service(st.PROMETHEUS).pid == svc.pid
        assert again.service(st.PROMETHEUS).action == "already running, configuration reloaded"
        wait_for(
            lambda: targets() == ["127.0.0.1:19998"],
            15,
            "Prometheus to reload its scrape configuration",
        )
        assert st.status(s).service(st.PROMETHEUS).running
    finally:
        down = st.down(s)
    assert down.service(st.PROMETHEUS).action == "stopped"
    assert st.PROMETHEUS not in {x.name for x in st.status(s).services}


def test_publisher_counts_sent_and_failed(stack, tmp_path) -> None:
    def count(name: str) -> float:
        return REGISTRY.get_sample_value(f"chainbreaker_publish_messages_{name}_total") or 0.0

    settings = settings_for(isolated_env(tmp_path))
    ensure_topics(settings)
    sent, failed = count("sent"), count("failed")
    with Publisher(settings) as pub:
        for n in range(3):
            pub.send(payment(f"pub-{n}", midnight_days_ago(0), f"acct-p{n}"))
    assert count("sent") - sent == 3
    # A topic that does not exist (auto-creation is off): the delivery fails and is counted.
    missing = f"{settings.topic_payments}-missing"
    with Publisher(settings, topic=missing, config={"message.timeout.ms": 1000}) as pub:
        pub.send(payment("pub-x", midnight_days_ago(0), "acct-p9"))
    assert count("failed") - failed == 1
