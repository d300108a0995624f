"""`chainbreaker stack up|down|status [--wipe]`: the local Kafka broker and Redis server.

Exit code 0 on success (for status: everything running), 1 otherwise; failures print the
StackError message, not a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from config import settings as settings_module
from config.settings import ConfigError
from stack.process import StackError
from stack.services import down, status, up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="chainbreaker stack",
        description="Run the local Kafka broker and Redis server on 127.0.0.1.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start Kafka and Redis (no-op if they already run)")
    start.add_argument(
        "--with-prometheus",
        action="store_true",
        help="also start Prometheus (Debian package) scraping the worker; or CB_PROMETHEUS=true",
    )
    stop = commands.add_parser("down", help="stop them; data is kept")
    stop.add_argument(
        "--wipe", action="store_true", help="also delete the Kafka, Redis and worker data"
    )
    commands.add_parser("status", help="show what runs where (exit 1 if anything is down)")
    commands.add_parser(
        "browser", help="install Chromium, chromedriver and pdftotext for the tests when missing"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)

    log = logging.getLogger("stack")  # the parent of every stack module's logger
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    try:
        s = settings_module.load()
        if args.command == "browser":
            from stack.packages import ensure_chromium, ensure_pdftotext

            browser, driver = ensure_chromium()
            print(f"browser: {browser}\ndriver:  {driver}\npdftotext: {ensure_pdftotext()}")
            return 0
        if args.command == "up":
            report = up(s, with_prometheus=args.with_prometheus or s.prometheus)
        elif args.command == "down":
            report = down(s, wipe=args.wipe)
        else:
            report = status(s)
    except (StackError, ConfigError) as exc:
        print(f"chainbreaker stack {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"chainbreaker stack {args.command}: interrupted", file=sys.stderr)
        return 1
    print(report.render())
    if args.command == "status" and not report.all_running:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
