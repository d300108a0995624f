"""Publish payment events to the payments topic, from code or from a JSON-lines or CSV file.

Why files are checked line by line before anything is sent: a record the worker would reject
only becomes a dead letter there, far from whoever produced the file. Rejecting it here with
its line number and the same reasons the worker uses (processors.validation) lets the sender
fix the file, while the valid lines still go out.

Messages are keyed by account_id (the worker keeps per-account state in the partition the key
selects) and produced idempotently with acks=all, so a retry never duplicates or reorders.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from confluent_kafka import KafkaException, Producer

from config.names import PARTITIONER
from config.settings import Settings, load
from processors.validation import InvalidEvent, to_event
from schemas.codec import AvroCodec, codec_for, schema_json
from streams import metrics

# Tried in order; librdkafka builds without one of them reject it at configuration time.
COMPRESSIONS = ("zstd", "lz4")


class Publisher:
    """A confluent-kafka producer that encodes payment records and counts deliveries."""

    def __init__(
        self,
        settings: Settings,
        topic: str | None = None,
        codec: AvroCodec | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.topic = topic or settings.topic_payments
        self.codec = codec or codec_for("payment_event", settings.schema_registry_url)
        self.delivered = 0
        self.failed = 0
        self.errors: list[str] = []  # the first few delivery errors, for the summary
        base = {
            "bootstrap.servers": settings.kafka_bootstrap,
            "client.id": "chainbreaker-publish",
            "partitioner": PARTITIONER,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "batch.size": 256 * 1024,
            **(config or {}),
        }
        self.compression = "none"
        for codec_name in COMPRESSIONS:
            try:
                self._producer = Producer({**base, "compression.type": codec_name})
                self.compression = codec_name
                break
            except KafkaException:
                continue
        else:
            self._producer = Producer(base)

    def _on_delivery(self, err: Any, _msg: Any) -> None:
        if err is None:
            self.delivered += 1
            metrics.PUBLISH_SENT.inc()
            return
        self.failed += 1
        metrics.PUBLISH_FAILED.inc()
        if len(self.errors) < 5:
            self.errors.append(str(err))

    def send(self, record: dict[str, Any]) -> None:
        self.send_encoded(record["account_id"].encode(), self.codec.encode(record))

    def send_encoded(self, key: bytes, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(self.topic, value, key, on_delivery=self._on_delivery)
                break
            except BufferError:  # local queue full: let deliveries drain it, then retry
                metrics.PUBLISH_RETRIED.inc()
                self._producer.poll(0.1)
        self._producer.poll(0)

    def poll(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds while serving delivery callbacks (used for pacing)."""
        self._producer.poll(timeout)

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for outstanding deliveries; failures include messages still queued at timeout."""
        remaining = self._producer.flush(timeout)
        return self.failed + remaining

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


# --- reading files ----------------------------------------------------------------------------


class RecordError(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Prepared:
    line: int
    key: bytes
    value: bytes


@dataclass(frozen=True)
class _Field:
    name: str
    kind: str  # int | bool | str | enum | list | record
    nullable: bool
    has_default: bool
    symbols: tuple[str, ...] = ()
    sub: dict[str, _Field] = field(default_factory=dict)


def _fields(record: dict[str, Any]) -> dict[str, _Field]:
    """The contract's fields, read from the .avsc so the checks follow the schema's version."""
    out = {}
    for f in record["fields"]:
        t = f["type"]
        nullable = isinstance(t, list) and "null" in t
        if isinstance(t, list):
            t = next(x for x in t if x != "null")
        name = t["type"] if isinstance(t, dict) else t
        kind = {"long": "int", "int": "int", "boolean": "bool", "array": "list"}.get(name, name)
        kind = "str" if kind == "string" else kind
        out[f["name"]] = _Field(
            f["name"],
            kind,
            nullable,
            "default" in f,
            tuple(t.get("symbols", ())) if isinstance(t, dict) else (),
            _fields(t) if kind == "record" else {},
        )
    return out


FIELDS = _fields(schema_json("payment_event.avsc"))


def _check_shape(rec: dict[str, Any], fields: dict[str, _Field] = FIELDS, prefix: str = "") -> None:
    """Name the field a typo or omission breaks, before Avro reports it without a name."""
    unknown = sorted(set(rec) - set(fields))
    if unknown:
        raise RecordError("invalid_field", f"unknown field {prefix}{unknown[0]}")
    for name, f in fields.items():
        value = rec.get(name)
        if value is None:
            if name not in rec and f.has_default:
                continue
            if not f.nullable:
                raise RecordError("missing_field", f"{prefix}{name} is missing or null")
            continue
        if f.kind == "record":
            if not isinstance(value, dict):
                raise RecordError("invalid_field", f"{prefix}{name} must be an object or null")
            _check_shape(value, f.sub, f"{prefix}{name}.")
        elif f.kind == "enum" and value not in f.symbols:
            raise RecordError(
                "invalid_field",
                f"{prefix}{name} must be one of {', '.join(f.symbols)}, got {value!r}",
            )


def read_jsonl(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            yield n, RecordError("undecodable", f"not JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(obj, dict):
            yield n, RecordError("undecodable", "each line must hold one JSON object")
            continue
        yield n, obj


def _cell(f: _Field, column: str, raw: str) -> Any:
    if f.kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise RecordError(
                "invalid_field", f"{column} must be an integer, got {raw!r}"
            ) from None
    if f.kind == "bool":
        flag = raw.lower()
        if flag in ("true", "1", "yes"):
            return True
        if flag in ("false", "0", "no"):
            return False
        raise RecordError("invalid_field", f"{column} must be true or false, got {raw!r}")
    if f.kind == "list":
        return [part.strip() for part in raw.split(";") if part.strip()]
    return raw


def _csv_columns(header: list[str]) -> list[tuple[str, str | None, _Field]]:
    columns, seen = [], set()
    for column in header:
        column = column.strip()
        top, _, sub = column.partition(".")
        f = FIELDS.get(top)
        if f is not None and sub and f.kind == "record":
            f = f.sub.get(sub)
        elif f is not None and (sub or f.kind == "record"):
            f = None
        if f is None:
            raise RecordError("invalid_field", f"unknown column {column!r}")
        if column in seen:
            raise RecordError("invalid_field", f"column {column!r} appears twice")
        seen.add(column)
        columns.append((top, sub or None, f))
    return columns


def read_csv(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    """Flat rows: nested fields as dotted columns (merchant.mcc), empty cell = null/default."""
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    try:
        columns = _csv_columns(header)
    except RecordError as exc:
        yield 1, exc
        return
    start = reader.line_num + 1
    for row in reader:
        line, start = start, reader.line_num + 1
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(columns):
            yield line, RecordError("undecodable", f"expected {len(columns)} cells, got {len(row)}")
            continue
        try:
            yield line, _csv_record(columns, row)
        except RecordError as exc:
            yield line, exc


def _csv_record(columns: list[tuple[str, str | None, _Field]], row: list[str]) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for (top, sub, f), raw in zip(columns, row, strict=True):
        raw = raw.strip()
        value = None if raw == "" else _cell(f, f"{top}.{sub}" if sub else top, raw)
        if sub is not None:
            nested.setdefault(top, {})[sub] = value
        elif value is not None or not f.has_default:
            rec[top] = value
    for top, sub_values in nested.items():
        if all(v is None for v in sub_values.values()):
            rec[top] = None
        else:
            rec[top] = {name: sub_values.get(name) for name in FIELDS[top].sub}
    return rec


class _Encoder(Protocol):
    def encode(self, record: dict[str, Any]) -> bytes: ...


def prepare(
    rows: Iterable[tuple[int, dict[str, Any] | RecordError]],
    codec: _Encoder,
    max_future_skew_ms: int = 300_000,
    clock: Callable[[], int] = lambda: int(time.time() * 1000),
) -> Iterator[Prepared | Rejection]:
    """Each row validated as the worker would, then encoded; or the reason it cannot be."""
    for line, rec in rows:
        if isinstance(rec, RecordError):
            yield Rejection(line, rec.reason, rec.detail)
            continue
        try:
            _check_shape(rec)
            to_event(rec, clock(), max_future_skew_ms)
        except (RecordError, InvalidEvent) as exc:
            yield Rejection(line, exc.reason, exc.detail)
            continue
        try:
            value = codec.encode(rec)
        except Exception as exc:  # fastavro raises ValueError, TypeError, AttributeError, ...
            yield Rejection(line, "invalid_field", f"does not fit the Avro schema: {exc}"[:300])
            continue
        yield Prepared(line, rec["account_id"].encode(), value)


def read_records(
    lines: Iterable[str], fmt: str
) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    return read_csv(lines) if fmt == "csv" else read_jsonl(lines)


# --- command line -----------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    from tqdm import tqdm

    p = argparse.ArgumentParser(
        prog="chainbreaker publish",
        description="Validate payment events from a file and publish the valid ones; "
        "every rejected line is reported with its number and reason.",
    )
    p.add_argument("file", help="JSON lines or CSV file ('-' for stdin)")
    p.add_argument("--format", choices=("jsonl", "csv"), help="default: from the file suffix")
    p.add_argument("--topic", help="default: CB_TOPIC_PAYMENTS")
    p.add_argument(
        "--metrics-port",
        type=int,
        help="serve Prometheus metrics (sent, failed, retried) on this port while publishing",
    )
    args = p.parse_args(argv)
    fmt = args.format or ("csv" if args.file.lower().endswith(".csv") else "jsonl")
    settings = load()
    if args.metrics_port:
        try:
            metrics.serve(args.metrics_port, settings.metrics_bind)
        except OSError as exc:
            print(f"chainbreaker publish: cannot serve metrics: {exc.strerror}", file=sys.stderr)
            return 2

    total = None
    try:
        if args.file == "-":
            src = sys.stdin
        else:
            with open(args.file, "rb") as fh:
                total = sum(1 for _ in fh)
            src = open(args.file, encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        print(f"chainbreaker publish: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2

    published = rejected = 0
    bar = tqdm(total=total, unit="line", file=sys.stderr, disable=None, desc="publish")
    try:
        with Publisher(settings, args.topic) as pub:
            rows = read_records(src, fmt)
            for item in prepare(rows, pub.codec, settings.max_future_skew_s * 1000):
                if isinstance(item, Rejection):
                    tqdm.write(str(item), file=sys.stderr)
                    rejected += 1
                else:
                    pub.send_encoded(item.key, item.value)
                    published += 1
                bar.update(item.line - bar.n)
            failures = pub.flush(60.0)
    except UnicodeDecodeError as exc:
        print(f"chainbreaker publish: {args.file} is not UTF-8 text: {exc}", file=sys.stderr)
        return 2
    finally:
        bar.close()
        if src is not sys.stdin:
            src.close()
    for err in pub.errors:
        print(f"delivery failed: {err}", file=sys.stderr)
    print(
        f"publish: {published} published, {rejected} rejected, {failures} delivery failures "
        f"(topic {pub.topic})"
    )
    return 1 if rejected or failures else 0
