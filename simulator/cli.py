"""`chainbreaker simulate`: seeded traffic with injected scenarios, to a file or to Kafka."""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from config.settings import load
from simulator.clock import DAY_MS, HOUR_MS, MIN_MS
from simulator.kinds import TYPOLOGIES
from simulator.output import write_avro, write_jsonl, write_rules, write_truth
from simulator.simulation import build

_RELATIVE = re.compile(r"^now(?:-(\d+(?:\.\d+)?)([dhm]))?$")


def parse_start(text: str | None, now_ms: int, days: float) -> int:
    """``None`` -> now - days (so every event is in the past); ``now-3d``, ``now-12h``; ISO 8601."""
    if text is None:
        return now_ms - int(days * DAY_MS)
    m = _RELATIVE.match(text.strip())
    if m:
        if m.group(1) is None:
            return now_ms
        unit = {"d": DAY_MS, "h": HOUR_MS, "m": MIN_MS}[m.group(2)]
        return now_ms - int(float(m.group(1)) * unit)
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--start must be ISO 8601 or now-<N>d|h|m, got {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="chainbreaker simulate",
        description="Generate seeded payment traffic with injected trafficking scenarios and "
        "look-alike accounts; the same seed and start give the same events and event ids.",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--accounts", type=int, default=2000)
    p.add_argument("--days", type=float, default=14.0)
    p.add_argument("--scenarios", type=int, default=None, help="trafficking scenarios to inject")
    p.add_argument(
        "--groups",
        type=int,
        default=None,
        help="multi-account scenarios (shared identifiers, common beneficiary); default "
        "one per 8 scenarios",
    )
    p.add_argument(
        "--rings",
        type=int,
        default=None,
        help="rings per typology (random subsets of red flags, roles in the truth; "
        "simulator/scenarios/rings.py), with three times as many ring look-alikes; default one "
        "per 2,500 accounts in runs of a week or more; 0 for the population of earlier builds",
    )
    p.add_argument("--start", help="ISO 8601 or now-<N>d|h|m (default: now minus --days)")
    dest = p.add_mutually_exclusive_group(required=True)
    dest.add_argument(
        "--out", help="write to FILE ('-' for stdout): JSON lines, or Avro if FILE ends in .avro"
    )
    dest.add_argument("--publish", action="store_true", help="send to the payments topic")
    p.add_argument("--topic", help="topic for --publish (default CB_TOPIC_PAYMENTS)")
    p.add_argument("--rate", type=float, help="events per second for --publish (default unpaced)")
    p.add_argument("--truth", help="write the scenario truth as JSON to FILE")
    p.add_argument(
        "--rules-out",
        help="write the default rule set plus the simulated watchlists (ad sites, recruiters, "
        "dark-web wallets, identifiers in ads) to FILE, for `backtest --rules` (default with "
        "--out FILE: FILE with suffix .rules.json)",
    )
    p.add_argument("--limit", type=int, help="stop after N events")
    p.add_argument(
        "--format",
        choices=("jsonl", "avro"),
        help="file format for --out (default: avro if FILE ends in .avro, else jsonl); avro is "
        "an object container file of the payment_event schema, as `backtest` reads it",
    )
    args = p.parse_args(argv)
    if args.format is None and args.out:
        args.format = "avro" if args.out.lower().endswith(".avro") else "jsonl"
    if args.format == "avro" and args.out in (None, "-"):
        p.error("--format avro needs --out FILE (a container file is binary)")
    if args.accounts < 1 or args.days <= 0:
        p.error("--accounts and --days must be positive")
    if args.rate is not None and (not args.publish or args.rate <= 0):
        p.error("--rate must be positive and needs --publish")
    return args


def main(argv: list[str]) -> int:
    from tqdm import tqdm

    args = _args(argv)
    settings = load()
    try:
        start_ms = parse_start(args.start, int(time.time() * 1000), args.days)
    except ValueError as exc:
        print(f"chainbreaker simulate: {exc}", file=sys.stderr)
        return 2
    sim = build(
        args.seed,
        args.accounts,
        args.days,
        start_ms,
        settings.hash_key,
        args.scenarios,
        args.groups,
        args.rings,
    )
    events, truth = sim.events, sim.truth
    if args.limit is not None:
        events = islice(events, max(0, args.limit))
    truth_path = args.truth
    if truth_path is None and args.out not in (None, "-"):
        truth_path = str(Path(args.out).with_suffix(".truth.json"))
    if truth_path:
        write_truth(truth, Path(truth_path))
    rules_path = args.rules_out
    if rules_path is None and args.out not in (None, "-"):
        rules_path = str(Path(args.out).with_suffix(".rules.json"))
    if rules_path:
        write_rules(sim.watchlists, Path(rules_path), f"sim.{args.seed}")

    bar = tqdm(events, unit="ev", file=sys.stderr, disable=None, desc="simulate")
    count, failures = 0, 0
    if args.publish:
        from publisher.pacing import TokenBucket
        from publisher.producer import Publisher

        topic = args.topic or settings.topic_payments
        interrupted = False
        with Publisher(settings, topic) as pub:
            bucket = TokenBucket(args.rate, pub.poll) if args.rate else None
            try:
                for rec in bar:
                    if bucket is not None:
                        bucket.take()
                    pub.send(rec)
                    count += 1
            except KeyboardInterrupt:  # stop sending, but deliver what is already queued
                interrupted = True
            failures = pub.flush(60.0)
        where = f"published to {topic}" + (f", {failures} delivery failures" if failures else "")
        where += " (interrupted)" if interrupted else ""
    elif args.format == "avro":
        count = write_avro(bar, Path(args.out))
        where = f"written to {args.out} (Avro)"
    else:
        out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
        try:
            count = write_jsonl(bar, out)
        finally:
            if out is not sys.stdout:
                out.close()
        where = f"written to {args.out}"
    bar.close()
    by_typ = Counter(s.typology for s in {s.scenario_id: s for s in truth}.values())
    summary = ", ".join(f"{t}={by_typ.get(t, 0)}" for t in (*TYPOLOGIES, "NONE"))
    summary += f" ({len(truth)} labelled accounts)"
    where += f", truth in {truth_path}" if truth_path else ""
    where += f", rules with watchlists in {rules_path}" if rules_path else ""
    print(
        f"simulate: {count} events, {args.accounts} accounts, scenarios {summary}; {where}",
        file=sys.stderr if args.out == "-" else sys.stdout,
    )
    return 1 if failures else 0
