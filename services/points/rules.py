"""Apply an earning-rules file as a new rule set version, or show the versions in force.

    python -m services.points.rules apply deploy/points-rules.example.json --operator ops@hyperstar
    python -m services.points.rules show

The file is validated exactly as ``POST /v1/rules`` validates it; nothing is stored if it is invalid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from pydantic import ValidationError

from services.points.domain.rules import RuleSet
from services.points.settings import PointsSettings
from services.points.store import MIGRATIONS
from services.points.store.earning import add_rule_set, rule_set_versions
from shared.store.db import make_engine
from shared.store.migrate import upgrade_async


async def run(rules: RuleSet | None, operator: str, settings: PointsSettings) -> None:
    """Store ``rules`` as a new version; with None, print the versions."""
    await upgrade_async(MIGRATIONS, settings.database_url)
    engine = make_engine(settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            if rules is not None:
                version = await add_rule_set(conn, rules, operator)
                print(f"rule set version {version} in force from {rules.effective_from.isoformat()}")
            else:
                for version, found in await rule_set_versions(conn):
                    print(json.dumps({"version": version, **found.model_dump(mode="json")}))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.points.rules", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    apply = sub.add_parser("apply", help="store the file as a new version")
    apply.add_argument("file")
    apply.add_argument("--operator", required=True)
    sub.add_parser("show", help="print every version")
    args = parser.parse_args()
    rules = None
    if args.command == "apply":
        try:
            rules = RuleSet.model_validate_json(Path(args.file).read_text())
        except ValidationError as error:
            raise SystemExit(f"{args.file} is not a valid rule set:\n{error}") from None
    asyncio.run(run(rules, getattr(args, "operator", ""), PointsSettings()))


if __name__ == "__main__":
    main()
