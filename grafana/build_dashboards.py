"""Generate the Grafana dashboards in grafana/dashboards/ from this file.

    python grafana/build_dashboards.py

The JSON files are committed (Grafana's file provisioning reads them as they are);
tests/ops/test_dashboards.py fails when they drift from what this script writes, and
tests/ops/test_ops_metrics.py evaluates every query in them against a real worker.

Queries use `$institution` (a multi-value variable whose "All" is `.*`) and Grafana's
`$__rate_interval`; the datasource is the provisioned one, uid "prometheus".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
RATE = "$__rate_interval"
INST = 'institution=~"$institution"'


def q(expr: str, legend: str = "") -> dict:
    return {"expr": expr, "legendFormat": legend or "__auto"}


def panel(
    title: str,
    targets: list[dict],
    unit: str = "short",
    kind: str = "timeseries",
    description: str = "",
    width: int = 12,
    height: int = 8,
) -> dict:
    return {
        "title": title,
        "description": description,
        "type": kind,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "_size": (width, height),
    }


def layout(panels: list[dict]) -> list[dict]:
    """Place panels left to right, wrapping at Grafana's 24 columns; number them."""
    x = y = row_height = 0
    out = []
    for number, p in enumerate(panels, start=1):
        width, height = p.pop("_size")
        if x + width > 24:
            x, y, row_height = 0, y + row_height, 0
        p["id"] = number
        p["gridPos"] = {"h": height, "w": width, "x": x, "y": y}
        for ref, target in zip("ABCDEFGHIJ", p["targets"], strict=False):
            target["refId"] = ref
            target["datasource"] = DATASOURCE
            if p["type"] == "heatmap":
                target["format"] = "heatmap"
        x += width
        row_height = max(row_height, height)
        out.append(p)
    return out


def institution_variable() -> dict:
    query = "label_values(chainbreaker_events_processed_total, institution)"
    return {
        "name": "institution",
        "label": "Institution",
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": "institution"},
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "refresh": 2,
        "sort": 1,
    }


def dashboard(
    uid: str, title: str, description: str, panels: list[dict], variables: list[dict] = ()
) -> dict:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["chainbreaker"],
        "timezone": "utc",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "schemaVersion": 39,
        "version": 1,
        "templating": {"list": list(variables)},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["chainbreaker"],
                "asDropdown": True,
                "title": "chainbreaker",
                "includeVars": True,
                "keepTime": True,
            },
        ],
        "panels": layout(panels),
    }


def quantiles(metric: str) -> list[dict]:
    return [
        q(f"histogram_quantile({p}, sum by (le) (rate({metric}_bucket[{RATE}])))", f"p{label}")
        for p, label in ((0.5, "50"), (0.95, "95"), (0.99, "99"))
    ]


def throughput() -> dict:
    return dashboard(
        "chainbreaker-throughput",
        "chainbreaker: throughput and latency",
        "Events per second by institution, processing and end-to-end latency, publisher.",
        [
            panel(
                "Events processed per second, by institution",
                [
                    q(
                        f"sum by (institution) (rate(chainbreaker_events_processed_total{{{INST}}}"
                        f"[{RATE}]))",
                        "{{institution}}",
                    ),
                ],
                "ops",
                width=16,
            ),
            panel(
                "Events per second (all)",
                [
                    q(f"sum(rate(chainbreaker_events_processed_total[{RATE}]))", "processed"),
                    q(f"sum(rate(chainbreaker_duplicate_events_total[{RATE}]))", "duplicates"),
                ],
                "ops",
                width=8,
            ),
            panel(
                "Processing time per event",
                quantiles("chainbreaker_processing_seconds"),
                "s",
                description="Decode, validate, update state and score one event.",
            ),
            panel(
                "End-to-end latency: payment produced -> case queued",
                quantiles("chainbreaker_end_to_end_latency_seconds"),
                "s",
                description="Kafka timestamp of the triggering payment to the Redis entry id.",
            ),
            panel(
                "End-to-end latency distribution",
                [
                    q(
                        f"sum by (le) (increase(chainbreaker_end_to_end_latency_seconds_bucket"
                        f"[{RATE}]))",
                        "{{le}}",
                    ),
                ],
                "short",
                kind="heatmap",
                width=24,
            ),
            panel(
                "Publisher: messages per second",
                [
                    q(f"sum(rate(chainbreaker_publish_messages_sent_total[{RATE}]))", "sent"),
                    q(f"sum(rate(chainbreaker_publish_messages_failed_total[{RATE}]))", "failed"),
                    q(f"sum(rate(chainbreaker_publish_retries_total[{RATE}]))", "retried"),
                ],
                "ops",
                width=24,
                description="`chainbreaker publish --metrics-port`.",
            ),
        ],
        [institution_variable()],
    )


