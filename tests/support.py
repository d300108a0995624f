"""Helpers for integration tests: isolated worker processes and event builders.

Each test gets its own app id, topics and state directory, so tests share the broker and
Redis but never each other's data. Waiting is always on an observable condition (a metric,
a stream length) with a deadline, never a fixed sleep.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import redis
from confluent_kafka import Consumer, Producer

from access.grant import grant_app, grant_institution_kafka
from access.secrets import env_file, new_password, write_secret
from config import clients
from config import settings as settings_mod
from config.names import PARTITIONER
from streams.topics import ensure_topics

ROOT = Path(__file__).resolve().parent.parent
HOUR_MS = 3_600_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# Apps provisioned by isolated_env, revoked at the end of the session (tests/conftest.py).
PROVISIONED: list[settings_mod.Settings] = []


def isolated_env(tmp: Path, provision: bool = True, **overrides: str) -> dict[str, str]:
    """Environment for one test: unique app id and topics on the shared stack, and (unless
    ``provision`` is false) the app's principals: a Kafka user per role with its ACLs and the
    router's Redis user, with their credentials files (access/grant.py), as `stack up` makes
    them for the default app. Institution "bank-test" (the payment() helper's) is the one
    whose dispositions the worker reads."""
    tag = uuid.uuid4().hex[:8]
    base = settings_mod.load()
    env = {
        **os.environ,
        "CB_APP_ID": f"t{tag}",
        "CB_TOPIC_PAYMENTS": f"t{tag}-payments",
        "CB_TOPIC_ALERTS": f"t{tag}-alerts",
        "CB_TOPIC_DEAD_LETTER": f"t{tag}-dlq",
        "CB_TOPIC_DISPOSITIONS": f"t{tag}-dispositions",
        "CB_TOPIC_INTEL": f"t{tag}-intel",
        "CB_TOPIC_RULES": f"t{tag}-rules",
        "CB_TOPIC_IDENTITY_LINKS": f"t{tag}-identity-links",
        "CB_TOPIC_ACCOUNT_SIGNALS": f"t{tag}-account-signals",
        "CB_PARTITIONS": "2",
        "CB_STATE_DIR": str(tmp / "state"),
        "CB_METRICS_PORT": str(free_port()),
        "CB_LOG_LEVEL": "INFO",
        "CB_INSTITUTIONS": "bank-test",
        "PYTHONPATH": str(ROOT),
    }
    env.update(overrides)
    settings = settings_mod.load(env)
    if settings.stack_dir != base.stack_dir:
        # A private stack directory (for the institutions' credentials files) on the shared
        # services: it needs the operator's credentials of the shared stack.
        for source in (clients.role_file(base, clients.ADMIN), clients.operator_file(base)):
            target = settings.stack_dir / source.relative_to(base.stack_dir)
            if source.is_file() and not target.exists():
                write_secret(target, source.read_text())
    if provision:
        grant_app(settings)
        PROVISIONED.append(settings)
    return env


def delete_app_topics(settings: settings_mod.Settings, apps: list[str]) -> int:
    """Delete every topic of the given test apps (named ``<app>-...``), as the operator."""
    from streams.topics import delete_topics_named

    return len(delete_topics_named(settings, tuple(f"{app}-" for app in apps)))


def settings_for(env: dict[str, str]) -> settings_mod.Settings:
    return settings_mod.load(env)


class WorkerProcess:
    """`chainbreaker worker` as a real OS process, so tests can kill -9 it."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.settings = settings_for(env)
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> WorkerProcess:
        ensure_topics(self.settings)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker"],
            env=self.env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.metrics_text, 60, "the worker's metrics endpoint")
        return self

    def metrics_text(self) -> str | None:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"worker exited with {self.proc.returncode}: {self.log_tail()}")
        url = f"http://127.0.0.1:{self.settings.metrics_port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read().decode()
        except OSError:
            return None

    def metric(self, name: str, labels: str = "") -> float:
        text = self.metrics_text() or ""
        want = f"{name}{{{labels}}}" if labels else name
        total = 0.0
        for line in text.splitlines():
            if line.startswith(want + " ") or (not labels and line.startswith(name + "{")):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_metric(
        self, name: str, at_least: float, timeout: float = 60, labels: str = ""
    ) -> float:
        try:
            return wait_for(
                lambda: (v := self.metric(name, labels)) >= at_least and v,
                timeout,
                f"{name}{{{labels}}} >= {at_least}",
            )
        except AssertionError as exc:
            ours = [
                line
                for line in (self.metrics_text() or "").splitlines()
                if line.startswith("chainbreaker_") and "_created" not in line
            ]
            raise AssertionError(
                f"{exc}\nmetrics:\n" + "\n".join(ours) + f"\nworker log:\n{self.log_tail()}"
            ) from None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no final commit, as a crash would be."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "_log", None) is not None:
            self._log.close()


