"""The test harness's ports: a service started later must still find its port free."""

from __future__ import annotations

import socket
from pathlib import Path

from sim.harness import free_port


def test_ports_are_distinct_bindable_and_never_ones_an_outgoing_connection_could_take() -> None:
    low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert not any(int(low) <= port <= int(high) for port in ports)
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[-1]))  # still free
