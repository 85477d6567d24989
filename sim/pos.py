"""A deterministic POS stream with a realistic shape: several chains and stores, members
Zipf-distributed (a few shop a lot), baskets of several lines, card and cash tenders.

Items are the JSON ingest takes (``POST /v1/batch`` items, or one per record on ``pos.raw``).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.contracts.envelope import utcnow

CATEGORIES = {
    "dairy": ["milk-1l", "yoghurt-900g", "cheese-400g", "doogh-1.5l"],
    "bakery": ["sangak", "barbari", "lavash-pack"],
    "produce": ["tomato-kg", "cucumber-kg", "saffron-4g", "pistachio-500g"],
    "household": ["detergent-3kg", "tissue-10", "dish-soap"],
    "beverages": ["tea-500g", "coffee-250g", "water-6x1.5l"],
}
# Prices in rials (IRR), whole thousands as shelves show them.
PRICES = {sku: (i % 7 + 1) * 37_000 + (i % 3) * 120_000 for i, sku in enumerate(
    sku for skus in CATEGORIES.values() for sku in skus
)}  # fmt: skip


@dataclass
class PosSimulator:
    seed: int = 7
    members: int = 800
    chains: dict[str, int] = field(default_factory=lambda: {"hyperstar": 5, "refah": 4, "ofogh-kourosh": 3})
    start: datetime = field(default_factory=lambda: utcnow() - timedelta(hours=12))
    run: str = "r1"  # distinguishes the receipts of separate runs against the same stores

    returns_share: float = 0.04
    partner_share: float = 0.01
    vip_share: float = 0.002

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self.member_ids = [f"09{self._rng.randrange(10**8, 10**9)}" for _ in range(self.members)]
        # Zipf: the member of rank r shops in proportion to 1/r. Cumulative once: choices() is then O(log n).
        self._cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(self.members)))
        self._n = 0
        self._sold: list[dict[str, Any]] = []

    def purchase(self, member: str | None = None) -> dict[str, Any]:
        rng = self._rng
        self._n += 1
        chain = rng.choice(sorted(self.chains))
        store = f"{chain}-{rng.randrange(1, self.chains[chain] + 1):02d}"
        lines = []
        for _ in range(rng.randrange(1, 8)):
            category = rng.choice(sorted(CATEGORIES))
            sku = rng.choice(CATEGORIES[category])
            quantity = rng.randrange(1, 4)
            lines.append({
                "sku": sku, "category": category, "quantity": str(quantity),
                "unit_price": str(PRICES[sku]), "amount": str(quantity * PRICES[sku]),
            })  # fmt: skip
        total = sum(Decimal(line["amount"]) for line in lines)
        return {
            "kind": "purchase",
            "chain_id": chain,
            "store_id": store,
            "terminal_id": f"t{rng.randrange(1, 9)}",
            "receipt_no": f"{self.run}-{store}-{self._n:07d}",
            "member_id": member or self._member(),
            "currency": "IRR",
            "timezone": "Asia/Tehran",
            "occurred_at": (self.start + timedelta(seconds=self._n * 7)).isoformat(),
            "lines": lines,
            "tenders": [{"kind": rng.choice(["card", "card", "cash", "wallet"]), "amount": str(total)}],
            "total_amount": str(total),
        }

    def purchases(self, count: int) -> Iterator[dict[str, Any]]:
        for _ in range(count):
            yield self.purchase()

    def mixed(self, count: int) -> Iterator[dict[str, Any]]:
        """A realistic day: mostly purchases, a few returns of earlier ones (some partial), partner
        brands' purchases and paid VIP memberships, in those shares."""
        rng = self._rng
        for _ in range(count):
            roll = rng.random()
            if roll < self.returns_share and self._sold:
                # One return per receipt: ingest refuses refunds past what a receipt sold.
                yield self.return_of(self._sold.pop(rng.randrange(len(self._sold))))
            elif roll < self.returns_share + self.partner_share:
                yield self.partner_purchase()
            elif roll < self.returns_share + self.partner_share + self.vip_share:
                yield self.vip()
            else:
                item = self.purchase()
                self._sold.append(item)
                yield item

    def _member(self) -> str:
        return self._rng.choices(self.member_ids, cum_weights=self._cumulative)[0]

    def _when(self) -> str:
        self._n += 1
        return (self.start + timedelta(seconds=self._n * 7)).isoformat()

    def return_of(self, sold: dict[str, Any]) -> dict[str, Any]:
        full = self._rng.random() < 0.5
        line = sold["lines"][0]
        returned = [] if full else [{"sku": line["sku"], "quantity": "1", "amount": line["unit_price"]}]
        return {
            "kind": "return",
            "chain_id": sold["chain_id"],
            "store_id": sold["store_id"],
            "return_no": f"{self.run}-RT-{self._n:07d}",
            "original_store_id": sold["store_id"],
            "original_receipt_no": sold["receipt_no"],
            "member_id": sold["member_id"],
            "currency": "IRR",
            "full": full,
            "lines": returned,
            "refund_amount": sold["total_amount"] if full else line["unit_price"],
            "occurred_at": self._when(),
        }

    def enrolments(self, share: float = 0.8) -> Iterator[dict[str, Any]]:
        """Most members enrolled (the rest shop with a card the program never saw), mostly in Persian,
        about half with consent to email, all before the stream starts."""
        rng = self._rng
        for member in self.member_ids:
            if rng.random() >= share:
                continue
            yield {
                "kind": "member_enrolled",
                "member_id": member,
                "chain_id": rng.choice(sorted(self.chains)),
                "email": f"{member}@mail.example",
                "locale": "fa" if rng.random() < 0.85 else "en",
                "timezone": "Asia/Tehran",
                "consents": {"email": rng.random() < 0.5},
                "occurred_at": (self.start - timedelta(days=rng.randrange(1, 400))).isoformat(),
            }

    def partner_purchase(self) -> dict[str, Any]:
        rng = self._rng
        return {
            "kind": "partner_purchase",
            "partner_id": rng.choice(["snapp", "digikala"]),
            "receipt_no": f"{self.run}-P-{self._n:07d}",
            "member_id": self._member(),
            "currency": "IRR",
            "total_amount": str(rng.randrange(10, 500) * 10_000),
            "occurred_at": self._when(),
        }

    def vip(self) -> dict[str, Any]:
        rng = self._rng
        return {
            "kind": "vip_purchased",
            "member_id": self._member(),
            "chain_id": rng.choice(sorted(self.chains)),
            "order_no": f"{self.run}-V-{self._n:07d}",
            "plan": "gold-year",
            "fee": "9900000",
            "currency": "IRR",
            "term_months": 12,
            "occurred_at": self._when(),
        }