def producer(
    settings: settings_mod.Settings, role: str = clients.PUBLISHER, extra: dict | None = None
) -> Producer:
    """An idempotent producer as ``role`` (the publisher: payments only)."""
    return Producer(
        clients.kafka_config(
            settings,
            role,
            {
                "acks": "all",
                "enable.idempotence": True,
                "partitioner": PARTITIONER,
                **(extra or {}),
            },
        )
    )


def consumer(settings: settings_mod.Settings, group: str, role: str = clients.ADMIN) -> Consumer:
    """A consumer from the earliest offset, as the operator by default (tests inspect topics
    no service role may read, the dead letters for one)."""
    return Consumer(
        clients.kafka_config(
            settings,
            role,
            {"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False},
        )
    )


def institution_producer(settings: settings_mod.Settings, institution: str) -> Producer:
    """A producer as the institution's own Kafka principal (created here when it has none),
    which may write the institution's dispositions topic and nothing else."""
    role = clients.institution_role(institution)
    path = clients.role_file(settings, role)
    if settings.kafka_security != "plaintext" and not path.exists():
        login = grant_institution_kafka(settings, institution, new_password())
        assert login is not None
        write_secret(
            path,
            env_file(
                f"test institution {institution}",
                {
                    clients.ENV_KAFKA_USERNAME: login.username,
                    clients.ENV_KAFKA_PASSWORD: login.password,
                    clients.ENV_KAFKA_MECHANISM: login.mechanism,
                },
            ),
        )
    return producer(settings, role)


def operator_redis(settings: settings_mod.Settings, **kwargs) -> redis.Redis:
    """The operator's Redis connection (every right), as tests that look at any key need."""
    return redis.Redis.from_url(clients.redis_url(settings), **kwargs)


def payment(event_id: str, event_time: int, account: str = "acct-1", **fields) -> dict:
    record = {
        "event_id": event_id,
        "event_time": event_time,
        "utc_offset_minutes": 0,
        "institution_id": "bank-test",
        "account_id": account,
        "customer_id": f"cust-{account}",
        "direction": "DEBIT",
        "channel": "CARD_PRESENT",
        "amount_minor": 12_500,
        "currency": "USD",
    }
    record.update(fields)
    return record


def hotel(event_id: str, event_time: int, city: str, account: str = "acct-1") -> dict:
    merchant = {"merchant_id": f"h-{city}", "name": f"Motel {city}", "mcc": "7011",
                "city": city, "region": None, "country": "US"}  # fmt: skip
    return payment(event_id, event_time, account, merchant=merchant)


def night_atm(event_id: str, day_start_ms: int, account: str = "acct-1") -> dict:
    """A cash withdrawal at 23:30 local time (UTC offset 0) on the given day."""
    where = {"city": "Reno", "region": "NV", "country": "US", "terminal_id": "atm-1"}
    return payment(
        event_id, day_start_ms + 23 * HOUR_MS + 30 * 60_000, account, channel="ATM", location=where
    )


def midnight_days_ago(days: int) -> int:
    now = int(time.time() * 1000)
    return (now // (24 * HOUR_MS) - days) * 24 * HOUR_MS


def card_record(event_id: str, t: int, **over) -> dict:
    """A minimal valid payment record (a $50 card payment) for detector unit tests."""
    base = {
        "event_id": event_id,
        "event_time": t,
        "utc_offset_minutes": 0,
        "institution_id": "bank-1",
        "account_id": "acct-1",
        "customer_id": "cust-1",
        "direction": "DEBIT",
        "channel": "CARD_PRESENT",
        "amount_minor": 5_000,
        "currency": "USD",
    }
    base.update(over)
    return base


def mentions(text: str, number: float) -> bool:
    """``number`` appears in ``text`` as a number of its own (3 is not found in 30 or 0.3)."""
    return re.search(rf"(?<![\d.]){number:g}(?![\d])", text) is not None


def check_measured_hit(hit, measured: float, threshold: float, ids: list[str]) -> None:
    """An indicator hit carries the measurement, threshold and evidence, and explains itself."""
    assert hit.measured == measured
    assert hit.threshold == threshold
    assert sorted(hit.event_ids) == sorted(ids)
    assert mentions(hit.explanation, measured), hit.explanation
