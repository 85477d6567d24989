"""`make chaos` at the size CI has time for: every fault once under a steady POS stream, then the oracle."""

from __future__ import annotations

from pathlib import Path

from chaos.run import FAULTS, chaos, table
from sim.harness import Infra


async def test_every_fault_once_under_load_loses_nothing_and_applies_nothing_twice(
    infra: Infra, tmp_path: Path
) -> None:
    report = await chaos(infra, purchases=2000, rate=80, rounds=1, seed=3, log_dir=tmp_path)
    print(table(report))
    assert sorted(f["kind"] for f in report["faults"]) == sorted(FAULTS)
    assert not [f for f in report["faults"] if f["skipped"] and f["kind"].startswith("kill")]
    failed = {name: check["detail"] for name, check in report["checks"].items() if not check["ok"]}
    assert (report["lost"], report["duplicates"], failed) == (0, 0, {})
    # Services wait for Kafka and PostgreSQL when they start during an outage instead of exiting.
    assert report["restarted_by_the_supervisor"] == {}
