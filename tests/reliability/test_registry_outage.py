"""A schema-registry outage with a registry configured: events whose writer schema the worker
has not fetched yet wait for it, none is dead-lettered, and all are processed once the registry
is back.

The registry is tests/schemas/registry_server.py run as its own process (its docstring says
why not a real one): stopping it is a real outage, connections refused. The events that wait
are written with the previous schema version (v1) under an id registered by their publisher
before the outage, so the worker must ask the registry for it while it is down.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
import urllib.request

import fastavro
import pytest

from schemas.codec import ConfluentRegistry, load_versions
from tests.reliability.harness import lags
from tests.support import (
    ROOT,
    WorkerProcess,
    free_port,
    isolated_env,
    midnight_days_ago,
    payment,
    producer,
    settings_for,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Registry:
    def __init__(self, port: int, store, log) -> None:
        self.port, self.store, self.log = port, store, log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Registry:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.schemas.registry_server", "--port", str(self.port),
             "--store", str(self.store)],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip

        def answers() -> bool:
            try:
                urllib.request.urlopen(f"{self.url}/schemas/ids/999999", timeout=1)
            except urllib.error.HTTPError as exc:
                return exc.code == 404
            except OSError:
                return False
            return False

        wait_for(answers, 30, "the registry to answer")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)  # gone: its port refuses connections


def v1_framed(registry_url: str, records: list[dict]) -> list[tuple[bytes, bytes]]:
    """Records written by a publisher still on schema v1, in the registry's framing."""
    v1 = load_versions("payment_event")[0]
    schema_id = ConfluentRegistry(registry_url).register("payment_event-value", v1.canonical)
    out = []
    for rec in records:
        buf = io.BytesIO()
        buf.write(struct.pack(">bI", 0, schema_id))
        fastavro.schemaless_writer(buf, v1.parsed, rec)
        out.append((rec["account_id"].encode(), buf.getvalue()))
    return out


def test_events_wait_for_the_registry_and_none_is_dead_lettered(stack, tmp_path) -> None:
    log = open(tmp_path / "registry.log", "ab")  # noqa: SIM115 - closed below
    registry = Registry(free_port(), tmp_path / "registry.json", log).start()
    env = isolated_env(tmp_path, CB_SCHEMA_REGISTRY_URL=registry.url)
    settings = settings_for(env)
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    day = midnight_days_ago(1)
    try:
        from publisher.producer import Publisher

        before = [payment(f"before-{n}", day + n, f"acct-{n % 7}") for n in range(50)]
        with Publisher(settings) as pub:  # registers the current schema, registry up
            for rec in before:
                pub.send(rec)
            assert pub.flush(30) == 0 and pub.failed == 0
        worker.wait_metric("chainbreaker_events_processed_total", len(before), timeout=120)
        waiting = v1_framed(
            registry.url, [payment(f"v1-{n}", day + 1000 + n, f"acct-{n % 7}") for n in range(40)]
        )

        registry.stop()
        outage_started = time.monotonic()
        p = producer(settings)
        for key, value in waiting:
            p.produce(settings.topic_payments, key=key, value=value)
        assert p.flush(30) == 0
        # The worker meets an id it has never fetched and waits: observable in its log, its
        # lag and its counters, while the registry stays down.
        wait_for(lambda: "schema registry unavailable" in worker.log_tail(400), 120,
                 "the worker to report the registry unavailable")  # fmt: skip
        wait_for(lambda: worker.log_tail(400).count("schema registry unavailable") >= 3, 120,
                 "the worker to retry a few times")  # fmt: skip
        assert worker.metric("chainbreaker_events_processed_total") == len(before)
        assert worker.metric("chainbreaker_dead_letters_total") == 0
        assert lags(settings)[settings.topic_payments] == len(waiting)
        down_for = time.monotonic() - outage_started

        registry.start()  # same store: the ids it gave out before
        worker.wait_metric(
            "chainbreaker_events_processed_total", len(before) + len(waiting), timeout=180
        )
        wait_for(lambda: lags(settings)[settings.topic_payments] == 0, 60, "payments committed")
        assert worker.metric("chainbreaker_dead_letters_total") == 0
        assert worker.proc.poll() is None
    finally:
        worker.stop()
        registry.stop()
        log.close()
    print(
        f"\nregistry outage: 1 fault injected, down {down_for:.0f}s; {len(waiting)} events "
        f"waited and were processed after it, {len(before)} before; 0 dead-lettered"
    )
