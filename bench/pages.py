"""`make bench-pages`: how long each page of the operator console and the member portal takes against the
demo's data. A figure, never a test (issue #18: no page over 1 s).

On a fresh slice of Kafka and PostgreSQL (sim/harness.py's ``Stack``): the five services, the console and
the portal as processes; the demo's data loaded through them as `make demo` does (deploy/demo.py's
``load``, its output shown); an admin operator signs in with their password, the member who bought most
with the code notify emailed them. Then every page each front end's OpenAPI document lists (its GET
operations, but the public probes), a member search and a rules preview, ``--requests`` times each: round
by round over the pages, one request at a time on one keep-alive connection, timed to the whole body as
a browser on this machine would wait for it. The first request of each is timed apart (templates are
compiled then). Each answer's ``Server-Timing`` (shared/web/timing.py) splits the time: the front end's
own (``server``) and each call it made to a service.

Writes bench/results/pages-<time>.json (per page: median, p95 and max, and each service call's) and
prints a table, marking a page whose p95 is over 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import psutil
from aiosmtpd.controller import Controller

from bench.run import RESULTS, percentiles, start_services
from deploy import demo
from services.portal.pages import SESSION as MEMBER_SESSION
from shared.contracts.envelope import utcnow
from sim.harness import (
    Infra,
    ServiceProcess,
    Stack,
    bearer,
    eventually,
    free_port,
    front_end_process,
    infra_from_env,
    ingest_cli,
)
from sim.mail import Mailbox
from sim.services import SERVICES

LIMIT_S = 1.0
OPERATOR = "bench-admin"
# One name of a Server-Timing metric, its description and duration (ms), as shared/web/timing.py writes them.
_METRIC = re.compile(r'([\w-]+)(?:;desc="((?:[^"\\]|\\.)*)")?;dur=([0-9.]+)')


@dataclass(frozen=True)
class Ask:
    """One page as the bench asks for it: ``name`` in the results, the request itself."""

    name: str
    method: str
    path: str
    form: dict[str, list[str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Timings:
    """What the requests of one page took (seconds), and what they answered."""

    path: str
    first: float = 0.0
    total: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    calls: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[int] = field(default_factory=Counter)
    size: int = 0

    def add(self, seconds: float, answer: httpx.Response) -> None:
        self.total.append(seconds)
        self.statuses[answer.status_code] += 1
        self.size = len(answer.content)
        for metric, desc, ms in _METRIC.findall(answer.headers.get("server-timing", "")):
            if metric == "app":
                self.server.append(float(ms) / 1000)
            else:
                self.calls[f"{metric} {desc}"].append(float(ms) / 1000)

    def figures(self) -> dict[str, Any]:
        found = percentiles(self.total)
        calls = {name: percentiles(seconds) for name, seconds in self.calls.items()}
        slowest = max(calls, key=lambda name: calls[name]["p50_ms"], default=None)
        return {
            "path": self.path,
            "statuses": {str(status): n for status, n in sorted(self.statuses.items())},
            "bytes": self.size,
            "first_ms": self.first * 1000,
            **found,
            "over_1s": bool(found.get("p95_ms", 0) > LIMIT_S * 1000),
            "server": percentiles(self.server),
            "slowest_call": slowest,
            "calls": calls,
        }


class _Form(HTMLParser):
    """The fields a browser would send with the form posting to ``action`` (inputs, checked boxes)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside = action, False
        self.fields: dict[str, list[str]] = defaultdict(list)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        elif tag == "input" and self.inside and (name := a.get("name")):
            ticked = a.get("type") not in ("checkbox", "radio") or "checked" in a
            if ticked:
                self.fields[name].append(a.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def form_of(html: str, action: str) -> dict[str, list[str]]:
    parser = _Form(action)
    parser.feed(html)
    return dict(parser.fields)


async def page_paths(client: httpx.AsyncClient) -> list[str]:
    """Every page the front end's OpenAPI document lists: its GET operations, but the public probes."""
    document = (await client.get("/openapi.json")).json()
    return [
        path
        for path, operations in document["paths"].items()
        if "get" in operations and operations["get"].get("x-vafa-permission") != "public"
    ]


def filled(template: str, member_id: str) -> str:
    path = template.replace("{member_id}", member_id)
    if "{" in path:
        raise SystemExit(f"the page bench does not know what to put in {template}: teach bench/pages.py")
    return path


async def console_asks(client: httpx.AsyncClient, member_id: str, email: str) -> list[Ask]:
    """The console's pages as a signed-in admin sees them; with a member found by email (ingest's lookup,
    then the way to their page) and Preview pressed on the rules editor as it comes filled."""
    asks = [Ask(f"console GET {p}", "GET", filled(p, member_id)) for p in await page_paths(client)]
    asks.append(Ask("console GET /members?by=email (search)", "GET", f"/members?by=email&q={email}"))
    editor = form_of((await client.get("/program")).text, "/program") | {"action": ["preview"]}
    asks.append(Ask("console POST /program (preview)", "POST", "/program", form=editor))
    return asks


async def portal_asks(client: httpx.AsyncClient, token: str) -> list[Ask]:
    """The portal's pages as the signed-in member sees them; its JSON API with their token."""
    bearer_token = {"Authorization": f"Bearer {token}"}
    return [
        Ask(f"portal GET {p}", "GET", p, headers=bearer_token if p.startswith("/api/") else {})
        for p in await page_paths(client)
    ]


async def sign_in_operator(stack: Stack, console: ServiceProcess) -> httpx.AsyncClient:
    """An admin operator, added with the CLI, signed in with their password: a client with the session."""
    password = await asyncio.to_thread(ingest_cli, stack.env("ingest"), "operator", "add", OPERATOR,
                                       "--role", "admin")  # fmt: skip
    client = httpx.AsyncClient(base_url=console.url, timeout=60)
    answer = await client.post("/sign-in", data={"name": OPERATOR, "password": password})
    if answer.status_code != 303:
        raise SystemExit(f"the operator could not sign in: {answer.status_code}")
    return client


async def sign_in_member(portal: ServiceProcess, mailbox: Mailbox, email: str) -> httpx.AsyncClient:
    """The member signs in with the code notify emailed them: a client with their session."""
    client = httpx.AsyncClient(base_url=portal.url, timeout=60)
    before = len(mailbox.messages)
    await client.post("/sign-in/code", data={"address": email})
    code = await eventually(lambda: mailbox.sign_in_code(email, before), what=f"code to {email}")
    answer = await client.post("/sign-in", data={"address": email, "code": code})
    if answer.status_code != 303:
        raise SystemExit(f"the member could not sign in: {answer.status_code}")
    return client


async def timed(client: httpx.AsyncClient, ask: Ask) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    answer = await client.request(ask.method, ask.path, data=ask.form, headers=ask.headers)  # whole body read
    return time.perf_counter() - started, answer


async def measure(asked: Sequence[tuple[httpx.AsyncClient, Ask]], requests: int) -> dict[str, Timings]:
    """Each page once (its first request, apart), then ``requests`` rounds over every page."""
    found = {ask.name: Timings(ask.path) for _, ask in asked}
    for client, ask in asked:
        found[ask.name].first, _ = await timed(client, ask)
    for _ in range(requests):
        for client, ask in asked:
            found[ask.name].add(*await timed(client, ask))
    return found


def top_member(loaded: demo.Loaded) -> tuple[str, str]:
    """The enrolled member who bought most (the longest history), and their email."""
    emails = {e["member_id"]: e["email"] for e in loaded.enrolments}
    counts = Counter(r["member_id"] for r in loaded.receipts if r["member_id"] in emails)
    member_id = counts.most_common(1)[0][0]
    return member_id, emails[member_id]


async def run(infra: Infra, args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    stack = Stack(infra)
    mailbox = Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    settings = demo.service_settings(smtp.port)
    processes: list[ServiceProcess] = []
    clients: list[httpx.AsyncClient] = []
    try:
        await stack.create(*SERVICES)
        processes += await start_services(stack, 1, logs, settings=settings)
        backends = {p.module.rsplit(".", 1)[1]: p for p in processes}
        console = front_end_process("console", backends, logs)
        portal = front_end_process("portal", backends, logs)
        processes += [console.start(), portal.start()]
        await console.wait_ready()
        await portal.wait_ready()
        urls = {name: p.url for name, p in backends.items()}
        print(f"the demo's data (deploy/demo.py): {args.purchases} purchases, {args.members} members")
        async with httpx.AsyncClient(timeout=60, headers=bearer()) as client:
            loaded = await demo.load(
                client,
                urls,
                mailbox,
                lambda service: stack.env(service, **settings[service]),
                args.purchases,
                args.members,
            )
        member_id, email = top_member(loaded)
        operator = await sign_in_operator(stack, console)
        member = await sign_in_member(portal, mailbox, email)
        clients += [operator, member]
        token = member.cookies[MEMBER_SESSION.name]
        asked = [(operator, ask) for ask in await console_asks(operator, member_id, email)]
        asked += [(member, ask) for ask in await portal_asks(member, token)]
        print(f"\n{len(asked)} pages x {args.requests} requests (and a first one each), member {member_id}")
        found = await measure(asked, args.requests)
        return {
            "purchases": args.purchases,
            "members": args.members,
            "enrolled": len(loaded.enrolments),
            "member_id": member_id,
            "member_purchases": sum(1 for r in loaded.receipts if r["member_id"] == member_id),
            "requests_per_page": args.requests,
            "pages": {name: t.figures() for name, t in found.items()},
        }
    finally:
        for client in clients:
            await client.aclose()
        for p in processes:
            p.stop()
        smtp.stop()
        await stack.drop()


def table(result: dict[str, Any]) -> str:
    pages = result["pages"]
    width = max(len(name) for name in pages) + 2
    lines = [
        f"{'page':<{width}}{'median':>8}{'p95':>8}{'max':>8}{'first':>8}{'server':>8}  slowest call (median)",
    ]
    for name, f in pages.items():
        slowest = f["slowest_call"]
        call = f"{slowest} {f['calls'][slowest]['p50_ms']:.0f}" if slowest else ""
        mark = "  OVER 1 s" if f["over_1s"] else ""
        lines.append(
            f"{name:<{width}}{f['p50_ms']:>8.0f}{f['p95_ms']:>8.0f}{f['max_ms']:>8.0f}{f['first_ms']:>8.0f}"
            f"{f['server'].get('p50_ms', float('nan')):>8.0f}  {call}{mark}"
        )
    over = [name for name, f in pages.items() if f["over_1s"]]
    slowest = max(pages, key=lambda name: pages[name]["p95_ms"])
    lines.append("(ms; server: the front end's own time to its first byte, from its Server-Timing)")
    lines.append(f"slowest page: {slowest}, p95 {pages[slowest]['p95_ms']:.0f} ms; " + (
        f"over 1 s at p95: {', '.join(over)}" if over else "no page over 1 s at p95"))  # fmt: skip
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20, help="requests per page, after a first one")
    parser.add_argument("--purchases", type=int, default=demo.PURCHASES, help="the demo's stream")
    parser.add_argument("--members", type=int, default=demo.MEMBERS)
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the figures are written")
    args = parser.parse_args()
    results = args.results
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    logs = results / f"pages-{stamp}-logs"
    logs.mkdir(parents=True)
    started = time.perf_counter()
    measured = await run(infra_from_env(), args, logs)
    result = {
        "at": stamp,
        "machine": {"cpus": os.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30)},
        "limit_ms": LIMIT_S * 1000,
        "seconds": round(time.perf_counter() - started),
        **measured,
    }
    out = results / f"pages-{stamp}.json"
    out.write_text(json.dumps(result, indent=2))
    print(table(result))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    asyncio.run(main())
