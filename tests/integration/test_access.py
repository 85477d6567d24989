"""Access: every route of every service x every kind of principal, from the services' own OpenAPI
documents (a route without a declared rule fails here); operators sign in, integrations exchange keys,
members see only themselves; operator writes land in the audit log under the credential's name."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.console.session import COOKIE, csrf_token
from services.console.settings import ConsoleSettings
from services.portal.pages import SESSION as PORTAL
from shared.identity import Principal, SigningKeys, integration
from sim.harness import DEV_KEYS
from sim.mail import Mailbox
from tests.support import (
    REPO,
    ServiceProcess,
    Stack,
    all_five,
    api_key,
    bearer,
    console,
    eventually,
    member,
    operator,
    portal,
    running,
)

pytestmark = pytest.mark.infra

OWN = "walk-1"  # the member id every {member_id} path is filled with
PRINCIPALS: dict[str, Principal] = {
    "admin": operator("ada", "admin"),
    "marketer": operator("mina", "marketer"),
    "support": operator("sam", "support"),
    "analyst": operator("ana", "analyst"),
    "read-only": operator("rita", "read-only"),
    "pos": integration("chain", chain_id="hyperstar"),
    "pos-redeem": integration("chain", "redeem", "member:read", chain_id="hyperstar"),
    "partner": integration("partner", partner_id="snapp"),
    "member": member(OWN),
    "other-member": member("someone-else"),
    "notify-service": Principal("service", "notify"),
    "ingest-service": Principal("service", "ingest"),
}
OPERATORS = {"admin", "marketer", "support", "analyst", "read-only"}
# Who may, per permission: written out here, not read from the code, so a wrong grant there fails.
MAY: dict[str, set[str]] = {
    "events:send": {"admin", "pos", "partner"},
    "member:read": {"admin", "marketer", "support", "read-only", "pos-redeem", "member"},
    "member:act": {"admin", "support", "pos-redeem", "member"},
    "points:adjust": {"admin", "support"},
    "program:read": OPERATORS | {"pos-redeem", "member", "other-member"},
    "program:write": {"admin", "marketer"},
    "insight:read": {"admin", "marketer", "analyst", "read-only"},
    "contact:read": {"admin", "support", "notify-service"},
    "member:erase": {"admin", "support", "member"},
    "members:import": {"admin", "support"},
    "codes:send": {"ingest-service"},
    "access:admin": {"admin"},
    "audit:read": {"admin"},
    "ops:read": OPERATORS,
    "ops:repair": {"admin"},
}
FORGED = SigningKeys("forger:" + "x" * 40)


def expected(who: str, permission: str, method: str, path: str) -> bool:
    allowed = who in MAY[permission]
    if who == "member" and permission in ("member:read", "member:act", "member:erase"):
        # A member acts on themselves: their id in the path, or (a redemption) in the body.
        return "{member_id}" in path or (method, path) == ("POST", "/v1/redemptions")
    if path.startswith("/v1/") and permission == "events:send":
        # Ingest also judges the scope a body names: a partner sends only partner events, a chain none.
        partner_route = path.startswith("/v1/partners/")
        if who == "partner" and not partner_route and path != "/v1/batch":
            return False
        if who == "pos" and partner_route:
            return False
    return allowed


def _path_value(name: str, param: dict[str, Any]) -> str:
    if name == "member_id":
        return OWN
    return str(uuid.uuid4()) if param.get("schema", {}).get("format") == "uuid" else "matrix-1"


async def _call(
    client: httpx.AsyncClient, request: tuple[str, str, Any], headers: dict[str, str]
) -> httpx.Response:
    method, url, body = request
    return await client.request(method, url, json=body, headers=headers)


async def test_every_route_of_every_service_answers_each_principal_as_its_rule_says(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    running_ = await all_five(stack, services, log_dir)
    checked, wrong = 0, []
    async with httpx.AsyncClient(timeout=30) as client:
        for name, process in running_.items():
            document = (await client.get(f"{process.url}/openapi.json")).json()
            for template, operations in document["paths"].items():
                for method, operation in operations.items():
                    rule = operation.get("x-vafa-permission")
                    assert rule is not None, f"{name} {method.upper()} {template} declares no permission"
                    if rule in ("public", "sign-in"):
                        continue  # probes and documents; the sign-in routes take credentials in the body
                    assert rule in MAY, f"{name} {template}: unknown permission {rule}"
                    path = template
                    for param in operation.get("parameters", []):
                        if param["in"] == "path":
                            path = path.replace("{" + param["name"] + "}", _path_value(param["name"], param))
                    body: dict[str, Any] | None = {} if method in ("post", "put", "patch") else None
                    if (method, template) == ("post", "/v1/redemptions"):
                        # The member is in the body: whose it is decides (here the own member's).
                        body = {"request_id": str(uuid.uuid4()), "member_id": OWN, "reward_id": "none"}
                    if (method, template) == ("post", "/v1/rules/preview"):
                        # A whole preview, so a role it is for gets its figures, not only a 422.
                        rules = {"effective_from": "2026-01-01T00:00:00Z", "base_rates": {"IRR": "1"}}
                        body = {"rules": rules, "days": 7}
                    request = (method.upper(), process.url + path, body)

                    for label, headers in (
                        ("anonymous", {}),
                        ("forged", {"Authorization": f"Bearer {FORGED.issue(PRINCIPALS['admin'], 60)}"}),
                        ("expired", bearer(PRINCIPALS["admin"], ttl_s=-3600)),
                        ("garbage", {"Authorization": "Bearer not.a.token"}),
                    ):
                        answer = await _call(client, request, headers)
                        checked += 1
                        if answer.status_code != 401:
                            wrong.append((name, method, template, label, answer.status_code))
                    for who, principal in PRINCIPALS.items():
                        answer = await _call(client, request, bearer(principal))
                        checked += 1
                        allowed = expected(who, rule, method.upper(), template)
                        refused = answer.status_code in (401, 403)
                        if refused == allowed or answer.status_code >= 500:
                            wrong.append((name, method, template, who, answer.status_code))
                        if refused:
                            assert answer.headers["content-type"].startswith("application/problem+json")
    assert not wrong, wrong
    print(f"access matrix: {checked} requests")
    assert checked > 1000, checked
    # Every refusal is counted, by status and reason.
    points = running_["points"]
    assert await points.metric("vafa_http_refused_total", status="403", reason="forbidden") > 0
    assert await points.metric("vafa_http_refused_total", status="401", reason="expired") > 0


async def test_a_redeem_only_key_redeems_but_cannot_change_rules_and_its_refusal_is_counted(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    ingest = await running(stack, services, log_dir, "ingest")
    points = await running(stack, services, log_dir, "points")
    key = api_key(stack, "chain", "--chain", "hyperstar", "--scope", "redeem")
    async with ingest.client(principal=None, timeout=30) as client:
        exchanged = await client.post("/v1/tokens/integration", headers={"Authorization": f"Bearer {key}"})
        assert exchanged.status_code == 200, exchanged.text
        token = exchanged.json()
        assert token["permissions"] == ["member:act", "program:read"]
        # It may not send events at ingest either: its key has no events:send.
        sent = await client.post("/v1/purchases", json={}, headers={"Authorization": f"Bearer {key}"})
        assert sent.status_code == 403
    pos = {"Authorization": f"Bearer {token['access_token']}"}
    before = await points.metric("vafa_http_refused_total", status="403", reason="forbidden")
    async with points.client(principal=None, timeout=30) as client:
        rules = {"effective_from": "2026-01-01T00:00:00Z", "base_rates": {"IRR": "1"}}
        refused = await client.post("/v1/rules", json=rules, headers=pos)
        assert refused.status_code == 403
        assert refused.json()["detail"] == f"key:{key.split('_')[1]} may not program:write"
        catalog = await client.get("/v1/rewards", headers=pos)
        assert catalog.status_code == 200
        redeem = {"request_id": str(uuid.uuid4()), "member_id": "m-1", "reward_id": "none"}
        answer = await client.post("/v1/redemptions", json=redeem, headers=pos)
        assert answer.status_code not in (401, 403), answer.text  # authorised; no such reward here
    assert await points.metric("vafa_http_refused_total", status="403", reason="forbidden") == before + 1


async def test_operators_sign_in_their_writes_are_audited_under_their_name_and_a_member_sees_only_themselves(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    ingest = await running(stack, services, log_dir, "ingest")
    points = await running(stack, services, log_dir, "points")
    made = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.ingest.cli", "operator", "add", "sara", "--role", "support"],
        cwd=REPO, env={**ingest.env}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    password = made.stdout.strip()
    async with ingest.client(principal=None, timeout=30) as client:
        wrong = await client.post("/v1/tokens/operator", json={"name": "sara", "password": "guess"})
        assert wrong.status_code == 401
        nobody = await client.post("/v1/tokens/operator", json={"name": "nobody", "password": "guess"})
        assert nobody.status_code == 401 and nobody.json()["detail"] == wrong.json()["detail"]
        signed = await client.post("/v1/tokens/operator", json={"name": "sara", "password": password})
        assert signed.status_code == 200, signed.text
        assert signed.json()["actor"] == "operator:sara"
        # Guessing is slow: after five failures the name waits, even with the right password.
        for _ in range(5):
            await client.post("/v1/tokens/operator", json={"name": "sara", "password": "guess"})
        locked = await client.post("/v1/tokens/operator", json={"name": "sara", "password": password})
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    sara = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    async with points.client(principal=None, timeout=30) as client:
        adjustment = {"request_id": str(uuid.uuid4()), "points": 120, "reason": "goodwill after a complaint"}
        # X-Operator is no longer who did it: the token says so.
        answer = await client.post(
            "/v1/members/m-7/adjustments", json=adjustment, headers=sara | {"X-Operator": "mallory"}
        )
        assert answer.status_code == 201, answer.text
        # Support may not read the audit log; an admin may.
        assert (await client.get("/v1/audit", headers=sara)).status_code == 403
        audit = await client.get("/v1/audit", params={"actor": "operator:sara"}, headers=bearer())
        (entry,) = audit.json()["entries"]
        assert (entry["action"], entry["target"]) == ("points.adjust", "member:m-7")
        assert entry["after"]["balance"] == 120
        ledger = (await client.get("/v1/members/m-7/ledger", headers=sara)).json()["entries"]
        assert [e["details"].get("operator") for e in ledger] == ["operator:sara"]
        # A member's token reads that member, and no other.
        own = await client.get("/v1/members/m-7/balance", headers=bearer(member("m-7")))
        assert own.status_code == 200 and own.json()["balance"] == 120
        other = await client.get("/v1/members/m-7/balance", headers=bearer(member("m-8")))
        assert other.status_code == 403
        adjust_self = await client.post(
            "/v1/members/m-8/adjustments", json=adjustment, headers=bearer(member("m-8"))
        )
        assert adjust_self.status_code == 403
    # Ingest audits its own: the operator the CLI added.
    async with ingest.client(timeout=30) as client:
        entries = (await client.get("/v1/audit", params={"action": "operator.add"})).json()["entries"]
        assert [(e["target"], e["after"]) for e in entries] == [("operator:sara", {"roles": ["support"]})]


async def test_a_member_signs_in_with_a_code_sent_to_their_email_and_reads_only_their_own_data(
    stack: Stack, services: list[ServiceProcess], log_dir: Path, mail: tuple[Mailbox, int]
) -> None:
    inbox, port = mail
    run = await all_five(stack, services, log_dir, VAFA_NOTIFY_SMTP_PORT=str(port))
    key = {"Authorization": f"Bearer {api_key(stack, 'chain', '--chain', 'hyperstar')}"}
    async with run["ingest"].client(principal=None, timeout=30) as client:
        for who, email in (("m-leila", "leila@mail.example"), ("m-omid", "omid@mail.example")):
            enrol = {"member_id": who, "chain_id": "hyperstar", "email": email, "locale": "en",
                     "occurred_at": "2026-11-20T10:00:00Z"}  # fmt: skip
            assert (await client.post("/v1/members", json=enrol, headers=key)).status_code == 202
        known = "SELECT count(*) = 2 FROM members WHERE locale = 'en'"
        await eventually(lambda: stack.scalar("notify", known), what="notify knows their language")

        asked = await client.post("/v1/tokens/member/code", json={"email": "LEILA@mail.example"})
        stranger = await client.post("/v1/tokens/member/code", json={"email": "nobody@mail.example"})
        # Who is a member is not told: the same answer for a stranger's address.
        assert (asked.status_code, asked.json()) == (stranger.status_code, stranger.json())
        assert asked.status_code == 202
        received = await eventually(lambda: [m for m in inbox.messages if m["To"] == "leila@mail.example"])
        assert received[0]["Subject"].startswith("Your Vafa sign-in code")
        code = received[0]["Subject"].rsplit(" ", 1)[-1]
        assert len(inbox.messages) == 1  # nothing went to the stranger

        leila = {"email": "leila@mail.example"}
        wrong = await client.post("/v1/tokens/member", json=leila | {"code": "000000"})
        assert wrong.status_code == 401
        # Persian digits typed into the box are the same code.
        persian = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
        signed = await client.post("/v1/tokens/member", json=leila | {"code": persian})
        assert signed.status_code == 200, signed.text
        again = await client.post("/v1/tokens/member", json=leila | {"code": code})
        assert again.status_code == 401  # a code works once
        token = {"Authorization": f"Bearer {signed.json()['access_token']}"}
        assert signed.json()["actor"] == "member:m-leila"
        assert (await client.get("/v1/members/m-leila/export", headers=token)).status_code == 200
        assert (await client.get("/v1/members/m-omid/export", headers=token)).status_code == 403
        for _ in range(3):
            await client.post("/v1/tokens/member/code", json={"phone": "+989120000000"})
        limited = await client.post("/v1/tokens/member/code", json={"phone": "+989120000000"})
        assert limited.status_code == 429
    async with run["points"].client(principal=None, timeout=30) as client:
        assert (await client.get("/v1/members/m-omid/ledger", headers=token)).status_code == 403
        assert (await client.get("/v1/members/m-leila/ledger", headers=token)).status_code == 200


async def test_every_console_page_answers_each_operator_as_its_rule_says(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    """The console's pages from its OpenAPI document x every operator role and every bad session: a
    role the page's permission allows gets the page (its blocks may say a service is away), every other
    a 403 page; no session, a forged, expired or garbage one, goes to sign-in. A page without a declared
    rule fails here."""
    ingest = await running(stack, services, log_dir, "ingest")
    site = await console(services, log_dir, {"ingest": ingest})
    checked, wrong = 0, []
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        document = (await client.get("/openapi.json")).json()
        for template, operations in document["paths"].items():
            for method, operation in operations.items():
                rule = operation.get("x-vafa-permission")
                assert rule is not None, f"console {method.upper()} {template} declares no permission"
                if rule in ("public", "sign-in"):
                    continue
                path = template.replace("{member_id}", OWN)

                async def call(token: str | None, method: str = method) -> httpx.Response:
                    cookies = {COOKIE: token} if token else {}
                    form = None
                    if method == "post" and token:  # a real form: the session's CSRF token with it
                        form = {"csrf": csrf_token(ConsoleSettings(), token), "points": "1",
                                "reason": "matrix", "request_id": str(uuid.uuid4())}  # fmt: skip
                    client.cookies = cookies  # this call's session alone, nothing kept from others
                    return await client.request(method.upper(), path, data=form)  # noqa: B023

                for label, token in (
                    ("anonymous", None),
                    ("forged", FORGED.issue(PRINCIPALS["admin"], 60)),
                    ("expired", DEV_KEYS.issue(PRINCIPALS["admin"], -3600)),
                    ("garbage", "not.a.token"),
                    ("member", DEV_KEYS.issue(PRINCIPALS["member"], 60)),  # a member is no operator
                ):
                    answer = await call(token)
                    checked += 1
                    if answer.status_code != 303 or not answer.headers["location"].startswith("/sign-in"):
                        wrong.append((method, template, label, answer.status_code))
                for who in sorted(OPERATORS):
                    answer = await call(DEV_KEYS.issue(PRINCIPALS[who], 600))
                    checked += 1
                    allowed = who in MAY[rule]
                    refused = answer.status_code == 403
                    to_sign_in = answer.headers.get("location", "").startswith("/sign-in")
                    if refused == allowed or answer.status_code >= 500 or to_sign_in:
                        wrong.append((method, template, who, answer.status_code))
                    if refused:
                        assert "text/html" in answer.headers["content-type"]
    assert not wrong, wrong
    assert checked > 40, checked


async def test_every_portal_page_answers_only_a_members_session(
    stack: Stack, services: list[ServiceProcess], log_dir: Path
) -> None:
    """The member portal's pages from its OpenAPI document: a member's session gets the page (its
    blocks may say a service is away; a form is answered with a page, never a refusal of the member),
    and no session, a forged, expired or garbage one, or an operator's or a service's token (no member
    of anyone), goes to sign-in. Its JSON API (``/api/``) takes the token as a Bearer header instead: a
    member's answers, no token or a bad one is a 401 and anyone else's a 403, as problems. A page
    without a declared rule fails here."""
    ingest = await running(stack, services, log_dir, "ingest")
    site = await portal(services, log_dir, {"ingest": ingest})
    checked, wrong = 0, []
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        document = (await client.get("/openapi.json")).json()
        for template, operations in document["paths"].items():
            for method, operation in operations.items():
                rule = operation.get("x-vafa-permission")
                assert rule is not None, f"portal {method.upper()} {template} declares no permission"
                if rule in ("public", "sign-in"):
                    continue
                assert rule in ("member:read", "member:act"), f"portal {template}: {rule}"

                async def call(
                    token: str | None, method: str = method, path: str = template
                ) -> httpx.Response:
                    cookies = {PORTAL.name: token} if token else {}
                    form = None
                    if method == "post" and token:  # a real form: the session's CSRF token with it
                        form = {"csrf": PORTAL.csrf_token(ConsoleSettings(), token), "reward_id": "none",
                                "request_id": str(uuid.uuid4()), "email": "on"}  # fmt: skip
                    client.cookies = cookies  # this call's session alone, nothing kept from others
                    return await client.request(method.upper(), path, data=form)

                async def bearing(
                    token: str | None, method: str = method, path: str = template
                ) -> httpx.Response:
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    # The session's cookie alone is no credential for the API (a cross-site read would be).
                    cookies = {PORTAL.name: DEV_KEYS.issue(PRINCIPALS["member"], 600)}
                    client.cookies = cookies
                    return await client.request(method.upper(), path, headers=headers)

                api = template.startswith("/api/")
                for label, token in (
                    ("anonymous", None),
                    ("forged", FORGED.issue(PRINCIPALS["member"], 60)),
                    ("expired", DEV_KEYS.issue(PRINCIPALS["member"], -3600)),
                    ("garbage", "not.a.token"),
                    *((who, DEV_KEYS.issue(PRINCIPALS[who], 60)) for who in sorted(OPERATORS)),
                    ("notify-service", DEV_KEYS.issue(PRINCIPALS["notify-service"], 60)),
                ):
                    checked += 1
                    if api:
                        answer = await bearing(token)
                        status = 401 if label in ("anonymous", "forged", "expired", "garbage") else 403
                        if (
                            answer.status_code != status
                            or "problem+json" not in answer.headers["content-type"]
                        ):
                            wrong.append((method, template, label, answer.status_code))
                        continue
                    answer = await call(token)
                    if answer.status_code != 303 or not answer.headers["location"].startswith("/sign-in"):
                        wrong.append((method, template, label, answer.status_code))
                checked += 1
                if api:
                    answer = await bearing(DEV_KEYS.issue(PRINCIPALS["member"], 600))
                    if answer.status_code != 200 or answer.json()["member_id"] != OWN:
                        wrong.append((method, template, "member", answer.status_code))
                    continue
                answer = await call(DEV_KEYS.issue(PRINCIPALS["member"], 600))
                if (
                    answer.status_code in (401, 403)
                    or answer.status_code >= 500
                    or "location" in answer.headers
                ):
                    wrong.append((method, template, "member", answer.status_code))
                assert "text/html" in answer.headers["content-type"]
    assert not wrong, wrong
    assert checked > 20, checked
