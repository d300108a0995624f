"""Dashboards, alert rules and metric names, checked without services.

tests/ops/test_ops_metrics.py proves every query returns data against a running worker; this file
checks what needs no worker: the committed dashboards are what grafana/build_dashboards.py
generates, they are well-formed Grafana JSON on the provisioned datasource, every metric they
or the rules use exists in streams/metrics.py, the names follow Prometheus conventions, and
`promtool` accepts the rules file and the compose Prometheus configuration.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from config.settings import PROJECT_ROOT as ROOT
from stack import prometheus
from stack.process import StackError
from streams import metrics  # registers the metrics in REGISTRY

GRAFANA = ROOT / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
RULES = ROOT / "ops" / "prometheus" / "rules.yml"
COMPOSE_PROMETHEUS = ROOT / "ops" / "prometheus" / "prometheus.yml"
METRIC = re.compile(r"\bchainbreaker_[a-z0-9_]+")


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_dashboards", GRAFANA / "build_dashboards.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _boards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in DASHBOARDS}


def _panels(board: dict) -> list[dict]:
    panels, out = list(board["panels"]), []
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels", []))
        out.append(panel)
    return out


def _exprs() -> list[str]:
    exprs = [t["expr"] for b in _boards().values() for p in _panels(b) for t in p["targets"]]
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        exprs += [rule["expr"] for rule in group["rules"]]
    return exprs


def _exported_names() -> set[str]:
    """Every series name our processes expose, including labelled families with no child yet."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("chainbreaker_"):
            names |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
    return names


@pytest.fixture(scope="module")
def promtool() -> str:
    try:
        return prometheus.binaries()[1]
    except StackError as exc:
        pytest.skip(f"promtool (Debian package prometheus) cannot be installed here: {exc}")


def test_committed_dashboards_match_the_generator() -> None:
    rendered = _builder().render()
    assert sorted(rendered) == [p.name for p in DASHBOARDS]
    for name, text in rendered.items():
        assert (GRAFANA / "dashboards" / name).read_text() == text, (
            f"grafana/dashboards/{name} is stale: run python grafana/build_dashboards.py"
        )


def test_the_four_dashboards() -> None:
    titles = {b["title"] for b in _boards().values()}
    assert titles == {
        "chainbreaker: throughput and latency",
        "chainbreaker: alerts and typologies",
        "chainbreaker: pipeline health",
        "chainbreaker: case queues",
    }
    uids = [b["uid"] for b in _boards().values()]
    assert len(set(uids)) == len(uids)


def test_panels_are_well_formed_and_use_the_provisioned_datasource() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    uid = datasources["datasources"][0]["uid"]
    for name, board in _boards().items():
        ids = set()
        variables = {v["name"] for v in board["templating"]["list"]}
        for panel in _panels(board):
            where = f"{name}: {panel.get('title')}"
            assert panel["title"] and panel["type"], where
            assert panel["id"] not in ids, where
            ids.add(panel["id"])
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24 and grid["w"] > 0 and grid["h"] > 0, where
            assert panel["datasource"]["uid"] == uid, where
            assert panel["targets"], f"{where} has no query"
            refs = [t["refId"] for t in panel["targets"]]
            assert len(set(refs)) == len(refs), where
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == uid, where
                used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
                assert used <= variables, f"{where} uses undefined variables {used - variables}"
        for variable in board["templating"]["list"]:
            assert variable["datasource"]["uid"] == uid
            assert variable["allValue"] == ".*"


def test_every_metric_used_exists() -> None:
    exported = _exported_names()
    used = {name for expr in _exprs() for name in METRIC.findall(expr)}
    assert used, "no chainbreaker_ metric in the dashboards or rules"
    missing = used - exported
    assert not missing, f"dashboards or rules use metrics nobody exports: {sorted(missing)}"


def test_metric_names_follow_prometheus_conventions() -> None:
    source = (ROOT / "streams" / "metrics.py").read_text()
    declared = re.findall(r'(Counter|Gauge|Histogram|BatchHistogram)\(\s*"([a-z0-9_]+)"', source)
    assert len(declared) >= 20
    for kind, name in declared:
        assert name.startswith("chainbreaker_"), name
        assert name.endswith("_total") == (kind == "Counter"), name
        if kind.endswith("Histogram"):  # a base unit: time, or a count of events per batch
            assert name.endswith(("_seconds", "_events")), name
        assert not re.search(r"_(ms|millis|milliseconds|minutes|hours)(_|$)", name), name
    # "version" is bounded too: set_rule_version keeps one series at a time.
    bounded = {"institution", "indicator", "typology", "severity", "reason", "topic",
               "partition", "table", "kind", "outcome", "version"}  # fmt: skip
    wrappers = [m for m in vars(metrics).values() if isinstance(m, MetricWrapperBase)]
    batched = [m for m in vars(metrics).values() if isinstance(m, metrics.BatchHistogram)]
    assert len(wrappers) + len(batched) == len(declared)
    for metric in wrappers:
        assert set(metric._labelnames) <= bounded, (metric._name, metric._labelnames)
    for family in REGISTRY.collect():  # the collector's families too
        for sample in family.samples:
            if family.name.startswith("chainbreaker_"):
                assert set(sample.labels) - {"le"} <= bounded, family.name


