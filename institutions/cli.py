"""`chainbreaker cases ...`: the operator's grant/revoke and the analyst's queue commands.

Operator commands (grant, revoke) use the admin CB_REDIS_URL. Every other command uses the
institution's own credentials (--credentials FILE, --redis-url, or CB_CASES_REDIS_URL) and
never falls back to the admin URL, so an analyst's shell never holds it. Exit codes: 0 done,
1 the operation failed (message on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import redis

from config import clients
from config.names import disposition_topic
from config.settings import ConfigError, Settings, load
from institutions.client import CaseClient, CaseError
from institutions.credentials import institution_from_username, url_credentials
from institutions.dispositions import OUTCOMES, DispositionError
from processors import sar


def client_from_args(
    redis_url: str | None,
    credentials: str | None,
    institution: str | None,
    consumer: str | None,
    settings: Settings | None = None,
) -> CaseClient:
    """Resolve the institution's credentials: flags, then a credentials file, then
    CB_CASES_REDIS_URL / CB_CASES_INSTITUTION. Never falls back to the admin CB_REDIS_URL."""
    settings = settings or load()
    if credentials:
        client = CaseClient.from_credentials(credentials, consumer, settings)
        if institution and institution != client.institution_id:
            raise CaseError(f"{credentials} is for {client.institution_id}, not {institution}")
        return client
    url = redis_url or settings.cases_redis_url
    if not url:
        raise CaseError(
            "no institution credentials: pass --credentials FILE (written by `chainbreaker "
            "cases grant <institution>`), --redis-url, or set CB_CASES_REDIS_URL"
        )
    institution = (
        institution
        or settings.cases_institution
        or institution_from_username(settings, url_credentials(url)[0])
    )
    if not institution:
        raise CaseError(
            "which institution? pass --institution or set CB_CASES_INSTITUTION (the URL's "
            f"user is not of the form {settings.app_id}.<institution>)"
        )
    return CaseClient(url, settings, institution, consumer)


def _analyst_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    who = common.add_argument_group("institution credentials (never the admin URL)")
    who.add_argument(
        "--credentials", metavar="FILE", help="file written by `cases grant` (0600 env file)"
    )
    who.add_argument("--redis-url", help="the institution's Redis URL; or CB_CASES_REDIS_URL")
    who.add_argument(
        "--institution", help="institution id; default: from the URL's user or the file"
    )
    who.add_argument(
        "--consumer", help="this analyst's consumer name in the group (default user@host)"
    )
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainbreaker cases",
        description="Work an institution's case queue (Redis Stream, consumer group analysts).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = [_analyst_options()]

    p = sub.add_parser("grant", help="operator: create/refresh an institution's Redis ACL user")
    p.add_argument("institution")
    p.add_argument("--rotate", action="store_true", help="new password (old sessions dropped)")
    p.add_argument("--print-url", action="store_true", help="also print the URL (secret)")
    p = sub.add_parser("revoke", help="operator: delete an institution's ACL user")
    p.add_argument("institution")

    p = sub.add_parser("read", parents=common, help="take new cases (XREADGROUP)")
    p.add_argument("--count", type=int, default=10)
    p.add_argument(
        "--block", type=float, default=5.0, help="seconds to wait for a case (0: don't wait)"
    )
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("mine", parents=common, help="cases pending on this consumer")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("pending", parents=common, help="all pending cases, by consumer")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser(
        "reclaim", parents=common, help="take over cases pending too long (XAUTOCLAIM)"
    )
    p.add_argument("--min-idle-s", type=float, default=None, help="default CB_CASE_CLAIM_IDLE_S")
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("claim", parents=common, help="take one pending case onto this consumer")
    p.add_argument("entry_id")
    p = sub.add_parser("ack", parents=common, help="close cases without a disposition")
    p.add_argument("refs", nargs="+", metavar="ENTRY_OR_ALERT_ID")
    p = sub.add_parser("show", parents=common, help="the alert and its evidence")
    p.add_argument("ref", metavar="ENTRY_OR_ALERT_ID")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser(
        "dispose", parents=common, help="record the outcome (Kafka) and close the case"
    )
    p.add_argument("ref", metavar="ENTRY_OR_ALERT_ID")
    p.add_argument("--outcome", required=True, choices=list(OUTCOMES))
    p.add_argument("--analyst", required=True, help="pseudonymous analyst id, never a name")
    p.add_argument("--note", help="free text; no names, phone numbers, e-mail or street addresses")
    p.add_argument("--force", action="store_true", help="record a second decision")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("sar", parents=common, help="SAR narrative draft for a case")
    p.add_argument("ref", metavar="ENTRY_OR_ALERT_ID")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", type=Path, help="write to FILE instead of stdout")
    return parser


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


def _console():
    """Rich console; piped output gets a wide fixed width so grep sees unwrapped cells."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def _operator(args: argparse.Namespace) -> int:
    from institutions import acl

    settings = load()
    admin = redis.Redis.from_url(
        clients.redis_url(settings, clients.OPERATOR), socket_connect_timeout=5
    )
    try:
        if args.command == "revoke":
            gone = acl.revoke(admin, settings, args.institution)
            print(f"{args.institution}: {'user deleted' if gone else 'no such user'}")
            return 0
        grant = acl.grant(admin, settings, args.institution, rotate=args.rotate)
    finally:
        admin.close()
    if args.institution not in settings.institutions:
        print(
            f"note: {args.institution} is not in CB_INSTITUTIONS, so workers do not read its "
            "dispositions topic yet: add it there and restart them (docs/institutions.md)"
        )
    print(
        f"{grant.institution}: ACL user {grant.username} {grant.action}\n"
        f"credentials (0600): {grant.credentials}\n"
        f"give that file to {grant.institution} only; its analysts run e.g.\n"
        f"  chainbreaker cases read --credentials {grant.credentials}"
    )
    if args.print_url:
        print(grant.url)
    return 0