def alerts() -> dict:
    return dashboard(
        "chainbreaker-alerts",
        "chainbreaker: alerts and typologies",
        "Alerts raised by typology and severity, indicator hits, cases opened.",
        [
            panel(
                "Alerts per hour, by typology and severity",
                [
                    q(
                        "sum by (typology, severity) "
                        f"(rate(chainbreaker_alerts_total[{RATE}])) * 3600",
                        "{{typology}} {{severity}}",
                    ),
                ],
                "short",
                width=16,
            ),
            panel(
                "Alerts in the last 24 h, by typology",
                [
                    q(
                        "sum by (typology) (increase(chainbreaker_alerts_total[24h]))",
                        "{{typology}}",
                    ),
                ],
                "short",
                kind="bargauge",
                width=8,
            ),
            panel(
                "Indicator hits per second",
                [
                    q(
                        f"sum by (indicator) (rate(chainbreaker_indicator_hits_total[{RATE}]))",
                        "{{indicator}}",
                    ),
                ],
                "ops",
            ),
            panel(
                "Alerts per 1,000 events",
                [
                    q(
                        f"1000 * sum(rate(chainbreaker_alerts_total[{RATE}])) "
                        f"/ sum(rate(chainbreaker_events_processed_total[{RATE}]))",
                        "alerts / 1k",
                    ),
                ],
                "short",
            ),
            panel(
                "Alerts in the last 24 h, by severity",
                [
                    q(
                        "sum by (severity) (increase(chainbreaker_alerts_total[24h]))",
                        "{{severity}}",
                    ),
                ],
                "short",
                kind="piechart",
                width=8,
            ),
            panel(
                "Cases opened and duplicates suppressed per second",
                [
                    q(f"sum(rate(chainbreaker_cases_enqueued_total[{RATE}]))", "cases opened"),
                    q(f"sum(rate(chainbreaker_case_duplicates_total[{RATE}]))", "duplicates"),
                ],
                "ops",
                width=16,
            ),
            # Precision from analysts' dispositions, fleet-wide over 30 days: the recording
            # rules in ops/prometheus/rules.yml (empty until dispositions arrive).
            panel(
                "Precision by typology (30 d, SAR filed or valuable / all dispositions)",
                [q("chainbreaker:typology_precision:ratio30d", "{{typology}}")],
                "percentunit",
                kind="bargauge",
                description="Share of dispositioned alerts of each typology that analysts "
                "confirmed (SAR filed) or found valuable. Low precision: tune the typology.",
            ),
            panel(
                "Precision by indicator (30 d)",
                [q("chainbreaker:indicator_precision:ratio30d", "{{indicator}}")],
                "percentunit",
                kind="bargauge",
                description="Per indicator on dispositioned alerts. An indicator that sits on "
                "many false positives is the first candidate for a lower weight.",
            ),
            panel(
                "Dispositions in the last 30 d, by typology and outcome",
                [
                    q(
                        "sum by (typology, outcome) (chainbreaker:dispositions:increase30d) > 0",
                        "{{typology}} {{outcome}}",
                    )
                ],  # fmt: skip
                "short",
                kind="bargauge",
                width=24,
            ),
        ],
    )


