"""`chainbreaker publish FILE`: validate payment events from a file and publish the valid ones."""

from __future__ import annotations

import argparse
import sys

from config.settings import load
from publisher.files import Rejection, prepare, read_records, text_lines
from publisher.identifiers import hash_rows
from publisher.producer import Publisher
from streams import metrics


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
        "--hash-identifiers",
        action="store_true",
        help="JSON lines may carry clear identifiers (holder_phone, holder_email, "
        "holder_address, device_id, wallet_address, passenger_names, counterparty.name): "
        "normalise and hash them under CB_HASH_KEY here, so only the hashes are sent",
    )
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
            src = sys.stdin.buffer
        else:
            with open(args.file, "rb") as fh:
                total = sum(1 for _ in fh)
            src = open(args.file, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        print(f"chainbreaker publish: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2

    published = rejected = 0
    bar = tqdm(total=total, unit="line", file=sys.stderr, disable=None, desc="publish")
    try:
        with Publisher(settings, args.topic) as pub:
            rows = read_records(text_lines(src), fmt)
            if args.hash_identifiers:
                rows = hash_rows(rows, settings.hash_key)
            for item in prepare(rows, pub.codec, settings.max_future_skew_s * 1000):
                if isinstance(item, Rejection):
                    tqdm.write(str(item), file=sys.stderr)
                    rejected += 1
                else:
                    pub.send_encoded(item.key, item.value)
                    published += 1
                bar.update(item.line - bar.n)
            failures = pub.flush(60.0)
    finally:
        bar.close()
        if src is not sys.stdin.buffer:
            src.close()
    for err in pub.errors:
        print(f"delivery failed: {err}", file=sys.stderr)
    print(
        f"publish: {published} published, {rejected} rejected, {failures} delivery failures "
        f"(topic {pub.topic})"
    )
    return 1 if rejected or failures else 0
