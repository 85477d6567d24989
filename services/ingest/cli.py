"""Create, list and revoke ingest API keys.

    python -m services.ingest.cli create chain --chain hyperstar [--store tehran-07] [--label "POS fleet"]
    python -m services.ingest.cli create partner --partner snapp
    python -m services.ingest.cli create admin --label "bulk enrolment"
    python -m services.ingest.cli list
    python -m services.ingest.cli revoke <prefix>

The key is printed once, on creation; only its SHA-256 is stored.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid

from services.ingest.auth import generate_key
from services.ingest.settings import IngestSettings
from services.ingest.store import MIGRATIONS
from services.ingest.store.repository import add_key, all_keys, revoke_key
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
    sub.add_parser("list", help="list keys (prefixes only, never secrets)")
    revoke = sub.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("prefix")
    return p


async def run(args: argparse.Namespace, settings: IngestSettings) -> int:
    if args.command == "create":
        if args.kind == "chain" and not args.chain:
            raise SystemExit("a chain key needs --chain")
        if args.kind == "partner" and not args.partner:
            raise SystemExit("a partner key needs --partner")
    await upgrade_async(MIGRATIONS, settings.database_url)
    engine = make_engine(settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            if args.command == "create":
                key = generate_key()
                await add_key(
                    conn,
                    id=uuid.uuid4(),
                    prefix=key.prefix,
                    secret_sha256=key.secret_sha256,
                    kind=args.kind,
                    chain_id=args.chain if args.kind == "chain" else None,
                    store_id=args.store if args.kind == "chain" else None,
                    partner_id=args.partner if args.kind == "partner" else None,
                    label=args.label,
                )
                print(key.token)
            elif args.command == "list":
                for row in await all_keys(conn):
                    state = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
                    scope = row.partner_id or "/".join(x for x in (row.chain_id, row.store_id) if x) or "*"
                    print(f"{row.prefix}  {row.kind:<7} {scope:<30} {state:<18} {row.label}")
            elif not await revoke_key(conn, args.prefix):
                print(f"no active key with prefix {args.prefix}", file=sys.stderr)
                return 1
    finally:
        await engine.dispose()
    return 0


def main() -> None:
    raise SystemExit(asyncio.run(run(parser().parse_args(), IngestSettings())))


if __name__ == "__main__":
    main()
