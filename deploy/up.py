"""`make up` / `make down`: Vafa running for real on this machine, until stopped.

    python -m deploy.up start    the five services, the console and the member portal under a
                                 supervisor that restarts what exits (in the background; logs in
                                 .run/logs), a local mail sink
                                 keeping what notify sends in .run/mail, and a first admin's one-time
                                 password (to sign in to the console with)
    python -m deploy.up stop     stops them (Kafka and PostgreSQL are vafactl's: `make down` stops all)
    python -m deploy.up status

Kafka and PostgreSQL come from the environment (`eval "$(deploy/local/vafactl env)"`, as make does).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from deploy.launch import FRONT_ENDS, LOGS, REPO, RUN, URLS, ports_free, start, wait_ready

PIDFILE = RUN / "up.pid"
MAIL = RUN / "mail"
SMTP_PORT = 1025  # notify's default VAFA_NOTIFY_SMTP_PORT
FIRST_ADMIN = "admin"


def _running() -> int | None:
    """The supervisor's pid, when one is running."""
    try:
        pid = int(PIDFILE.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


async def supervise() -> None:
    """Runs in the background: each service restarted when it exits (after a second, then longer while
    it keeps exiting), all stopped on SIGTERM."""
    MAIL.mkdir(parents=True, exist_ok=True)
    smtp = Controller(Mailbox(MAIL), hostname="127.0.0.1", port=SMTP_PORT)
    smtp.start()
    procs = {name: start(name, {}) for name in URLS}
    backoff = dict.fromkeys(URLS, 1.0)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    while not stopping.is_set():
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(
                    f"{time.strftime('%H:%M:%S')} {name} exited ({proc.returncode}); restarting", flush=True
                )
                await asyncio.sleep(backoff[name])
                backoff[name] = min(backoff[name] * 2, 30.0)
                procs[name] = start(name, {})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=1.0)
    for proc in procs.values():
        proc.terminate()
    for proc in procs.values():
        proc.wait(timeout=40)
    smtp.stop()
    PIDFILE.unlink(missing_ok=True)


def first_admin() -> str:
    """A first admin's one-time password, made once (None-like message when one exists)."""
    made = subprocess.run(
        [sys.executable, "-m", "services.ingest.cli", "operator", "add", FIRST_ADMIN, "--role", "admin"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if made.returncode == 0:
        return f"first admin: {FIRST_ADMIN} / {made.stdout.strip()} (one-time: change it after signing in)"
    return (
        f'admin account {FIRST_ADMIN!r} exists; a new password: make api-key ARGS="operator password admin"'
    )


async def ready() -> None:
    async with httpx.AsyncClient(timeout=5) as client:
        for url in URLS.values():
            await wait_ready(client, url)


def start_all() -> int:
    if (pid := _running()) is not None:
        print(f"already up (supervisor pid {pid}); `make down` stops it")
        return 0
    ports_free()
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / "supervisor.log").open("ab") as log:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "deploy.up", "supervise"],
            cwd=REPO,
            stdout=log,
            stderr=log,
            start_new_session=True,  # outlives this command and the terminal
        )
    PIDFILE.write_text(str(supervisor.pid))
    asyncio.run(ready())
    print("Vafa is up:")
    print(f"  console    {URLS['console']}   (operators sign in here)")
    print(f"  portal     {URLS['portal']}   (members sign in here with a code sent by email or SMS)")
    for name, url in URLS.items():
        if name not in FRONT_ENDS:
            print(f"  {name:<10} {url}   (API: {url}/docs)")
    print(f"  mail       what notify sends is kept in {MAIL}")
    print(f"  logs       {LOGS}")
    print(f"  {first_admin()}")
    body = '{"name": "admin", "password": "..."}'
    sign_in = f"curl -s -X POST {URLS['ingest']}/v1/tokens/operator -H 'content-type: application/json'"
    print(f"  sign in:   {sign_in} \\\n               -d '{body}'")
    print("stop it with `make down`")
    return 0


def stop_all() -> int:
    pid = _running()
    if pid is None:
        print("not running")
        PIDFILE.unlink(missing_ok=True)
        return 0
    os.kill(pid, signal.SIGTERM)
    for _ in range(600):
        if _running() is None:
            break
        time.sleep(0.1)
    print("Vafa's services stopped")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.up", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["start", "stop", "status", "supervise"])
    command = parser.parse_args().command
    if command == "supervise":
        asyncio.run(supervise())
        return
    if command == "status":
        pid = _running()
        print(f"up (supervisor pid {pid})" if pid else "not running")
        raise SystemExit(0 if pid else 1)
    raise SystemExit(start_all() if command == "start" else stop_all())


if __name__ == "__main__":
    main()
