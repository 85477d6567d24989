"""`make bench`, `make bench-handlers`, `make bench-domain`, `make bench-pages` and `make bench-priority`
cannot rot: CI runs each at a size of seconds (the pipeline's with its profiler) and checks it wrote its
figures, which it does not judge: speed is for the benchmarks, never a timed test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from services.console.main import create as console_app
from services.portal.main import create as portal_app
from sim.harness import REPO, Infra


def bench(infra: Infra, module: str, *args: str) -> None:
    """Run ``python -m module args`` as ``make`` would; its output is the failure message."""
    env = os.environ | infra.principal_env() | {"VAFA_PG_HOST": infra.pg_host}
    done = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_a_tiny_bench_run_writes_its_figures_and_flame_graphs(infra: Infra, tmp_path: Path) -> None:
    args = ["--events", "300", "--members", "100", "--repeats", "1", "--latency-seconds", "2", "--rate", "50"]
    curve = ["--curve", "50,80"]  # the fixed-load run is the curve's first point
    bench(infra, "bench.run", *args, *curve, "--warm-up", "100", "--profile", "--results", str(tmp_path))
    (figures,) = tmp_path.glob("*.json")
    result = json.loads(figures.read_text())
    assert result["pipeline"]["per_second"] > 0 and result["ceiling"]["per_second"] > 0
    assert result["warm_up_events"] == 100 and result["pipeline"]["records_per_batch"]["points-0"] > 0
    assert result["pipeline"]["batch_ms"]["points-0"] > 0 and result["pipeline"]["wal_per_event"]["bytes"] > 0
    assert figures.with_suffix(".png").exists()
    curve = result["latency_curve"]["points"]
    assert [c["offered_per_second"] for c in curve] == [50, 80] and all(
        c["points_earned"]["count"] for c in curve
    )
    assert (tmp_path / f"{figures.stem}-latency.png").exists()
    assert list(tmp_path.glob("*-profile/*.svg")), "a flame graph per service"


def test_a_tiny_handlers_run_writes_cpu_per_event_for_each_service(infra: Infra, tmp_path: Path) -> None:
    bench(infra, "bench.handlers", "--events", "60", "--batch", "30", "--results", str(tmp_path))
    (figures,) = tmp_path.glob("handlers-*.json")
    runs = json.loads(figures.read_text())
    assert {r["service"] for r in runs} == {"ingest", "points", "tiers", "notify", "analytics"}
    assert all(
        r["cpu_ms_per_event"] > 0 and r["statements_ms_per_event"] and r["rows_per_event"] for r in runs
    )


def test_a_tiny_domain_run_writes_its_figures(infra: Infra, tmp_path: Path) -> None:
    bench(infra, "bench.domain", "--passes", "1", "--events", "30", "--results", str(tmp_path))
    (figures,) = tmp_path.glob("domain-*.json")
    found = json.loads(figures.read_text())["figures"]
    assert found["tier_replay_60_activities_us"] > 0 and found["ingest_decoder_us_per_record"] > 0


def test_a_tiny_clients_run_writes_both_kafka_clients_cpu_per_record(infra: Infra, tmp_path: Path) -> None:
    bench(infra, "bench.clients", "--records", "200", "--repeats", "1", "--results", str(tmp_path))
    (figures,) = tmp_path.glob("clients-*.json")
    medians = json.loads(figures.read_text())["medians"]
    assert set(medians) == {"aiokafka", "confluent-kafka"}
    assert all(m[step]["cpu_us_per_record"] > 0 for m in medians.values() for step in ("produce", "consume"))


def test_a_tiny_page_bench_times_every_page_of_both_front_ends_on_the_demos_data(
    infra: Infra, tmp_path: Path
) -> None:
    args = ["--purchases", "60", "--members", "30", "--requests", "1", "--results", str(tmp_path)]
    bench(infra, "bench.pages", *args)
    (figures,) = tmp_path.glob("pages-*.json")
    pages = json.loads(figures.read_text())["pages"]
    every_page = {
        f"{name} GET {path}"
        for name, app in (("console", console_app()), ("portal", portal_app()))
        for path, operations in app.openapi()["paths"].items()
        if "get" in operations and operations["get"]["x-vafa-permission"] != "public"
    }
    extra = {"console GET /members?by=email (search)", "console POST /program (preview)"}
    assert set(pages) == every_page | extra
    # Each page answered the signed-in person as it does a browser: the page, or the way to it.
    assert {name: f["statuses"] for name, f in pages.items() if set(f["statuses"]) - {"200", "303"}} == {}
    member_page = pages["console GET /members/{member_id}"]
    assert member_page["count"] == 1 and member_page["calls"], "its calls to the services, timed"


def test_a_tiny_writes_run_writes_both_ways_cpu_per_row(infra: Infra, tmp_path: Path) -> None:
    bench(
        infra, "bench.writes", "--rows", "200", "--batch", "50", "--repeats", "1", "--results", str(tmp_path)
    )
    (figures,) = tmp_path.glob("writes-*.json")
    medians = json.loads(figures.read_text())["medians"]
    assert {m["way"] for m in medians} == {"rows_insert", "copy"}
    assert all(m["client_us_per_row"] > 0 and m["wall_us_per_row"] > 0 for m in medians)


def test_a_tiny_priority_run_writes_each_hops_latency_for_both_sides(infra: Infra, tmp_path: Path) -> None:
    args = ["--pairs", "1", "--rate", "20", "--seconds", "2", "--members", "50", "--warm-up", "0"]
    bench(infra, "bench.priority", *args, "--results", str(tmp_path))
    (figures,) = tmp_path.glob("priority-*.json")
    runs = json.loads(figures.read_text())["runs"]
    assert [r["side"] for r in runs] == ["equal", "yielding"]
    assert all(r["points_earned"]["count"] == 40 for r in runs)
