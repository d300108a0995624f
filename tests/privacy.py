"""Scan everything a deployment stores or shows for clear personal identifiers.

Reusable: give it the clear values that went in (phones, e-mails, addresses, names) and point
it at Kafka topics, Redis keys, files (logs, SAR drafts), HTTP pages (metrics, a web desk).
It looks for each value as written and in the forms it is usually transformed into on the
way (lower case; its normalised form, the one the keyed hash is computed from; a phone's bare
digits; URL- and JSON-escaped), in text and in bytes (UTF-8 and UTF-16), and reports where
it found one, with the value masked.

    scan = LeakScan({"phone": "+1 (555) 014-4477", "email": "maria@example.org"})
    scan.kafka_topics(settings, ["payments", "alerts"])
    scan.redis_keys(settings, f"{settings.app_id}:*")
    scan.file(worker_log)
    scan.url("http://127.0.0.1:19464/metrics")
    assert scan.findings == [], scan.report()
"""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from config import clients

MIN_DIGITS = 7  # a phone's digits are searched for on their own only when this many


@dataclass(frozen=True)
class Finding:
    where: str  # e.g. "kafka payments[0]@12 value", "redis app:cases:bank-a 1700-0 alert"
    label: str  # which clear value (its label, never the value)
    form: str  # which form of it matched


@dataclass
class LeakScan:
    clear: dict[str, str]  # label -> clear value
    findings: list[Finding] = field(default_factory=list)
    places: int = 0  # how many places (messages, keys, files, pages) were scanned
    scanned_bytes: int = 0

    def __post_init__(self) -> None:
        self._needles: list[tuple[str, str, bytes]] = []  # (label, form, bytes)
        for label, value in self.clear.items():
            for form, text in _forms(value).items():
                for encoded in {text.encode(), text.encode("utf-16-le")}:
                    self._needles.append((label, form, encoded))

    # ---------------------------------------------------------------- the haystacks

    def data(self, where: str, data: bytes | str | None) -> list[Finding]:
        """Scan one blob; return (and keep) what was found in it."""
        if data is None:
            return []
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        self.places += 1
        self.scanned_bytes += len(data)
        lowered = data.lower()
        found = []
        for label, form, needle in self._needles:
            if needle in data or needle.lower() in lowered:
                found.append(Finding(where, label, form))
        self.findings += found
        return found

    def file(self, path: Path) -> list[Finding]:
        return self.data(f"file {path}", Path(path).read_bytes())

    def url(self, url: str) -> list[Finding]:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return self.data(f"page {url}", resp.read())

    def kafka_topics(self, settings, topics: list[str], timeout: float = 60) -> int:
        """Every record of each topic from the beginning (key, value, headers), read as the
        operator; returns how many records were read."""
        import time

        from confluent_kafka import Consumer, KafkaError, TopicPartition

        c = Consumer(
            clients.kafka_config(
                settings,
                clients.ADMIN,
                {
                    "group.id": f"{settings.app_id}-leakscan",
                    "enable.partition.eof": True,
                    "enable.auto.commit": False,
                },  # fmt: skip
            )
        )
        count = 0
        try:
            for topic in topics:
                meta = c.list_topics(topic, timeout=30).topics[topic]
                if meta.error is not None:
                    raise AssertionError(f"topic {topic}: {meta.error}")
                parts = sorted(meta.partitions)
                c.assign([TopicPartition(topic, p, 0) for p in parts])
                pending, deadline = set(parts), time.monotonic() + timeout
                while pending:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"topic {topic} not read to its end")
                    m = c.poll(0.5)
                    if m is None:
                        continue
                    if m.error():
                        if m.error().code() == KafkaError._PARTITION_EOF:
                            pending.discard(m.partition())
                            continue
                        raise AssertionError(m.error())
                    where = f"kafka {topic}[{m.partition()}]@{m.offset()}"
                    headers = b"".join(k.encode() + (v or b"") for k, v in (m.headers() or []))
                    self.data(where, (m.key() or b"") + b"\n" + (m.value() or b"") + headers)
                    count += 1
                c.unassign()
        finally:
            c.close()
        return count

    def redis_keys(self, settings, pattern: str) -> int:
        """Every key matching ``pattern`` and everything in it, read as the operator."""
        import redis

        r = redis.Redis.from_url(clients.redis_url(settings))
        count = 0
        try:
            for key in r.scan_iter(match=pattern, count=500):
                kind = r.type(key).decode()
                where = f"redis {key.decode(errors='replace')}"
                if kind == "string":
                    blob = r.get(key)
                elif kind == "hash":
                    blob = b"\n".join(k + b"=" + v for k, v in r.hgetall(key).items())
                elif kind == "set":
                    blob = b"\n".join(r.smembers(key))
                elif kind == "zset":
                    blob = b"\n".join(m for m, _ in r.zrange(key, 0, -1, withscores=True))
                elif kind == "list":
                    blob = b"\n".join(r.lrange(key, 0, -1))
                elif kind == "stream":
                    blob = b"\n".join(
                        entry + b" " + b" ".join(k + b"=" + v for k, v in fields.items())
                        for entry, fields in r.xrange(key)
                    )
                else:
                    blob = r.dump(key)
                self.data(where, (key or b"") + b"\n" + (blob or b""))
                count += 1
        finally:
            r.close()
        return count

    def report(self) -> str:
        lines = [f"{f.where}: {f.label} ({f.form})" for f in self.findings[:50]]
        more = len(self.findings) - 50
        return "\n".join(lines + ([f"... and {more} more"] if more > 0 else []))


def _forms(value: str) -> dict[str, str]:
    """The value as written and as it is usually transformed (only forms long enough to
    mean something: a 3-letter fragment would match everywhere)."""
    forms = {"as written": value, "lower case": value.lower(), "casefolded": value.casefold()}
    forms["url-encoded"] = urllib.parse.quote(value)
    forms["url-encoded (+)"] = urllib.parse.quote_plus(value)
    forms["json-escaped"] = json.dumps(value)[1:-1]
    collapsed = " ".join(re.sub(r"[^\w]+", " ", value.casefold()).split())
    forms["normalised words"] = collapsed
    digits = re.sub(r"\D", "", value)
    if len(digits) >= MIN_DIGITS and "@" not in value:
        forms["digits"] = digits
        forms["E.164"] = "+" + digits
    if "@" in value:
        forms["local part"] = value.split("@", 1)[0]
    return {name: text for name, text in forms.items() if len(text) >= 6}
