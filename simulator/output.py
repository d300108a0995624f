"""Where a simulated run goes on disk: events as JSON lines or an Avro container file, the
truth, and the rule set with the world's watchlists (what `chainbreaker backtest` reads)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from simulator.simulation import ScenarioTruth
from simulator.watchlists import Watchlists, rules_overlay


def write_jsonl(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """One compact JSON object per line; returns how many were written."""
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    count = 0
    for rec in records:
        out.write(dumps(rec))
        out.write("\n")
        count += 1
    return count


def write_avro(records: Iterable[dict[str, Any]], path: Path) -> int:
    """Records as an Avro object container file of the payment_event schema (uncompressed:
    it reads fastest); returns how many were written."""
    import fastavro

    from schemas.codec import schema_json

    count = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal count
        for rec in records:
            count += 1
            yield rec

    schema = fastavro.parse_schema(schema_json("payment_event.avsc"))
    with open(path, "wb") as f:
        fastavro.writer(f, schema, counted(), codec="null")
    return count


def write_truth(truth: list[ScenarioTruth], path: Path) -> None:
    """The labels as a JSON list (backtest.reading.load_truth reads it)."""
    path.write_text(json.dumps([asdict(s) for s in truth], indent=1) + "\n")


def write_rules(watchlists: Watchlists, path: Path, label: str) -> None:
    """The default rule set plus the world's watchlists, version suffixed ``+<label>``."""
    from processors.rules import default_document

    overlay = rules_overlay(default_document(), watchlists, label)
    path.write_text(json.dumps(overlay, indent=1) + "\n")
