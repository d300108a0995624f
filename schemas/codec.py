"""Avro codec for the payment and alert contracts.

Schemas are parsed once, at construction: fastavro re-parsing per call is about a thousand
times slower. Two framings:

* Avro single-object encoding (default): 0xC3 0x01, the 8-byte little-endian CRC-64-AVRO
  fingerprint of the writer schema, then the binary body. Needs no registry; the reader keeps
  every schema version it knows by fingerprint, so events from older publishers still decode.
* Confluent wire format (when CB_SCHEMA_REGISTRY_URL is set): 0x00, a 4-byte big-endian schema
  id, then the body. Writer schemas are fetched from the registry once per id and cached.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import fastavro
from fastavro.schema import to_parsing_canonical_form

SOE_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = 0

# Every version of each contract this build can read, oldest first; the last is what it writes.
SCHEMA_VERSIONS: dict[str, tuple[str, ...]] = {
    "payment_event": ("payment_event.v1.avsc", "payment_event.avsc"),
    "alert": ("alert.v1.avsc", "alert.avsc"),
    "disposition": ("disposition.avsc",),
    "intel_entry": ("intel_entry.avsc",),
}


class RegistryUnavailable(RuntimeError):
    """The schema registry could not be asked. Not the event's fault: retry, don't dead-letter."""


class DecodeError(ValueError):
    """Bytes that cannot become a record. ``reason`` is a short, bounded label for metrics."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


_EMPTY64 = 0xC15D213AA4D7A795


def _crc64_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY64 & -(fp & 1))
        table.append(fp)
    return table


_CRC64_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> int:
    """The Rabin fingerprint the Avro spec defines for single-object encoding."""
    fp = _EMPTY64
    for byte in data:
        fp = (fp >> 8) ^ _CRC64_TABLE[(fp ^ byte) & 0xFF]
    return fp


@cache
def schema_json(filename: str) -> dict[str, Any]:
    return json.loads(resources.files("schemas").joinpath(filename).read_text())


@dataclass(frozen=True)
class SchemaVersion:
    filename: str
    parsed: dict[str, Any]
    canonical: str
    fingerprint: bytes  # 8 bytes, little-endian, as single-object encoding carries it


def load_versions(name: str) -> list[SchemaVersion]:
    if name not in SCHEMA_VERSIONS:
        raise KeyError(f"unknown schema {name!r}; known: {', '.join(SCHEMA_VERSIONS)}")
    out = []
    for filename in SCHEMA_VERSIONS[name]:
        raw = schema_json(filename)
        parsed = fastavro.parse_schema(raw, _write_hint=True, _force=True)
        canonical = to_parsing_canonical_form(raw)
        fingerprint = struct.pack("<Q", crc64_avro(canonical.encode()))
        out.append(SchemaVersion(filename, parsed, canonical, fingerprint))
    return out


class AvroCodec:
    """Encodes with the newest version of a contract, decodes any version it knows."""

    def __init__(self, name: str, framing: str = "single-object", registry: Any = None) -> None:
        versions = load_versions(name)
        self.name = name
        self.current = versions[-1]
        self._schema = self.current.parsed
        self._by_fingerprint = {v.fingerprint: v for v in versions}
        if framing == "single-object":
            self._header = SOE_MAGIC + self.current.fingerprint
            self.decode = self._decode_soe  # type: ignore[method-assign]
        elif framing == "confluent":
            if registry is None:
                raise ValueError("confluent framing needs a schema registry")
            self._registry = registry
            schema_id = registry.register(f"{name}-value", self.current.canonical)
            self._header = struct.pack(">bI", CONFLUENT_MAGIC, schema_id)
            self._by_id: dict[int, dict[str, Any] | None] = {schema_id: None}
            self.decode = self._decode_confluent  # type: ignore[method-assign]
        else:
            raise ValueError(f"unknown framing {framing!r}")
        self.framing = framing

    def encode(self, record: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(self._header)
        fastavro.schemaless_writer(buf, self._schema, record)
        return buf.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:  # replaced per framing in __init__
        raise NotImplementedError

    def _read(self, data: bytes, offset: int, writer: dict[str, Any] | None) -> dict[str, Any]:
        try:
            buf = io.BytesIO(data)
            buf.seek(offset)
            if writer is None:
                record = fastavro.schemaless_reader(buf, self._schema, None)
            else:
                record = fastavro.schemaless_reader(buf, writer, self._schema)
        except Exception as exc:  # fastavro raises many types on truncated or corrupt input
            raise DecodeError("undecodable", f"{type(exc).__name__}: {exc}") from None
        if buf.tell() != len(data):
            raise DecodeError(
                "undecodable", f"{len(data) - buf.tell()} trailing bytes after record"
            )
        return record  # type: ignore[return-value]

    def _decode_soe(self, data: bytes) -> dict[str, Any]:
        if len(data) < 10 or data[:2] != SOE_MAGIC:
            raise DecodeError("undecodable", "not Avro single-object encoding (bad magic)")
        version = self._by_fingerprint.get(data[2:10])
        if version is None:
            raise DecodeError("unknown_schema", f"schema fingerprint {data[2:10].hex()} unknown")
        writer = None if version is self.current else version.parsed
        return self._read(data, 10, writer)

    def _decode_confluent(self, data: bytes) -> dict[str, Any]:
        if len(data) < 5 or data[0] != CONFLUENT_MAGIC:
            raise DecodeError("undecodable", "not Confluent wire format (bad magic)")
        schema_id = struct.unpack_from(">I", data, 1)[0]
        if schema_id not in self._by_id:
            try:
                text = self._registry.schema_text(schema_id)
            except LookupError as exc:
                raise DecodeError("unknown_schema", f"schema id {schema_id}: {exc}") from None
            except Exception as exc:
                raise RegistryUnavailable(f"schema id {schema_id}: {exc}") from exc
            self._by_id[schema_id] = fastavro.parse_schema(json.loads(text))
        return self._read(data, 5, self._by_id[schema_id])


class ConfluentRegistry:
    """The two registry calls the codec needs, over confluent-kafka's client."""

    def __init__(self, url: str) -> None:
        from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

        self._client = SchemaRegistryClient({"url": url})
        self._schema_cls = Schema

    def register(self, subject: str, schema_text: str) -> int:
        return self._client.register_schema(subject, self._schema_cls(schema_text, "AVRO"))

    def schema_text(self, schema_id: int) -> str:
        """The schema's text; LookupError when the registry says it has no such id."""
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            return self._client.get_schema(schema_id).schema_str
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise LookupError(str(exc)) from None
            raise


def codec_for(name: str, schema_registry_url: str | None) -> AvroCodec:
    """The codec the settings ask for: registry framing only when a registry is configured."""
    if schema_registry_url:
        return AvroCodec(name, "confluent", ConfluentRegistry(schema_registry_url))
    return AvroCodec(name)


Decoder = Callable[[bytes], dict[str, Any]]
