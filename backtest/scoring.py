"""Scoring a backtest run against the truth: the run's alerts and hits as the evaluation's
records, then processors.evaluation.evaluate per typology and per indicator.

The run itself is processors.replay.run, the per-event loop compiled with the engine it
drives; this module only turns its result into what the evaluation counts.
"""

from __future__ import annotations

from processors import rules as rules_mod
from processors.evaluation import AlertRecord, Evaluation, HitRecord, Truth, evaluate
from processors.replay import RunResult


def alert_records(run_result: RunResult) -> list[AlertRecord]:
    return [
        AlertRecord(
            account_id=a["account_id"],
            typology=a["typology"],
            detected_ms=a["last_event_time"],
            indicators=tuple(i["code"] for i in a["indicators"]),
            alert_id=aid,
        )
        for aid, a in run_result.alerts.items()
    ]


def hit_records(run_result: RunResult) -> list[HitRecord]:
    return [HitRecord(acct, code, t, n) for (acct, code), (t, n) in run_result.hits.items()]


def score(run_result: RunResult, truth: list[Truth], rules: rules_mod.RuleSet) -> Evaluation:
    return evaluate(
        truth,
        alert_records(run_result),
        hit_records(run_result),
        typologies=[t.value for t in rules.typologies],
        indicators=[d.code for d in rules.detectors],
        population=run_result.accounts,
    )
