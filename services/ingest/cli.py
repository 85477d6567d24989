"""Integration keys and operator accounts, from the machine ingest runs on (an admin's HTTP routes do
the same: ``/v1/access/...``). Every change is in ingest's audit log, by ``operator:cli:<os user>``.

    python -m services.ingest.cli create chain --chain hyperstar [--store tehran-07] [--scope redeem]
    python -m services.ingest.cli create partner --partner snapp [--expires-days 365]
    python -m services.ingest.cli create admin --label "bulk enrolment"
    python -m services.ingest.cli list
    python -m services.ingest.cli revoke <prefix>
    python -m services.ingest.cli operator add sara --role admin     (prints a one-time password)
    python -m services.ingest.cli operator password sara             (prints a new one)
    python -m services.ingest.cli operator disable sara
    python -m services.ingest.cli operator list

A key is printed once, on creation; only its SHA-256 is stored. A password only as an argon2 hash.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from datetime import timedelta

from services.ingest import access
from services.ingest.settings import IngestSettings
from services.ingest.store import MIGRATIONS
from services.ingest.store.repository import all_keys, all_operators
from shared.contracts.envelope import utcnow
from shared.errors import DomainError
from shared.identity import ROLES, SCOPES, Principal
from shared.store.db import make_engine
from shared.store.migrate import upgrade_async


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.ingest.cli", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create a key and print it once")
    create.add_argument("kind", choices=["chain", "partner", "admin"])
    create.add_argument("--chain")
    create.add_argument("--store", help="limit a chain key to one store")
    create.add_argument("--partner")
    create.add_argument("--label", default="")
    create.add_argument(
        "--scope", action="append", choices=SCOPES, help="what it may do (repeat; default events:send)"
    )
    create.add_argument("--expires-days", type=float, help="the key stops working after this many days")
    sub.add_parser("list", help="list keys (prefixes only, never secrets)")
    revoke = sub.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("prefix")
    operator = sub.add_parser("operator", help="operator accounts")
    op = operator.add_subparsers(dest="action", required=True)
    add = op.add_parser("add", help="add an operator and print a one-time password")
    add.add_argument("name")
    add.add_argument("--role", action="append", required=True, choices=ROLES)
    op.add_parser("password", help="set a new password and print it").add_argument("name")
    op.add_parser("disable", help="disable the account").add_argument("name")
    op.add_parser("list", help="list operators and their roles")
    return p


async def run(args: argparse.Namespace, settings: IngestSettings) -> int:
    actor = Principal("operator", f"cli:{getpass.getuser()}", roles=frozenset({"admin"}))
    await upgrade_async(MIGRATIONS, settings.database_url)
    engine = make_engine(settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            if args.command == "create":
                spec = access.KeySpec(
                    kind=args.kind,
                    chain_id=args.chain,
                    store_id=args.store,
                    partner_id=args.partner,
                    scopes=tuple(args.scope or ["events:send"]),
                    label=args.label,
                    expires_at=utcnow() + timedelta(days=args.expires_days) if args.expires_days else None,
                )
                token, _ = await access.create_key(conn, actor, spec)
                print(token)
            elif args.command == "list":
                for row in await all_keys(conn):
                    state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
                    if row.expires_at and not row.revoked_at:
                        state += f" until {row.expires_at:%Y-%m-%d}"
                    scope = row.partner_id or "/".join(x for x in (row.chain_id, row.store_id) if x) or "*"
                    scopes = ",".join(row.scopes)
                    print(f"{row.prefix}  {row.kind:<7} {scope:<30} {scopes:<30} {state:<18} {row.label}")
            elif args.command == "revoke":
                await access.revoke_key(conn, actor, args.prefix)
            elif args.action == "add":
                print(await access.add_operator(conn, actor, args.name, args.role))
            elif args.action == "password":
                password = access.one_time_password()
                await access.change_operator(conn, actor, args.name, password=password)
                print(password)
            elif args.action == "disable":
                await access.change_operator(conn, actor, args.name, disabled=True)
            else:
                for row in await all_operators(conn):
                    state = f"disabled {row.disabled_at:%Y-%m-%d}" if row.disabled_at else "active"
                    print(f"{row.name:<30} {','.join(row.roles):<40} {state}")
    except DomainError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    return 0


def main() -> None:
    raise SystemExit(asyncio.run(run(parser().parse_args(), IngestSettings())))


if __name__ == "__main__":
    main()
