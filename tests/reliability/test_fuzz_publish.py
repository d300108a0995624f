"""Hostile files through `chainbreaker publish` (the real command, to the real broker): every
record is published or rejected with its line number and a reason from the fixed set, the
command never crashes, and the counts add up exactly; what it published is what arrives.

JSON lines: valid lines, broken JSON and quoting, a byte-order mark, nesting 100,000 deep,
a megabyte on one line (garbage, and a record with a megabyte string), lines that are not
UTF-8, NUL bytes, arrays and scalars instead of objects. CSV: the same records with broken
quoting, a byte-order mark, a cell over the reader's limit, NULs, bad UTF-8, wrong cell
counts, and a quote left open on the last line.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import subprocess
import sys
import time
from collections import Counter

import pytest

from processors.validation import REASONS
from schemas.codec import AvroCodec
from tests.reliability.harness import traffic
from tests.support import ROOT, consumer, isolated_env, settings_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CODEC = AvroCodec("payment_event")
REJECTED = re.compile(r"^line (\d+): (\w+): (.+)$")
SUMMARY = re.compile(r"publish: (\d+) published, (\d+) rejected, (\d+) delivery failures")


def hostile_jsonl(records: list[dict], rng: random.Random) -> tuple[bytes, int, int]:
    """(file bytes, records in it, how many of them are valid)."""
    good = [json.dumps(r).encode() for r in records]
    bad = [
        b'{"event_id": "x", "account_id": "unterminated',
        b"{\"event_id\": \"x\", 'single': 'quotes'}",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b"x" * 1_100_000,
        json.dumps({**records[0], "event_id": "huge", "purpose": "p" * 1_100_000}).encode(),
        b"\xff\xfe not utf-8 \xc3\x28",
        json.dumps(records[1]).encode()[:-1] + b"\x00}",
        b"[1, 2, 3]",
        b'"a string"',
        b"null",
        json.dumps({**records[2], "amount_minor": "12.50"}).encode(),
        json.dumps({**records[3], "merchant": [1, 2]}).encode(),
        json.dumps({**records[4], "unknown_field": 1}).encode(),
    ]
    lines = [b"\xef\xbb\xbf" + good[0]] + good[1:]  # a byte-order mark first
    for line in bad:
        lines.insert(rng.randrange(1, len(lines)), line)
    return b"\n".join(lines) + b"\n", len(lines), len(good)


def hostile_csv(records: list[dict], rng: random.Random) -> tuple[bytes, int, int]:
    columns = ["event_id", "event_time", "utc_offset_minutes", "institution_id", "account_id",
               "customer_id", "direction", "channel", "amount_minor", "currency"]  # fmt: skip
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    rows = [out.getvalue().encode()]
    for r in records:
        out.seek(0)
        out.truncate()
        writer.writerow([r[c] for c in columns])
        rows.append(out.getvalue().encode())
    bad = [
        b'"e-q"x,1,0,b,a,c,DEBIT,ATM,100,USD\n',  # text after a closing quote
        b'e-q2,"1,0,b,a,c,DEBIT,ATM,100,USD"\n',  # one quoted cell swallowing the rest
        b"e-q3,1,0,b,a,c,DEBIT,ATM,100\n",  # a cell short
        b"e-q4,1,0,b,a,c,DEBIT,ATM,100,USD,extra\n",  # a cell too many
        b'"' + b"z" * 1_100_000 + b'",1,0,b,a,c,DEBIT,ATM,100,USD\n',  # a megabyte cell
        b"e-q5\x00,1,0,b,a,c,DEBIT,ATM,100,USD\n",  # a NUL
        b"e-q6,\xff\xfe,0,b,a,c,DEBIT,ATM,100,USD\n",  # not UTF-8
        b"e-q7,not-a-time,0,b,a,c,DEBIT,ATM,100,USD\n",
    ]
    data_rows = rows[1:]
    for line in bad:
        data_rows.insert(rng.randrange(0, len(data_rows)), line)
    # A quote opened on the last line runs to the end of the file: one more bad record.
    data_rows.append(b'e-q8,"1,0,b,a,c,DEBIT,ATM,100,USD\n')
    body = b"\xef\xbb\xbf" + rows[0] + b"".join(data_rows)
    return body, len(data_rows), len(records)


def publish(env: dict, path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cli", "publish", str(path)],
        env={**env, "TQDM_DISABLE": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


def read_back(settings, expect: int) -> list:
    c = consumer(settings, f"{settings.app_id}-publish-read")
    c.subscribe([settings.topic_payments])
    got: list = []
    deadline = time.monotonic() + 120
    while len(got) < expect and time.monotonic() < deadline:
        got += [m for m in c.consume(500, timeout=1.0) if m.error() is None]
    got += [m for m in c.consume(500, timeout=3.0) if m.error() is None]
    c.close()
    return got


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_hostile_files_are_published_or_rejected_line_by_line(stack, tmp_path, fmt) -> None:
    from streams.topics import ensure_topics

    env = isolated_env(tmp_path)
    settings = settings_for(env)
    ensure_topics(settings)
    rng = random.Random(4242)
    records = traffic(4242, accounts=60, days=3, scenarios=2, groups=0)[:300]
    make = hostile_jsonl if fmt == "jsonl" else hostile_csv
    body, total, valid = make(records, rng)
    path = tmp_path / f"hostile.{fmt}"
    path.write_bytes(body)

    done = publish(env, path)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    summary = SUMMARY.search(done.stdout)
    assert summary, done.stdout + done.stderr[-2000:]
    published, rejected, failures = map(int, summary.groups())
    reasons = Counter()
    lines = set()
    for line in done.stderr.splitlines():
        match = REJECTED.match(line)
        if match:
            lines.add(int(match.group(1)))
            reasons[match.group(2)] += 1
    assert done.returncode == 1  # some lines were rejected
    assert failures == 0
    assert published + rejected == total, (published, rejected, total)
    assert published == valid and rejected == total - valid
    assert sum(reasons.values()) == rejected and len(lines) == rejected  # one line each
    assert set(reasons) <= set(REASONS), reasons
    got = read_back(settings, published)
    assert len(got) == published
    assert {CODEC.decode(m.value())["event_id"] for m in got} == {r["event_id"] for r in records}
    print(
        f"\npublish fuzz ({fmt}): {total} records, {published} published, {rejected} "
        f"rejected by reason {dict(sorted(reasons.items()))}"
    )
