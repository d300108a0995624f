"""The main job, end to end on this machine: stack, worker, simulated traffic, alerts.

What a new user should see in a minute: the real pipeline (Kafka -> Faust worker -> alerts
topic -> Redis Streams) finding the injected trafficking scenarios in ordinary traffic, each
alert printed as it lands on an institution's case queue, then a summary with the latency
measured on the case queue itself.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

import redis

from config import clients
from config.names import institutions_key, router_group
from config.settings import PROJECT_ROOT, Settings, load
from publisher.pacing import TokenBucket
from publisher.producer import Publisher
from simulator.simulation import generate
from stack import desk as stack_desk
from stack import services as stack
from stack.paths import paths as stack_paths
from stack.process import StackError
from streams.topics import consumer_lag, ensure_topics


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="chainbreaker demo", description=__doc__)
    p.add_argument("--accounts", type=int, default=1500, help="simulated accounts (default 1500)")
    p.add_argument("--days", type=float, default=14, help="days of traffic (default 14)")
    p.add_argument("--rate", type=float, default=300, help="events/s (default 300); 0 = unpaced")
    p.add_argument(
        "--seed", type=int, default=None, help="simulation seed (default: from the clock)"
    )
    p.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    return p.parse_args(argv)


class WorkerRun:
    """The worker as a child process, its log in the stack directory."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.log_path = settings.stack_dir / "worker.log"
        settings.stack_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def metrics(self) -> dict[str, float]:
        if self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError(f"the worker exited ({self.proc.returncode}):\n" + "\n".join(tail))
        url = f"http://127.0.0.1:{self.settings.metrics_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                text = resp.read().decode()
        except OSError:
            return {}
        out: Counter[str] = Counter()
        for line in text.splitlines():
            if line.startswith("chainbreaker_") and "_created" not in line:
                name = line.split("{", 1)[0].split(" ", 1)[0]
                out[name] += float(line.rsplit(" ", 1)[1])
        return dict(out)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()


def _print_case(fields: dict[str, str], latencies: list[float]) -> None:
    alert = json.loads(fields["alert"])
    enqueued = int(fields["_id"].split("-", 1)[0])
    trigger = fields.get("trigger_produced_at")
    latency = f"{enqueued - int(trigger):>4d} ms" if trigger else "   ?"
    if trigger:
        latencies.append(enqueued - int(trigger))
    codes = ", ".join(f"{i['code']}({i['measured']:g})" for i in alert["indicators"])
    print(
        f"ALERT {alert['typology']:<18} {alert['severity']:<8} score {alert['score']:.2f}  "
        f"{alert['institution_id']}/{alert['account_id']}  latency {latency}  [{codes}]",
        flush=True,
    )


def _caught_up(settings: Settings) -> bool:
    """Worker and router have committed everything published: real lag, not a count."""
    return (
        consumer_lag(settings, settings.app_id, settings.topic_payments) == 0
        and consumer_lag(settings, router_group(settings.app_id), settings.topic_alerts) == 0
    )


