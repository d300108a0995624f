"""`chainbreaker access ...`: the operator's view of who may do what.

`grant` creates (or re-applies) the app's principals: a Kafka user per role with its topic
ACLs and the router's Redis user, and writes each role's credentials file (0600) under the
stack directory; `show` lists the users and ACLs in force; `revoke` removes them. Institutions
are granted with `chainbreaker cases grant` (their Redis user and Kafka principal at once).
Runs as the operator: the admin role's Kafka login and the operator's Redis URL.
"""

from __future__ import annotations

import argparse
import sys

from access import grant as grant_mod
from access import kafka_acl, redis_acl
from config import clients
from config.settings import load


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="chainbreaker access", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("grant", help="create or re-apply the app's principals and credentials")
    p.add_argument("--rotate", action="store_true", help="new passwords for every role")
    sub.add_parser("show", help="the app's Kafka principals and their ACLs, the router user")
    sub.add_parser("revoke", help="delete the app's principals, ACLs and credentials files")
    args = parser.parse_args(argv)
    settings = load()
    try:
        if args.command == "grant":
            for g in grant_mod.grant_app(settings, rotate=args.rotate):
                who = g.kafka_user or "(Kafka is PLAINTEXT: no principal)"
                print(f"{g.role:<10} {who:<32} credentials (0600): {g.credentials}")
            print(f"router     Redis user {redis_acl.router_user(settings)} (in the worker's file)")
            return 0
        if args.command == "revoke":
            grant_mod.revoke_app(settings)
            print(f"revoked the principals of app {settings.app_id}")
            return 0
        if not grant_mod.kafka_secured(settings):
            print("Kafka is PLAINTEXT (CB_KAFKA_SECURITY=plaintext): no principals, no ACLs")
            return 0
        access = kafka_acl.KafkaAccess(settings)
        for role in clients.APP_ROLES:
            user = kafka_acl.role_username(settings, role)
            print(f"{role}: User:{user}")
            for b in sorted(access.bindings_of(user), key=lambda b: (b.name, str(b.operation))):
                print(
                    f"  {b.operation.name:<8} {b.restype.name.lower():<6} "
                    f"{b.resource_pattern_type.name.lower():<8} {b.name}"
                )
        return 0
    except (RuntimeError, OSError) as exc:
        print(f"chainbreaker access {args.command}: {exc}", file=sys.stderr)
        return 1
