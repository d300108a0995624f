"""Payment events from a JSON-lines or CSV file, checked line by line before anything is sent.

Why: a record the worker would reject only becomes a dead letter there, far from whoever
produced the file. Rejecting it here with its line number and the same reasons the worker
uses (processors.validation) lets the sender fix the file, while the valid lines still go out.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from processors.validation import InvalidEvent, to_event
from schemas.codec import schema_json


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


# A byte that is not UTF-8, as text_lines() keeps it (surrogateescape).
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
NOT_UTF8 = RecordError("undecodable", "the line is not UTF-8 text")


def text_lines(binary: Iterable[bytes]) -> Iterator[str]:
    """Lines of a file read as bytes, decoded one by one: a byte-order mark at the start is
    dropped (spreadsheets write one), and a line that is not UTF-8 keeps its bad bytes as
    lone surrogates so that the readers reject that line, not the whole file."""
    first = True
    for raw in binary:
        if first:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
            first = False
        yield raw.decode("utf-8", "surrogateescape")


def read_jsonl(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any] | RecordError]]:
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if n == 1:
            line = line.removeprefix("\ufeff")
        if _NOT_UTF8.search(line):
            yield n, NOT_UTF8
            continue
        try:
            obj = json.loads(line.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            yield n, RecordError("undecodable", f"not JSON: {exc.msg} at column {exc.colno}")
            continue
        except RecursionError:
            yield n, RecordError("undecodable", "not a payment: JSON nested too deeply")
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
    """Flat rows: nested fields as dotted columns (merchant.mcc), empty cell = null/default.

    A row the CSV reader cannot take (a cell over its 128 KB limit) or that is not UTF-8 is
    rejected with its line number and reading goes on; a quote left open runs to the end of
    the file, as CSV defines, and that last row is rejected."""
    reader = csv.reader(_bom_stripped(lines))
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        yield 1, RecordError("undecodable", f"CSV header: {exc}")
        return
    try:
        if _NOT_UTF8.search("".join(header)):
            raise NOT_UTF8
        columns = _csv_columns(header)
    except RecordError as exc:
        yield 1, exc
        return
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line, start = start, reader.line_num + 1
            yield line, RecordError("undecodable", f"CSV: {exc}")
            continue
        line, start = start, reader.line_num + 1
        if not row or all(not c.strip() for c in row):
            continue
        if any(_NOT_UTF8.search(cell) for cell in row):
            yield line, NOT_UTF8
            continue
        if len(row) != len(columns):
            yield line, RecordError("undecodable", f"expected {len(columns)} cells, got {len(row)}")
            continue
        try:
            yield line, _csv_record(columns, row)
        except RecordError as exc:
            yield line, exc


def _bom_stripped(lines: Iterable[str]) -> Iterator[str]:
    first = True
    for line in lines:
        if first:
            line = line.removeprefix("\ufeff")
            first = False
        yield line


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
