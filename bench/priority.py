"""`python -m bench.priority`: what CPU priority buys when the services share too few cores.

The latency run (``bench.run.latency``) at one offered load, with every service at niceness 0 and with
the services off the purchase -> ``points.earned`` path (tiers, notify, analytics) at a higher one
(``VAFA_CPU_NICENESS``), alternating, so both sides meet the same machine. Each hop's p50 and p99 go
to ``bench/results/priority-<time>.json``: the points path's gain and what the others pay for it.

    python -m bench.priority --pairs 4 --rate 300 --niceness 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.run import RESULTS, latency, workload
from sim.harness import infra_from_env

YIELDING = ("tiers", "notify", "analytics")
HOPS = ("ingest_forwarded", "points_earned", "tier_changed", "notification_logged")


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.priority", description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--warm-up", type=int, default=2_000)
    parser.add_argument("--niceness", type=int, default=10)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    infra = infra_from_env()
    warm = workload(args.warm_up, args.members, seed=7)
    log_dir = Path(tempfile.mkdtemp(prefix="vafa-priority-"))
    yielding = {s: {"VAFA_CPU_NICENESS": str(args.niceness)} for s in YIELDING}
    runs: list[dict[str, Any]] = []
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = args.results / f"priority-{stamp}.json"
    args.results.mkdir(parents=True, exist_ok=True)
    for pair in range(args.pairs):
        for side in ("equal", "yielding") if pair % 2 == 0 else ("yielding", "equal"):
            settings = yielding if side == "yielding" else None
            run = await latency(
                infra, args.rate, args.seconds, args.members, log_dir, warm, settings=settings
            )
            runs.append({"pair": pair, "side": side, **run})
            hops = {h: (round(run[h]["p50_ms"]), round(run[h]["p99_ms"])) for h in HOPS if "p50_ms" in run[h]}
            print(f"pair {pair + 1} {side}: p50/p99 ms {hops}", flush=True)
            out.write_text(json.dumps({"at": stamp, "niceness": yielding, "runs": runs}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main())
