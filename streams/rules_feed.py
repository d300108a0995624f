"""Rule hot reload: the rule set in force lives on a compacted topic; workers follow it.

Publishing (`chainbreaker rules publish FILE`) validates on the publisher's machine first, so
an analyst learns about a bad key before anything reaches the fleet. Workers still validate
every record they read: a record written by something else, or by a newer build that knows
keys this one does not, is rejected with the same key-path message and the rule set in force
stays. One key (``active``) on a one-partition topic gives every worker the same total order
of rule sets; compaction keeps the newest.

The worker reads the topic to its end before it consumes payments (so a restarted worker
runs the rule set the fleet runs, not the one in CB_RULES_FILE), then follows it from a
thread. The thread only parses; the swap happens on the event loop between batches.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

from config import clients
from config.settings import Settings, load
from processors import rules as rules_mod
from streams.compacted import CompactedTopicFollower
from streams.topics import ensure_topics

log = logging.getLogger("chainbreaker.rules")

RULES_KEY = b"active"


@dataclass(frozen=True, slots=True)
class Rejected:
    offset: int
    reason: str


def decode(value: bytes | None) -> rules_mod.RuleSet:
    """One record of the rules topic -> a validated RuleSet, or RuleError naming the key."""
    if value is None:
        raise rules_mod.RuleError("rules: record is a tombstone (no rule set); ignored")
    try:
        doc = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise rules_mod.RuleError(f"rules: not valid JSON ({exc})") from None
    return rules_mod.parse(doc)


class RulesFeed(CompactedTopicFollower):
    """Follows the rules topic; hands the newest valid rule set to whoever polls ``take``."""

    name = "rules-feed"

    def __init__(
        self, settings: Settings, on_rejected=None, on_accepted=None, role: str = clients.WORKER
    ) -> None:
        super().__init__(settings, settings.topic_rules, role)
        self._pending: rules_mod.RuleSet | None = None
        self._lock = threading.Lock()
        self._on_rejected = on_rejected or (lambda rejected: None)
        self._on_accepted = on_accepted or (lambda ruleset: None)
        self.rejected: list[Rejected] = []

    def handle(self, message) -> None:
        try:
            ruleset = decode(message.value())
        except rules_mod.RuleError as exc:
            rejected = Rejected(message.offset(), str(exc))
            self.rejected.append(rejected)
            log.error(
                "rule set at %s offset %d rejected, the one in force stays: %s",
                self.topic, message.offset(), exc,
            )  # fmt: skip
            self._on_rejected(rejected)
            return
        with self._lock:
            self._pending = ruleset
        self._on_accepted(ruleset)

    def catch_up(self, timeout: float = 30.0) -> rules_mod.RuleSet | None:
        """Read to the end of the topic now; the newest valid rule set, or None if none."""
        super().catch_up(timeout)
        return self.take()

    def take(self) -> rules_mod.RuleSet | None:
        """The rule set that arrived since the last call, if any (called on the event loop)."""
        with self._lock:
            ruleset, self._pending = self._pending, None
        return ruleset


def publish(settings: Settings, path: Path) -> rules_mod.RuleSet:
    """Validate ``path`` and make it the rule set in force; raises RuleError if invalid."""
    ruleset = rules_mod.load(path)  # validated here, before anything leaves this machine
    value = json.dumps(json.loads(Path(path).read_text()), separators=(",", ":")).encode()
    ensure_topics(settings, role=clients.RULES, only=(settings.topic_rules,))
    # As a rule owner (the rules role): the only principal that may write the rules topic.
    producer = Producer(
        clients.kafka_config(settings, clients.RULES, {"acks": "all", "enable.idempotence": True})
    )
    failures: list[Any] = []
    producer.produce(
        settings.topic_rules,
        key=RULES_KEY,
        value=value,
        on_delivery=lambda err, _msg: failures.append(err) if err else None,
    )
    if producer.flush(30) != 0 or failures:
        raise RuntimeError(f"rule set not delivered to {settings.topic_rules!r}: {failures}")
    return ruleset


def latest(settings: Settings) -> tuple[rules_mod.RuleSet | None, list[Rejected]]:
    feed = RulesFeed(settings, role=clients.RULES)
    try:
        return feed.catch_up(), feed.rejected
    finally:
        feed.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="chainbreaker rules",
        description="Validate, publish (hot reload) or show the rule set workers run.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_validate = sub.add_parser("validate", help="check a rule file; prints its version")
    p_validate.add_argument("file", type=Path)
    p_publish = sub.add_parser("publish", help="validate, then make it the rule set in force")
    p_publish.add_argument("file", type=Path)
    sub.add_parser("show", help="the rule set in force on the rules topic")
    args = parser.parse_args(argv)

    if args.command in ("validate", "publish"):
        if not args.file.is_file():
            print(f"chainbreaker rules: {args.file}: no such file")
            return 2
        try:
            if args.command == "validate":
                ruleset = rules_mod.load(args.file)
                print(f"valid: version {ruleset.version}, {len(ruleset.detectors)} indicators")
                return 0
            settings = load()
            ruleset = publish(settings, args.file)
        except rules_mod.RuleError as exc:
            print(f"chainbreaker rules: rejected, nothing published: {exc}")
            return 2
        print(
            f"published rule set {ruleset.version} ({len(ruleset.detectors)} indicators) to "
            f"{settings.topic_rules}; running workers switch to it between batches"
        )
        return 0

    settings = load()
    ensure_topics(settings, role=clients.RULES, only=(settings.topic_rules,))
    ruleset, rejected = latest(settings)
    for r in rejected:
        print(f"offset {r.offset}: rejected: {r.reason}")
    if ruleset is None:
        print(f"no rule set on {settings.topic_rules}: workers run CB_RULES_FILE or the default")
        return 0
    codes = ", ".join(d.code for d in ruleset.detectors)
    print(f"in force: version {ruleset.version}; indicators: {codes}")
    return 0
