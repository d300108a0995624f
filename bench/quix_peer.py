"""The peer: the project's own detection step on Quix Streams, the other Python engine on Kafka.

A Quix Streams application (RocksDB state with its changelog topic, at-least-once, commits
every second like the worker) that decodes each payment, validates it and runs
``Engine.step`` on the account's state, keyed by the message key (the account), with the
state in Quix's state store. No alerts topic, links or case router: this is the per-account
engine alone, on the other engine's message path, to compare message paths honestly.

It runs in its own virtualenv (``.venv-peer``, made by ``bench/peer-venv.sh``): quixstreams
3.28.1 pins a confluent-kafka older than the project's, so it is a benchmark-only
dependency, never the project's. processors/ needs only msgspec, and its compiled build
loads in any venv of the same interpreter.

    .venv-peer/bin/python -m bench.quix_peer   (CB_* environment, as the worker)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.kafka.configuration import ConnectionConfig
from quixstreams.state.rocksdb import RocksDBOptions

import processors
from processors import rules as rules_mod
from processors.engine import Engine
from processors.payment_avro import decode_message
from processors.state import StateCache
from processors.validation import InvalidEvent, to_event

SOE_HEADER_LEN = 10  # C3 01 + 8-byte fingerprint (schemas/codec.py)


def _decoder():
    """The compiled decoder when processors/ runs compiled (as the worker), else fastavro."""
    if processors.NATIVE:
        return lambda value: decode_message(value, SOE_HEADER_LEN)
    import fastavro  # noqa: F401  (schemas.codec needs it)

    from schemas.codec import AvroCodec

    return AvroCodec("payment_event").decode


def _broker(env: os._Environ[str]) -> Any:
    """The address, with the SASL login bench/throughput.py passes when Kafka is secured."""
    if not env.get("CB_KAFKA_USERNAME"):
        return env["CB_KAFKA_BOOTSTRAP"]
    return ConnectionConfig(
        bootstrap_servers=env["CB_KAFKA_BOOTSTRAP"],
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism=env.get("CB_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
        sasl_username=env["CB_KAFKA_USERNAME"],
        sasl_password=env["CB_KAFKA_PASSWORD"],
    )


def main() -> None:
    env = os.environ
    state_dir = Path(env.get("CB_STATE_DIR", ".stack/peer-state")) / env["CB_APP_ID"]
    state_dir.mkdir(parents=True, exist_ok=True)
    app = Application(
        broker_address=_broker(env),
        consumer_group=env["CB_APP_ID"],
        auto_offset_reset="earliest",
        commit_interval=1.0,
        state_dir=str(state_dir),
        rocksdb_options=RocksDBOptions(dumps=bytes, loads=bytes),  # raw bytes: our own format
        loglevel="WARNING",
    )
    topic = app.topic(
        env["CB_TOPIC_PAYMENTS"], key_deserializer="bytes", value_deserializer="bytes"
    )
    engine = Engine(rules_mod.load())
    usd = engine.rules.usd_per_unit
    decode = _decoder()
    cache = StateCache(int(env.get("CB_STATE_CACHE_ACCOUNTS", "20000")))
    max_skew = 300_000

    def step(value: bytes, state) -> None:
        now_ms = int(time.time() * 1000)
        try:
            event = to_event(decode(value), now_ms, max_skew, usd)
        except (InvalidEvent, ValueError, IndexError):
            return  # the worker dead-letters these; the preloaded topic has none
        key = event.account_id.encode()
        account = cache.load(key, state.get(b"s"))
        result = engine.step(account, event, now_ms)
        if not result.duplicate:
            state.set(b"s", cache.store(key, account))

    app.dataframe(topic).update(step, stateful=True)
    app.run()


if __name__ == "__main__":
    main()
