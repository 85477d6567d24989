"""What the stores and topics must hold after a chaos run, computed from the input stream alone.

Every check names what it compared. ``lost`` counts accepted events missing anywhere they must have an
effect; ``duplicates`` counts effects applied more than once. Records repeated on a topic are not
duplicates (the outbox relay publishes at least once); an effect applied twice is.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import orjson

from services.ingest.domain import purchase_event_id
from shared.topics import Topic
from sim.harness import Stack


def _check(ok: bool, detail: str) -> dict[str, Any]:
    return {"ok": ok, "detail": detail}


class Oracle:
    def __init__(
        self,
        enrolments: list[dict[str, Any]],
        stream: list[dict[str, Any]],
        earn_rate: str,
        ladder: dict[str, Any],
    ) -> None:
        self.consenting = {e["member_id"] for e in enrolments if e["consents"].get("email")}
        self.rate = Decimal(earn_rate)
        self.purchases: dict[uuid.UUID, dict[str, Any]] = {}
        self.returns: dict[str, dict[str, Any]] = {}
        running: dict[str, Decimal] = defaultdict(Decimal)
        peak: dict[str, Decimal] = {}
        for item in stream:
            if item["kind"] == "purchase":
                key = purchase_event_id(item["chain_id"], item["store_id"], item["receipt_no"])
                if key in self.purchases:
                    continue  # a POS retry: the same receipt again
                self.purchases[key] = item
                running[item["member_id"]] += Decimal(item["total_amount"])
            elif item["kind"] == "return":
                self.returns[item["return_no"]] = item
                running[item["member_id"]] -= Decimal(item["refund_amount"])
            member = item["member_id"]
            peak[member] = max(peak.get(member, Decimal(0)), running[member])
        # Upgrades happen as soon as the spend is reached; a return does not downgrade before review.
        thresholds = sorted((Decimal(t["threshold"]), t["name"]) for t in ladder["tiers"])
        self.tiers = {m: [n for t, n in thresholds if t <= top][-1] for m, top in peak.items()}

    def earn(self, event_id: uuid.UUID) -> int:
        amount = Decimal(self.purchases[event_id]["total_amount"])
        return int((amount * self.rate).to_integral_value(ROUND_FLOOR))

    async def check(self, stack: Stack, emails_received: int, notify_crashes: int) -> dict[str, Any]:
        on_topic = [orjson.loads(r.value) for r in await stack.read_all(Topic.PURCHASES, timeout=60)]
        purchase_ids = {uuid.UUID(e["event_id"]) for e in on_topic if e["type"] == "purchase.recorded"}
        return_ids = {uuid.UUID(e["event_id"]) for e in on_topic if e["type"] == "return.recorded"}
        returned_nos = {e["payload"]["return_no"] for e in on_topic if e["type"] == "return.recorded"}
        lost = len(self.purchases.keys() - purchase_ids) + len(self.returns.keys() - returned_nos)
        checks: dict[str, Any] = {
            "ingest forwarded every purchase and return once": _check(
                purchase_ids == set(self.purchases) and returned_nos == set(self.returns),
                f"{len(purchase_ids)}/{len(self.purchases)} purchases, "
                f"{len(returned_nos)}/{len(self.returns)} returns on pos.purchases",
            )
        }

        ledger = await stack.query("points", "SELECT kind, points, source_event_id FROM ledger")
        earns = Counter(r["source_event_id"] for r in ledger if r["kind"] == "earn")
        reversals = Counter(r["source_event_id"] for r in ledger if r["kind"] == "reverse")
        points_of = {r["source_event_id"]: int(r["points"]) for r in ledger if r["kind"] == "earn"}
        wrong = [
            k for k, n in earns.items() if k in self.purchases and n == 1 and points_of[k] != self.earn(k)
        ]
        duplicates = sum(n - 1 for n in earns.values()) + sum(n - 1 for n in reversals.values())
        lost += len(self.purchases.keys() - earns.keys()) + len(return_ids - reversals.keys())
        checks["points: one earn per purchase, as the rate says"] = _check(
            set(earns) == set(self.purchases) and not wrong and max(earns.values(), default=1) == 1,
            f"{len(earns)} earn entries for {len(self.purchases)} purchases, {len(wrong)} with other points",
        )
        checks["points: one reversal per return"] = _check(
            set(reversals) == return_ids and max(reversals.values(), default=1) == 1,
            f"{len(reversals)} reversals for {len(return_ids)} returns",
        )
        mismatched = await stack.query(
            "points",
            """SELECT b.member_id FROM balances b
               LEFT JOIN (SELECT member_id, sum(points) AS total FROM ledger GROUP BY member_id) l
                 USING (member_id)
               WHERE b.balance IS DISTINCT FROM l.total""",
        )
        checks["points: balances == sum(ledger)"] = _check(
            not mismatched, f"{len(mismatched)} members differ"
        )

        standings = {
            r["member_id"]: r["tier"]
            for r in await stack.query("tiers", "SELECT member_id, tier FROM standings")
        }
        off = {m: (standings.get(m), t) for m, t in self.tiers.items() if standings.get(m, "Bronze") != t}
        checks["tiers as the ladder says"] = _check(
            not off,
            f"{len(self.tiers)} members, {len(off)} off (got, expected): {dict(list(off.items())[:5])}",
        )

        earned_events = {}
        for record in await stack.read_all(Topic.POINTS, timeout=60):
            event = orjson.loads(record.value)
            if event["type"] == "points.earned":
                earned_events[uuid.UUID(event["event_id"])] = event["key"]
        rows = await stack.query(
            "notify", "SELECT source_event_id, status FROM deliveries WHERE source_type = 'points.earned'"
        )
        by_event = Counter(r["source_event_id"] for r in rows)
        sent = sum(r["status"] == "sent" for r in rows)
        should_send = sum(member in self.consenting for member in earned_events.values())
        checks["notify: one delivery per points.earned, sent where consented"] = _check(
            set(by_event) == set(earned_events) and sent == should_send,
            f"{len(by_event)} deliveries for {len(earned_events)} events; "
            f"{sent} sent, {should_send} consented",
        )
        all_sent = await stack.scalar("notify", "SELECT count(*) FROM deliveries WHERE status = 'sent'")
        # SMTP has no idempotency key: a crash between the server's acceptance and the commit repeats
        # that one email (sender.py), so at most one repeat per time notify died.
        repeated = emails_received - all_sent
        checks["notify: every sent email received, at most one repeat per crash"] = _check(
            0 <= repeated <= notify_crashes,
            f"{emails_received} received for {all_sent} sent: {repeated} repeated; "
            f"notify died {notify_crashes} time(s)",
        )

        facts = (
            await stack.query(
                "analytics",
                """SELECT (SELECT count(*) FROM purchases) AS purchases,
                      (SELECT sum(amount) FROM purchases) AS amount,
                      (SELECT count(*) FROM returns) AS returns, (SELECT sum(refund) FROM returns) AS refunds,
                      (SELECT count(*) FROM points_moves) AS moves""",
            )
        )[0]
        points_events = {
            orjson.loads(r.value)["event_id"] for r in await stack.read_all(Topic.POINTS, timeout=60)
        }
        expected_amount = sum((Decimal(p["total_amount"]) for p in self.purchases.values()), Decimal(0))
        expected_refunds = sum((Decimal(r["refund_amount"]) for r in self.returns.values()), Decimal(0))
        analytics_ok = (
            facts["purchases"] == len(self.purchases)
            and facts["amount"] == expected_amount
            and facts["returns"] == len(self.returns)
            and (facts["refunds"] or 0) == expected_refunds
            and facts["moves"] == len(points_events)
        )
        lost += max(len(self.purchases) - facts["purchases"], 0)
        checks["analytics totals equal the stream"] = _check(
            analytics_ok,
            f"{facts['purchases']} purchases / {facts['amount']} IRR (stream {len(self.purchases)} / "
            f"{expected_amount}); {facts['returns']} returns; "
            f"{facts['moves']} points moves of {len(points_events)}",
        )
        return {"lost": lost, "duplicates": duplicates, **checks}
