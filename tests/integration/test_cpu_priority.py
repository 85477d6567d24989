"""``VAFA_CPU_NICENESS``: a service that should yield the CPU when cores are short runs every one of
its threads at that niceness, as ``top`` shows it; a value outside 0-19 stops it at start."""

from __future__ import annotations

import os
from pathlib import Path

from tests.pointsflow import points
from tests.support import ServiceProcess, Stack


def niceness_of_each_thread(pid: int) -> set[int]:
    return {os.getpriority(os.PRIO_PROCESS, int(tid)) for tid in os.listdir(f"/proc/{pid}/task")}


async def test_a_service_runs_all_its_threads_at_the_niceness_it_is_given(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("points")
    service = points(stack, services, log_dir).start(VAFA_CPU_NICENESS="7")
    await service.wait_ready()
    assert service.proc is not None
    assert niceness_of_each_thread(service.proc.pid) == {os.getpriority(os.PRIO_PROCESS, 0) + 7}

    plain = points(stack, services, log_dir).start()
    await plain.wait_ready()
    assert plain.proc is not None
    assert niceness_of_each_thread(plain.proc.pid) == {os.getpriority(os.PRIO_PROCESS, 0)}


async def test_a_niceness_out_of_range_stops_the_service_at_start(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    await stack.create("points")
    for value in ("-5", "20", "high"):
        service = points(stack, services, log_dir).start(VAFA_CPU_NICENESS=value)
        assert await service.wait_exit() != 0
        assert "cpu_niceness" in service.tail()
