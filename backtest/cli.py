"""`chainbreaker backtest`: the detectors offline over a file of events, scored against truth.

The same code as the worker (``processors.validation.to_event`` then ``Engine.step``) runs over
a JSON-lines file (as ``chainbreaker simulate --out`` writes it), an Avro container file, or an
AMLSim output (directory or .tgz, through ``backtest.amlsim``). Account states live in a dict:
nothing is serialised between events. Records that fail validation are counted and skipped with
the reason the worker would dead-letter them with. Alerts are kept once per alert id, as the
case queue keeps them.

Output: a summary on stdout, and ``report.md`` + ``report.png`` in ``--report-dir``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from backtest.reading import count_lines, detect_format, load_truth, read_avro, read_jsonl
from backtest.report import HOUR_MS, amlsim_section, render_chart, render_markdown, summary
from backtest.scoring import score
from processors import rules as rules_mod
from processors.engine import Engine
from processors.replay import Rejected, run

DEFAULT_REPORT_DIR = Path(".stack/backtest")


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="chainbreaker backtest",
        description="Run the detectors offline over a file of events and score them against "
        "the truth: per typology and per indicator precision, recall, false alerts on hard "
        "negatives and time to detect. Writes report.md and report.png.",
    )
    p.add_argument("file", help="JSON lines, an Avro container file, or an AMLSim dir / .tgz")
    p.add_argument("--truth", help="truth JSON (default: FILE with suffix .truth.json if present)")
    p.add_argument("--format", choices=("jsonl", "avro", "amlsim"), help="default: by file name")
    p.add_argument("--report-dir", default=str(DEFAULT_REPORT_DIR))
    p.add_argument("--rules", help="rule set JSON (default: processors/default_rules.json)")
    p.add_argument(
        "--amlsim-step-hours",
        type=float,
        default=24.0,
        help="hours per AMLSim simulation step (default 24, AMLSim's own)",
    )
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    from tqdm import tqdm

    args = _args(argv)
    path = Path(args.file)
    if not path.exists():
        print(f"chainbreaker backtest: {path}: no such file or directory", file=sys.stderr)
        return 2
    try:
        rules = rules_mod.load(Path(args.rules) if args.rules else None)
    except (rules_mod.RuleError, OSError) as exc:
        print(f"chainbreaker backtest: {exc}", file=sys.stderr)
        return 2
    fmt = args.format or detect_format(path)
    now_ms = int(time.time() * 1000)
    extra: list[str] = []
    aml = None
    if fmt == "amlsim":
        from backtest import amlsim

        if args.amlsim_step_hours <= 0:
            print("chainbreaker backtest: --amlsim-step-hours must be positive", file=sys.stderr)
            return 2
        step_ms = int(args.amlsim_step_hours * HOUR_MS)
        aml = amlsim.load(path, step_ms=step_ms)
        truth, truth_note = aml.truth, "nodes.csv labels (isFraud=1 -> HUMAN_SMUGGLING, see below)"
        bad = [Rejected(reason, f"line {line}: {detail}") for line, reason, detail in aml.rejected]
        records: Iterable[dict[str, Any] | Rejected] = [*bad, *aml.records]
        total: int | None = len(aml.records) + len(bad)
    else:
        truth_path = Path(args.truth) if args.truth else path.with_suffix(".truth.json")
        if truth_path.exists():
            truth = load_truth(truth_path)
            truth_note = f"`{truth_path}` ({len(truth):,} labelled accounts)"
        elif args.truth:
            print(f"chainbreaker backtest: {truth_path}: no such file", file=sys.stderr)
            return 2
        else:
            truth, truth_note = [], "none given: alerts are reported, not scored"
        if fmt == "avro":
            records, total = read_avro(path), None
        else:
            records, total = read_jsonl(path), count_lines(path)

    bar = tqdm(total=total, unit="ev", unit_scale=True, file=sys.stderr, disable=None,
               desc="backtest")  # fmt: skip
    try:
        res = run(records, Engine(rules), now_ms, progress=bar)
    finally:
        bar.close()
    ev = score(res, truth, rules)
    if aml is not None:
        extra = amlsim_section(aml, rules, args.amlsim_step_hours)

    out_dir = Path(args.report_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.md").write_text(
        render_markdown(
            str(path),
            fmt,
            rules,
            res,
            ev,
            truth_note,
            extra,
            truth_of={t.account_id: t.typology for t in truth},
        )
    )
    render_chart(ev, out_dir / "report.png", f"backtest {path.name}, rules {rules.version}")
    print(summary(res, ev, out_dir))
    return 0
