"""Events per second of the offline backtest on one core (issue #3, target 4b: >= 100,000).

Generates a fixed seeded population in a temp dir (``chainbreaker simulate`` with a fixed
``--start``, so the same seed gives the same file on the same simulator), writes the same
events as an Avro container file too, then times ``processors.replay.run`` (the loop behind
``chainbreaker backtest``), best of ``--repeat`` runs each:

* jsonl: read + JSON decode + validate + detect (what ``chainbreaker backtest FILE.jsonl``
  prints as events/s);
* avro: the same from the Avro container (``--format avro``): fastavro's C decoder instead
  of the JSON scanner;
* decoded: validate + detect over records already decoded in memory: the detection code
  alone, the ceiling for any file format;
* read only: each reader alone, so the share of the file format is visible;
* interpreted: the jsonl row again in a child process with CB_NATIVE=off, so the compiled
  build of processors/ (scripts/build_native.py) shows as a ratio on the same machine and
  file (``--no-interpreted`` skips it).

The loop is single-threaded and runs in-process, with the cyclic GC off as the backtest does;
``--pin`` also pins the process to one CPU (on a shared machine that CPU may be the busy
one). Scoring and the report are not timed (``chainbreaker backtest`` does not count them).

    python -m bench.backtest_speed [--accounts 20000] [--days 30] [--seed 7] [--repeat 3]
                                   [--file EVENTS.jsonl] [--no-interpreted] [--pin]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START = "2026-01-01T00:00:00Z"  # fixed, so the population does not move with the clock
NOW_MS = 1_900_000_000_000  # later than any event: nothing is rejected as "future"
TARGET_EPS = 100_000


def pin_one_core() -> str:
    """Run on a single CPU if the OS lets us; say which."""
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (single-threaded loop)"


def population(out_dir: Path, seed: int, accounts: int, days: int) -> Path:
    path = out_dir / "events.jsonl"
    subprocess.run(
        [sys.executable, "-m", "cli", "simulate", "--seed", str(seed),
         "--accounts", str(accounts), "--days", str(days), "--start", START,
         "--out", str(path), "--truth", str(out_dir / "events.truth.json")],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return path


def to_avro(jsonl: Path, path: Path) -> Path:
    """The same events as an Avro object container file, written as `simulate` writes one."""
    import json

    from simulator.output import write_avro

    with open(jsonl, encoding="utf-8") as src:
        write_avro((json.loads(line) for line in src), path)
    return path


def timed_run(records, repeat: int, make_records=None) -> tuple[float, int, int]:
    """Best seconds over ``repeat`` runs of the backtest loop; (seconds, events, alerts)."""
    from processors import rules
    from processors.engine import Engine
    from processors.replay import run

    ruleset = rules.load()
    best, events, alerts = float("inf"), 0, 0
    for _ in range(repeat):
        res = run(make_records() if make_records else records, Engine(ruleset), NOW_MS)
        best = min(best, res.seconds)
        events, alerts = res.events, len(res.alerts)
    return best, events, alerts


def interpreted_jsonl(jsonl: Path, repeat: int, pin: bool) -> float:
    """The jsonl figure with processors/ interpreted, from a child process (the compiled
    modules are already imported here)."""
    code = (
        "import sys; from pathlib import Path; from bench import backtest_speed as b; "
        "from backtest.reading import read_jsonl; "
        "pin = sys.argv[3] == '1' and b.pin_one_core(); "
        "p = Path(sys.argv[1]); "
        "s, n, _ = b.timed_run(None, int(sys.argv[2]), lambda: read_jsonl(p)); "
        "print(n / s)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(jsonl), str(repeat), "1" if pin else "0"],
        cwd=ROOT, env={**os.environ, "CB_NATIVE": "off"}, check=True, capture_output=True,
        text=True,
    )  # fmt: skip
    return float(out.stdout.strip().splitlines()[-1])


def read_only(reader, path: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _rec in reader(path):
            pass
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(prog="python -m bench.backtest_speed", description=__doc__)
    p.add_argument("--accounts", type=int, default=20_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--pin", action="store_true", help="pin the process to one CPU")
    p.add_argument("--file", help="an existing JSON-lines file instead of a fresh population")
    p.add_argument("--no-interpreted", action="store_true", help="skip the interpreted run")
    args = p.parse_args(argv)

    import processors
    from backtest.reading import read_avro, read_jsonl

    pinned = pin_one_core() if args.pin else "single-threaded, not pinned"
    pinned += f"; processors {processors.RUNS_AS}"
    with tempfile.TemporaryDirectory(prefix="cb-bench-backtest-") as tmp:
        if args.file:
            jsonl = Path(args.file)
            print(f"backtest speed: {jsonl}; {pinned}")
        else:
            t0 = time.perf_counter()
            jsonl = population(Path(tmp), args.seed, args.accounts, args.days)
            print(
                f"backtest speed: seed {args.seed}, {args.accounts:,} accounts, {args.days} days "
                f"from {START} (generated in {time.perf_counter() - t0:.0f} s); {pinned}"
            )
        avro = to_avro(jsonl, Path(tmp) / "events.avro")
        figures: dict[str, float] = {}
        s, n, alerts = timed_run(None, args.repeat, lambda: read_jsonl(jsonl))
        figures["jsonl"] = n / s
        s_a, _, alerts_a = timed_run(None, args.repeat, lambda: read_avro(avro))
        figures["avro"] = n / s_a
        decoded = list(read_avro(avro))
        s_d, _, alerts_d = timed_run(decoded, args.repeat)
        figures["decoded"] = n / s_d
        del decoded
        figures["read_jsonl"] = n / read_only(read_jsonl, jsonl, args.repeat)
        figures["read_avro"] = n / read_only(read_avro, avro, args.repeat)
        if not args.no_interpreted:
            figures["interpreted"] = interpreted_jsonl(jsonl, args.repeat, args.pin)

    same = "same" if alerts == alerts_a == alerts_d else "DIFFERENT"
    print(f"  {n:,} events, {alerts} alerts ({same} for every input); best of {args.repeat}")
    rows = [
        ("jsonl: read + decode + validate + detect", "jsonl"),
        ("avro:  read + decode + validate + detect", "avro"),
        ("validate + detect (records in memory)", "decoded"),
        ("read + decode JSON lines only", "read_jsonl"),
        ("read + decode Avro container only", "read_avro"),
    ]
    if "interpreted" in figures:
        rows.append(("jsonl, processors interpreted (CB_NATIVE=off)", "interpreted"))
    for label, key in rows:
        print(f"  {label:<44} {figures[key]:>9,.0f} ev/s")
    if "interpreted" in figures:
        ratio = figures["jsonl"] / figures["interpreted"]
        print(f"  jsonl as run / interpreted: {ratio:.2f}x")
    for key in ("jsonl", "avro"):
        verdict = "meets" if figures[key] >= TARGET_EPS else "below"
        print(f"  target {TARGET_EPS:,} ev/s on one core: {key} {verdict}")
    print("  one core of a shared 2-core machine: compare runs as ratios, not absolutes")
    return figures


if __name__ == "__main__":
    main()
    sys.exit(0)
