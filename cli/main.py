"""The `chainbreaker` command: one entry point, a subcommand per job.

Each subcommand is its package's own `main(argv)`; the modules are imported lazily so
`chainbreaker stack up` does not pay for Faust.
"""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "stack": ("stack.cli", "Start, stop or inspect the local Kafka + Redis stack"),
    "topics": ("streams.topics", "Create the payments, alerts and dead-letter topics"),
    "worker": ("streams.worker", "Run the Faust detection worker (and its case router)"),
    "router": ("streams.router", "Run the case router alone (alerts -> Redis Streams)"),
    "publish": ("publisher.cli", "Publish payment events from a JSON-lines or CSV file"),
    "simulate": ("simulator.cli", "Generate (or publish) simulated traffic with scenarios"),
    "rules": ("streams.rules_feed", "Validate, publish (hot reload) or show the rule set"),
    "intel": ("streams.intel_feed", "Add, remove, import or list shared-intelligence identifiers"),
    "backtest": ("backtest.cli", "Run the detectors offline over a file and score them"),
    "demo": ("cli.demo", "Stack + worker + simulated traffic; prints alerts as they land"),
    "access": ("access.cli", "Operator: the app's Kafka principals, ACLs and Redis users"),
    "cases": (
        "institutions.cli",
        "Institutions: read, show, dispose, SAR-draft cases; grant access",
    ),
    "desk": ("desk.cli", "Serve the analysts' web desk (case queue, SAR drafts, dispositions)"),
}


def usage() -> str:
    lines = ["usage: chainbreaker <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0
    if args[0] not in COMMANDS:
        print(f"chainbreaker: unknown command {args[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    from config.settings import ConfigError

    module = importlib.import_module(COMMANDS[args[0]][0])
    try:
        return int(module.main(args[1:]) or 0)
    except ConfigError as exc:
        print(f"chainbreaker: configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
