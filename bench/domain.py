"""`python -m bench.domain`: the pure code each event runs through, timed in this process with no
database and no broker: reading money, a tier replay, and each consumer's decoder on the POS simulator's
purchases. Each figure is the best of several passes over the same inputs: the pass the machine
disturbed least, so it holds still while whole-pipeline figures drift with the box. Compare two commits
by running this in a checkout of each, alternately.

    python -m bench.domain --passes 7
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.contracts.envelope import utcnow
from shared.contracts.money import _money, fits_currency

RESULTS = Path(__file__).resolve().parent / "results"


def best(passes: int, inputs: Sequence[Any], run: Callable[[Any], object]) -> float:
    """Microseconds of CPU per input, in the fastest of ``passes`` passes over ``inputs``."""
    times = []
    for _ in range(passes):
        started = time.process_time()
        for item in inputs:
            run(item)
        times.append((time.process_time() - started) / len(inputs))
    return 1e6 * min(times)


def replay_inputs() -> tuple[Any, list[Any], datetime]:
    """One member's 60 purchases, 9 days apart, on a four-tier spend ladder."""
    from services.tiers.domain import Activity, Ladder

    ladder = Ladder.model_validate(
        {
            "tiers": [
                {"name": "Bronze", "threshold": "0"},
                {"name": "Silver", "threshold": "1000"},
                {"name": "Gold", "threshold": "5000"},
                {"name": "Platinum", "threshold": "20000"},
            ]
        }
    )
    t0 = datetime(2025, 1, 31, 12, tzinfo=UTC)
    moments = [t0 + timedelta(days=9 * i) for i in range(60)]
    activity = [Activity(at.date(), Decimal(300 + 37 * i), 0, 1, at) for i, at in enumerate(moments)]
    return ladder, activity, t0 + timedelta(days=700)


def measure(passes: int, events: int) -> dict[str, float]:
    from bench.handlers import records, service
    from services.tiers.domain import replay

    amounts = ["37000", "111000", "12.50", "0", "1234567.89"] * 2000
    ladder, activity, until = replay_inputs()
    figures = {
        "money_read_us": best(passes, amounts, _money),
        "fits_currency_us": best(passes, [Decimal(a) for a in amounts], lambda a: fits_currency(a, "EUR")),
        "tier_replay_60_activities_us": best(
            passes, [None] * 50, lambda _: replay(ladder, activity, [], until)
        ),
    }
    for name in ("ingest", "points", "tiers", "analytics"):
        decoder = service(name).decoder
        figures[f"{name}_decoder_us_per_record"] = best(passes, records(events, "", name), decoder)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.domain", description=__doc__.split("\n")[0])
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--events", type=int, default=2000, help="purchases each decoder reads a pass")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    figures = measure(args.passes, args.events)
    for name, value in figures.items():
        print(f"{name:<36}{value:>10.2f}")
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"domain-{utcnow().strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:4]}.json"
    out.write_text(json.dumps({"passes": args.passes, "events": args.events, "figures": figures}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