def test_institution_label_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_institutions", set())
    seen = [
        metrics.institution_label(f"test-inst-{i}")
        for i in range(metrics.MAX_INSTITUTION_LABELS + 5)
    ]
    assert seen.count(metrics.OTHER_INSTITUTION) >= 5
    assert len(set(seen)) <= metrics.MAX_INSTITUTION_LABELS + 1
    # A name seen before keeps its label; a new one after the cap folds into "other".
    assert metrics.institution_label("test-inst-new-after-cap") == metrics.OTHER_INSTITUTION


def test_rules_pass_promtool(promtool: str) -> None:
    run = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout + run.stderr


def test_every_rule_is_documented_and_comparable() -> None:
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            if "record" in rule:  # recording rules: level:metric:operations
                assert re.fullmatch(r"chainbreaker:[a-z0-9_]+:[a-z0-9_]+", rule["record"])
                continue
            assert rule["alert"].startswith("Chainbreaker")
            assert rule["labels"]["severity"] in ("critical", "warning")
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]
            assert "for" in rule
            # tests/ops/test_ops_metrics.py evaluates the query left of the threshold.
            assert re.search(r"(==|!=|>=|<=|>|<)\s*[0-9.eE+-]+\s*$", rule["expr"].strip())


def _series(metric: str, values: str, **labels: str) -> dict:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{metric}{{{inner}}}", "values": values}


def test_precision_recording_rules_compute_fleet_precision(promtool: str, tmp_path: Path) -> None:
    """Useful (SAR filed, valuable) over all dispositions, summed over workers, across a
    counter reset: 3 of 4 for the typology, 0 of 1 for the indicator."""
    typ, ind = "chainbreaker_dispositions_total", "chainbreaker_indicator_dispositions_total"
    sex, night = {"typology": "SEX_TRAFFICKING"}, {"indicator": "LATE_NIGHT_CASH"}
    series = [
        _series(typ, "0 0 1 1 1 1", instance="a", outcome="FALSE_POSITIVE", **sex),
        _series(typ, "0 0 0 1 1 1", instance="a", outcome="VALUABLE", **sex),
        # Worker b restarted (its counter reset) after its first confirmed alert.
        _series(typ, "0 1 0 0 1 1", instance="b", outcome="CONFIRMED_SAR_FILED", **sex),
        _series(ind, "0 0 1 1 1 1", instance="a", outcome="FALSE_POSITIVE", **night),
        _series(ind, "0 0 0 0 0 0", instance="a", outcome="VALUABLE", **night),
    ]
    expect = [
        ("chainbreaker:typology_precision:ratio30d", 'typology="SEX_TRAFFICKING"', 0.75),
        ("chainbreaker:indicator_precision:ratio30d", 'indicator="LATE_NIGHT_CASH"', 0),
    ]
    spec = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": series,
            "promql_expr_test": [
                {"expr": name, "eval_time": "5m",
                 "exp_samples": [{"labels": f"{name}{{{labels}}}", "value": value}]}
                for name, labels, value in expect
            ],
        }],
    }  # fmt: skip
    path = tmp_path / "precision_test.yml"
    path.write_text(yaml.safe_dump(spec))
    run = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_compose_prometheus_config_passes_promtool(promtool: str, tmp_path: Path) -> None:
    """The compose config with its container paths mapped onto the repository."""
    text = COMPOSE_PROMETHEUS.read_text().replace("/etc/prometheus/rules/rules.yml", str(RULES))
    config = tmp_path / "prometheus.yml"
    config.write_text(text)
    run = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_local_stack_prometheus_config_passes_promtool(promtool: str, tmp_path: Path) -> None:
    from config import settings

    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus.config_text(settings.load({"CB_METRICS_PORT": "19999"})))
    run = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    parsed = yaml.safe_load(config.read_text())
    assert parsed["scrape_configs"][0]["static_configs"][0]["targets"] == ["127.0.0.1:19999"]
    assert parsed["rule_files"] == [str(RULES)]
