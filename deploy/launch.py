"""Starting Vafa's services as processes on their fixed ports, each as its own Kafka principal: what
`make demo` and `make up` share."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from shared.kafka_acls import SERVICES, principal_of
from sim.harness import infra_from_env

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / ".run"
LOGS = RUN / "logs"
PORTS = {"ingest": 8001, "points": 8002, "tiers": 8003, "notify": 8004, "analytics": 8005, "console": 8000,
         "portal": 8006}  # fmt: skip
# The web front ends: no Kafka, they call the services' APIs with the signed-in person's token.
FRONT_ENDS = ("console", "portal")
URLS = {name: f"http://127.0.0.1:{port}" for name, port in PORTS.items()}


def ports_free(names: tuple[str, ...] = tuple(PORTS)) -> None:
    """Exits saying so when a service port is taken (by `make up`, or a demo still running): the
    services started next could not listen, and what answers there would be someone else's."""
    for name in names:
        port = PORTS[name]
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise SystemExit(
                    f"port {port} ({name}) is in use: is Vafa already running (`make up`)? `make down` first"
                )


def kafka_env(service: str) -> dict[str, str]:
    """Each service connects to Kafka as its own principal, with its rights only (shared/kafka_acls.py);
    the console and the portal use no Kafka and have no principal. The admin's credentials are the
    repair principal the ops API's re-drive writes with (shared/ops.py)."""
    if service not in SERVICES:
        return {}
    infra = infra_from_env()
    return infra.principal_env(principal_of(service)) | infra.repair_env() if infra.authorized else {}


def front_end_env(front_end: str) -> dict[str, str]:
    """Where a front end (the console, the portal) finds each service's API: the ports above."""
    prefix = f"VAFA_{front_end.upper()}"
    return {f"{prefix}_{name.upper()}_URL": url for name, url in URLS.items() if name in SERVICES}


def start(service: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``services.<service>`` on its port, its output appended to .run/logs/<service>.log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"{service}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", f"services.{service}"],
        cwd=REPO,
        env={
            **os.environ,
            **kafka_env(service),
            **(front_end_env(service) if service in FRONT_ENDS else {}),
            **env,
            "VAFA_HTTP_PORT": str(PORTS[service]),
        },
        stdout=log,
        stderr=log,
    )


async def wait_ready(
    client: httpx.AsyncClient, url: str, proc: subprocess.Popen[bytes] | None = None
) -> None:
    for _ in range(300):
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{url} exited; see {LOGS}")
        try:
            if (await client.get(f"{url}/readyz")).status_code == 204:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit(f"{url} not ready; see {LOGS}")