def _drain(client, cursors, latencies, by_typology, alerted, since_ms: int) -> int:
    """Print every case queued since the last read; return how many there were."""
    n = 0
    for stream, entries in client.xread(cursors, count=500, block=200) or []:
        for entry_id, fields in entries:
            cursors[stream] = entry_id
            trigger = fields.get("trigger_produced_at")
            fresh = bool(trigger) and int(trigger) >= since_ms
            _print_case({**fields, "_id": entry_id}, latencies if fresh else [])
            by_typology[fields["typology"]] += 1
            alerted.add((fields["account_id"], fields["typology"]))
            n += 1
    return n


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main(argv: list[str]) -> int:
    args = _args(argv)
    settings = load()
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    print(stack.up(settings).render(), flush=True)
    ensure_topics(settings, role=clients.ADMIN)
    try:
        desk = stack_desk.up(settings, stack_paths(settings))
    except StackError as exc:
        print(f"chainbreaker demo: the analysts' desk did not start: {exc}", file=sys.stderr)
        return 1
    print(
        f"desk       {desk.action}: {desk.address}  (log: {desk.log}); the login is printed "
        "at the end",
        flush=True,
    )
    # The operator's view of every institution's queue (the router's own user may not read).
    client = redis.Redis.from_url(clients.redis_url(settings), decode_responses=True)
    since_ms = int(time.time() * 1000)
    since = f"{since_ms}-0"
    worker = WorkerRun(settings)
    print(f"worker started (log: {worker.log_path}); metrics on port {settings.metrics_port}")
    deadline = time.monotonic() + args.timeout
    while not worker.metrics():
        if time.monotonic() > deadline:
            raise RuntimeError("the worker's metrics endpoint never answered")
        time.sleep(0.2)

    start_ms = int(time.time() * 1000) - int(args.days * 86_400_000)
    events, truth = generate(seed, args.accounts, args.days, start_ms, settings.hash_key)
    published = [0]
    done_publishing = threading.Event()

    def publish() -> None:
        with Publisher(settings) as pub:
            bucket = TokenBucket(args.rate, pub.poll) if args.rate else None
            for record in events:
                if bucket is not None:
                    bucket.take()
                pub.send(record)
                published[0] += 1
            pub.flush(60)
        done_publishing.set()

    scenarios = Counter(t.typology for t in truth)
    pace = f"at {args.rate:g} events/s" if args.rate else "unpaced"
    print(
        f"publishing {args.days:g} days of traffic for {args.accounts} accounts (seed {seed}) with "
        f"{sum(v for k, v in scenarios.items() if k != 'NONE')} injected scenarios and "
        f"{scenarios.get('NONE', 0)} look-alike innocents, {pace}",
        flush=True,
    )
    started = time.monotonic()
    threading.Thread(target=publish, name="publisher", daemon=True).start()

    latencies: list[float] = []
    by_typology: Counter[str] = Counter()
    alerted: set[tuple[str, str]] = set()
    cursors: dict[str, str] = {}
    try:
        while True:
            for inst in client.smembers(institutions_key(settings.app_id)):
                cursors.setdefault(settings.case_stream(inst), since)
            if cursors:
                _drain(client, cursors, latencies, by_typology, alerted, since_ms)
            else:
                time.sleep(0.2)
            m = worker.metrics()
            if done_publishing.is_set() and _caught_up(settings):
                # One more read, so cases routed just before the check are printed too.
                if not _drain(client, cursors, latencies, by_typology, alerted, since_ms):
                    break
                continue
            if time.monotonic() > deadline:
                print("timed out waiting for the worker to catch up", file=sys.stderr)
                return 1
    finally:
        elapsed = time.monotonic() - started
        m = worker.metrics() if worker.proc.poll() is None else {}
        worker.stop()

    found = {(t.account_id, t.typology) for t in truth if t.typology != "NONE"}
    innocents = {t.account_id for t in truth if t.typology == "NONE"}
    print("\n== summary ==")
    print(f"events published      {published[0]:>10,}  in {elapsed:.1f}s")
    print(f"events processed      {int(m.get('chainbreaker_events_processed_total', 0)):>10,}")
    print(f"dead letters          {int(m.get('chainbreaker_dead_letters_total', 0)):>10,}")
    for typology in sorted(by_typology):
        print(f"alerts {typology:<18} {by_typology[typology]:>6,}")
    print(f"scenarios detected    {len(found & alerted):>6} of {len(found)}")
    print(
        f"look-alikes alerted   {len({a for a, _ in alerted} & innocents):>6} of {len(innocents)}"
    )
    if latencies:
        print(
            f"latency event->case   p50 {_percentile(latencies, 0.5):.0f} ms, "
            f"p99 {_percentile(latencies, 0.99):.0f} ms (n={len(latencies)})"
        )
    _institution_hint(settings, client)
    _desk_hint(settings, stack_desk.url(settings))
    print(
        "\nThe stack and the desk are still running: `make stack-down` (or `chainbreaker stack "
        "down`) stops them."
    )
    return 0


def _institution_hint(settings, client) -> None:
    """The user's next step: work a queue as the institution would (docs/institutions.md)."""
    from institutions.credentials import credentials_path

    for inst in sorted(client.smembers(institutions_key(settings.app_id))):
        path = credentials_path(settings, inst)
        if not path.is_file():
            continue
        if path.is_relative_to(Path.cwd()):
            path = path.relative_to(Path.cwd())
        print(
            f"\nWork {inst}'s cases as its analysts would (docs/institutions.md):\n"
            f"  .venv/bin/chainbreaker cases read --credentials {path} --consumer you\n"
            f"  .venv/bin/chainbreaker cases show <alert-id> --credentials {path}\n"
            f"  .venv/bin/chainbreaker cases sar <alert-id> --credentials {path}\n"
            f"  .venv/bin/chainbreaker cases dispose <alert-id> --credentials {path} "
            "--outcome false-positive --analyst an-1"
        )
        return


def _desk_hint(settings, address: str, institution: str = "bank-us-01") -> None:
    """How to sign in to the desk as the bank. The password is the bank's Redis ACL password
    of this local stack (random, made by `stack up`): printed here, on the demo's console,
    once, for the local demo user, never into a log (docs/desk.md)."""
    from institutions.credentials import credentials_path, read_credentials, url_credentials

    path = credentials_path(settings, institution)
    try:
        password = url_credentials(read_credentials(path).get("CB_CASES_REDIS_URL", ""))[1]
    except OSError:
        password = None
    if path.is_relative_to(Path.cwd()):
        path = path.relative_to(Path.cwd())
    print(f"\nWork the cases in the analysts' desk: open {address}/ and sign in as")
    print(f"  institution  {institution}")
    if password:
        print(f"  password     {password}")
    print("  analyst      an-1 (any pseudonymous reference of yours; never a name)")
    print(f"  (the password of {institution}'s case-queue user, from {path}; the demo prints it")
    print("   for you, the local user; it is in no log)")