def pipeline() -> dict:
    return dashboard(
        "chainbreaker-pipeline",
        "chainbreaker: pipeline health",
        "Consumer lag, dead letters, rebalances, state recovery, table size, targets up.",
        [
            panel(
                "Targets up",
                [
                    q('up{job=~"chainbreaker-.*"}', "{{job}} {{instance}}"),
                ],
                "short",
                kind="stat",
                width=8,
                height=5,
            ),
            panel(
                "Rebalances in the last hour",
                [
                    q(
                        "sum by (instance) (increase(chainbreaker_rebalances_total[1h]))",
                        "{{instance}}",
                    ),
                ],
                "short",
                kind="stat",
                width=8,
                height=5,
            ),
            panel(
                "Recovery in progress",
                [
                    q("max by (instance) (chainbreaker_recovery_in_progress)", "{{instance}}"),
                ],
                "short",
                kind="stat",
                width=8,
                height=5,
            ),
            panel(
                "Consumer lag per partition",
                [
                    q(
                        "max by (topic, partition) (chainbreaker_consumer_lag_messages)",
                        "{{topic}}/{{partition}}",
                    ),
                ],
                "short",
                description="High water mark minus the next offset the worker reads.",
            ),
            panel(
                "Dead letters per second, by reason",
                [
                    q(
                        f"sum by (reason) (rate(chainbreaker_dead_letters_total[{RATE}]))",
                        "{{reason}}",
                    ),
                ],
                "ops",
            ),
            panel(
                "Changelog records left to restore",
                [
                    q(
                        "sum by (instance, kind) (chainbreaker_recovery_remaining_records)",
                        "{{instance}} {{kind}}",
                    ),
                ],
                "short",
            ),
            panel(
                "Accounts in state (RocksDB estimate)",
                [
                    q("sum by (table) (chainbreaker_table_keys)", "{{table}}"),
                ],
                "short",
            ),
            panel(
                "RocksDB memory in use (of CB_ROCKSDB_BLOCK_CACHE_MB per worker)",
                [
                    q(
                        'sum by (instance) (chainbreaker_rocksdb_memory_bytes{kind="cache"})',
                        "{{instance}} cache incl. memtables",
                    ),
                    q(
                        'sum by (instance) (chainbreaker_rocksdb_memory_bytes{kind="memtables"})',
                        "{{instance}} memtables",
                    ),
                ],
                "bytes",
            ),
            panel(
                "Rebalancing",
                [
                    q("max by (instance) (chainbreaker_rebalancing)", "{{instance}}"),
                ],
                "short",
            ),
        ],
    )


def cases() -> dict:
    return dashboard(
        "chainbreaker-cases",
        "chainbreaker: case queues",
        "Redis Stream case queues per institution: depth, pending entries, oldest open case.",
        [
            panel(
                "Cases on the queue, by institution",
                [
                    q(
                        f"sum by (institution) (chainbreaker_case_queue_length{{{INST}}})",
                        "{{institution}}",
                    ),
                ],
                "short",
            ),
            panel(
                "Pending (read by analysts, not acknowledged)",
                [
                    q(
                        f"sum by (institution) (chainbreaker_case_queue_pending{{{INST}}})",
                        "{{institution}}",
                    ),
                ],
                "short",
            ),
            panel(
                "Age of the oldest open case",
                [
                    q(
                        "max by (institution) "
                        f"(chainbreaker_case_queue_oldest_age_seconds{{{INST}}})",
                        "{{institution}}",
                    ),
                ],
                "s",
            ),
            panel(
                "Cases opened per second",
                [
                    q(f"sum(rate(chainbreaker_cases_enqueued_total[{RATE}]))", "opened"),
                ],
                "ops",
            ),
        ],
        [institution_variable()],
    )


BUILDERS = {
    "throughput.json": throughput,
    "alerts.json": alerts,
    "pipeline.json": pipeline,
    "cases.json": cases,
}


def render() -> dict[str, str]:
    return {name: json.dumps(build(), indent=2) + "\n" for name, build in BUILDERS.items()}


def main() -> int:
    OUT.mkdir(exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