def _analyst(args: argparse.Namespace, client: CaseClient) -> int:
    cmd = args.command
    if cmd in ("read", "mine", "reclaim"):
        if cmd == "read":
            block = int(args.block * 1000) if args.block > 0 else None
            cases = client.read(args.count, block)
            title = f"New cases for {client.consumer}"
        elif cmd == "mine":
            cases, title = client.mine(args.count), f"Pending on {client.consumer}"
        else:
            cases = client.reclaim(args.min_idle_s, args.count)
            title = f"Reclaimed by {client.consumer}"
        if args.json:
            _print_json([c.to_json() for c in cases])
        else:
            from institutions.views import case_list

            case_list(_console(), cases, title)
        return 0
    if cmd == "pending":
        rows = client.pending(args.count)
        if args.json:
            _print_json([r.to_json() for r in rows])
        else:
            from institutions.views import pending_list

            pending_list(_console(), rows)
        return 0
    if cmd == "claim":
        case = client.claim(args.entry_id)
        if case is None:
            print(
                f"{args.entry_id} is not pending (never read, or already closed)", file=sys.stderr
            )
            return 1
        print(f"{case.entry_id} ({case.alert_id}) is now on {client.consumer}")
        return 0
    if cmd == "ack":
        ids = [client.get(ref).entry_id for ref in args.refs]
        closed = client.ack(*ids)
        print(f"closed {closed} of {len(ids)} (the rest were not pending)")
        return 0
    if cmd == "show":
        case = client.get(args.ref)
        outcome = client.outcome(case.alert_id)
        holder = client.holder(case.entry_id)
        if args.json:
            pending = holder.to_json() if holder else None
            _print_json({**case.to_json(), "outcome": outcome, "pending": pending})
        else:
            from institutions.views import case_detail

            case_detail(_console(), case, outcome, holder)
        return 0
    if cmd == "dispose":
        record = client.dispose(args.ref, args.outcome, args.analyst, args.note, force=args.force)
        if args.json:
            _print_json(record)
        else:
            print(
                f"{record['alert_id']}: {record['outcome']} sent to "
                f"{disposition_topic(client.settings.topic_dispositions, client.institution_id)}"
                f" (disposition {record['disposition_id']}); "
                "case closed"
            )
        return 0
    if cmd == "sar":
        draft = sar.draft(client.get(args.ref).alert)
        text = json.dumps(draft.data, indent=2) + "\n" if args.json else draft.markdown
        if args.out:
            args.out.write_text(text)
            print(f"wrote {args.out}")
        else:
            sys.stdout.write(text)
        return 0
    raise AssertionError(cmd)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    where = f"chainbreaker cases {args.command}"
    try:
        if args.command in ("grant", "revoke"):
            return _operator(args)
        client = client_from_args(args.redis_url, args.credentials, args.institution, args.consumer)
        return _analyst(args, client)
    except (CaseError, DispositionError, OSError, ConfigError) as exc:
        print(f"{where}: {exc}", file=sys.stderr)
    except redis.exceptions.NoPermissionError as exc:
        print(f"{where}: not permitted for this institution's user ({exc})", file=sys.stderr)
    except redis.exceptions.AuthenticationError:
        print(
            f"{where}: Redis refused the credentials (revoked, rotated, or Redis restarted "
            "without the users: ask the operator to run `chainbreaker cases grant`)",
            file=sys.stderr,
        )
    except redis.exceptions.ConnectionError as exc:
        print(f"{where}: cannot reach Redis: {exc}", file=sys.stderr)
    except redis.exceptions.ResponseError as exc:
        print(f"{where}: Redis said: {exc}", file=sys.stderr)
    return 1
