"""Declaring response models changed no body: each model serializes a route's sample answer exactly as
the route's old ``-> dict[str, Any]`` annotation did (FastAPI took it for the response model, so
pydantic wrote datetimes with ``Z``, Decimals as strings); an optional key absent stays absent."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal as D
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter

from services.analytics import schemas as a
from services.analytics.api import exact
from services.analytics.domain.kpis import Group, points_economics, promotion_lift
from services.analytics.figures import Period
from services.analytics.store.repository import Scope
from services.ingest.privacy_api import Export as IngestExport
from services.notify import main as n
from services.points import schemas as s
from services.points.programs.causes import api as causes
from services.points.programs.challenges import api as challenges
from services.points.programs.challenges.domain import Challenge
from services.points.programs.games import api as games
from services.points.programs.referrals import api as referrals
from services.points.programs.sunset import api as sunset
from services.tiers import api as t

now = dt.datetime(2026, 12, 2, 7, 30, 1, 123456, tzinfo=dt.UTC)
_AS_BEFORE = TypeAdapter(dict[str, Any])
CASES: list[tuple[type[BaseModel], dict[str, Any], bool, dict[str, Any] | None]] = []


def check(
    model: type[BaseModel], d: dict[str, Any], unset: bool = False, old: dict[str, Any] | None = None
) -> None:
    CASES.append((model, d, unset, old))


entry = {
    "id": 5,
    "kind": "earn",
    "points": 10,
    "source_event_id": uuid.uuid4(),
    "occurred_at": now,
    "details": {"lines": [{"x": 1}], "at": "2026"},
}
check(s.Balance, {"member_id": "m", "balance": 1, "debt": 0})
check(s.Ledger, {"member_id": "m", "entries": [entry], "next_before": None})
check(s.Adjusted, {"member_id": "m", "points": 1, "request_id": "r"}, True)
check(s.Adjusted, {"member_id": "m", "points": 1, "balance": 3, "request_id": "r"}, True)
check(s.Transferred, {"transfer_id": "t", "from": "a", "points": 3}, True)
check(s.Transferred, {"transfer_id": "t", "from": "a", "to": "b", "points": 3, "balance": 4}, True)
check(s.Rules, {"versions": [{"version": 0, "rules": {"base_rates": {"IRR": "1"}}}]})
check(s.RulesAdded, {"version": 1, "effective_from": now.isoformat()})
check(
    s.Settlement,
    {
        "partner_id": "p",
        "from": now,
        "to": now,
        "points": 1,
        "lines": [{"campaign_id": None, "points": 1, "earns": 1}],
    },
)
check(
    s.RulePreview,
    {
        "from": now,
        "to": now,
        "purchases": 3,
        "members": 2,
        "points_now": 825,
        "points_candidate": 1000,
        "difference": 175,
        "top": [{"member_id": "m", "purchases": 1, "now": 550, "candidate": 700, "difference": 150}],
    },
)
check(
    s.Lots,
    {
        "member_id": "m",
        "lots": [
            {"lot_id": uuid.uuid4(), "points": 300, "remaining": 120, "earned_at": now, "expires_at": now},
            {"lot_id": uuid.uuid4(), "points": 5, "remaining": 5, "earned_at": now, "expires_at": None},
        ],
    },
)
check(
    s.Reward,
    {
        "reward_id": "r",
        "name": "n",
        "kind": "voucher",
        "cost_points": 1,
        "stock": None,
        "valid_from": "2026-12-02T07:30:01Z",
        "valid_until": None,
        "active": True,
    },
)
check(
    s.Catalog,
    {
        "rewards": [
            {
                "reward_id": "r",
                "name": "n",
                "kind": "voucher",
                "cost_points": 1,
                "stock": None,
                "valid_from": now,
                "valid_until": None,
                "active": True,
            }
        ]
    },
)
check(
    s.Redemption,
    {
        "redemption_id": "x",
        "member_id": "m",
        "reward_id": "r",
        "points": 1,
        "status": "reserved",
        "hold_until": now.isoformat(),
        "balance": 3,
    },
    True,
)
check(
    s.Redemption,
    {
        "redemption_id": "x",
        "member_id": "m",
        "reward_id": "r",
        "points": 1,
        "status": "confirmed",
        "hold_until": now.isoformat(),
        "code": "AB",
    },
    True,
)
cause = {
    "cause_id": "c",
    "name": "n",
    "active": True,
    "match_ratio": "0.50",
    "given_points": 1,
    "matched_points": 0,
    "total_points": 1,
    "donors": 1,
    "donations": 1,
    "match_budget_left": 3,
}
check(causes.Cause, cause)
check(causes.Causes, {"causes": [cause]})
check(
    causes.Donation,
    {"donation_id": "d", "member_id": "m", "cause_id": "c", "points": 1, "matched": 0, "at": now},
    True,
)
check(
    causes.Donation,
    {
        "donation_id": "d",
        "member_id": "m",
        "cause_id": "c",
        "points": 1,
        "matched": 0,
        "at": now,
        "balance": 2,
    },
    True,
)
check(
    games.GameView,
    {
        "game_id": "g",
        "name": "n",
        "currency": "IRR",
        "prizes": [{"name": "a", "odds": "0.10"}],
        "win_odds": "0.1",
        "commitment": "c",
        "plays": 0,
        "prizes_won": 0,
        "budget_left": 5,
        "stock_left": {"a": None},
    },
)
check(
    games.GameAudit,
    {
        "game_id": "g",
        "commitment": "c",
        "seed": None,
        "how_to_verify": "h",
        "plays": [
            {
                "play_id": str(uuid.uuid4()),
                "member_id": "m",
                "purchase_event_id": str(uuid.uuid4()),
                "proof": "p",
                "prize": None,
                "points": 0,
                "at": now,
            }
        ],
        "next_offset": None,
    },
)
check(
    sunset.ProgramView, {"program_id": "p", "name": "x", "ends_at": "2026-12-01T00:00:00Z", "closed_at": now}
)
check(
    sunset.ProgramView, {"program_id": "p", "name": "x", "ends_at": "2026-12-01T00:00:00Z", "closed_at": None}
)
check(
    challenges.ChallengeView,
    {"challenge_id": "c", **Challenge(name="n", kind="visits", target=3).model_dump()},
)
ref = {
    "friend_id": "f",
    "referrer_id": "r",
    "code": "C",
    "enrolled_at": now,
    "status": "pending",
    "reason": "",
    "purchase_event_id": None,
    "rewarded_at": None,
}
refs = {"member_id": "m", "code": None, "referred": [ref], "referred_by": ref}
check(referrals.MemberReferrals, refs)
check(referrals.ReferralCode, {"member_id": "m", "code": "ABCD1234"})
ch = [{"challenge_id": "c", "name": "n", "period": "2026-12", "progress": 1, "target": 3, "badge": False}]
check(challenges.MemberChallenges, {"member_id": "m", "challenges": ch})
check(
    s.Export,
    {
        "member_id": "m",
        "balance": 1,
        "debt": 0,
        "ledger": [entry],
        "referrals": refs,
        "challenges": ch,
        "birthday": "--02-29",
    },
)
# analytics
p = Period(now - dt.timedelta(days=30), now)
summ = {
    "N": 3,
    "V": D("12.50"),
    "F": D("1.3333"),
    "S": None,
    "purchases": 4,
    "gross_revenue": D("100.00"),
    "refunds": D("0"),
    "net_revenue": D("100.00"),
    "average_transaction_value": D("25.00"),
    "repeat_purchase_rate": D("0.3333"),
    "retention_rate": None,
    "churn_rate": None,
    "previous_period_customers": 0,
    "annual_sales_per_customer": D("33.33"),
    "customer_lifetime_value": None,
    "top_20_percent_revenue_share": D("0.5"),
    "members": {"customers": 1, "value_per_customer": D("10.00")},
    "non_members": {"customers": 2, "value_per_customer": None},
    "member_lift": None,
}
check(
    a.Summary,
    {"period": vars(p), "scope": vars(Scope("IRR"))} | summ,
    old={"period": p, "scope": vars(Scope("IRR"))} | summ,
)
check(
    a.Cohorts,
    exact({"to": now, "cohorts": [{"cohort": "2026-11", "size": 3, "retention": [D("1.0000"), None]}]}),
)
check(a.PointsFigures, exact(points_economics({"issued": 10, "redeemed": -3, "expired": -1}, 2, 6)))
check(
    a.TiersFigures,
    exact(
        {
            "distribution": {"Gold": 1},
            "migration": [{"from": None, "to": "Gold", "members": 1}],
            "vip": {"members": 1, "fees": D("10.00"), "revenue": D("25.00")},
        }
    ),
)
check(
    a.Partners, exact({"partners": [{"partner_id": "p", "purchases": 1, "amount": D("3.50"), "members": 1}]})
)
check(a.Segments, {"matrix": {"true_friends": 1}, "rfm": {"champions": 1}})
check(a.Notifications, {"channels": {"email": {"sent": 1}}})
check(
    a.Promotions,
    exact(
        {
            "to": now,
            "promotions": [
                {"promotion": "x"} | promotion_lift(Group(10, 3, 4, D("100.00")), Group(2, 1, 1, D("5.00")))
            ],
        }
    ),
)
check(
    a.Promotions,
    exact(
        {
            "to": now,
            "promotions": [{"promotion": "x"} | promotion_lift(Group(0, 0, 0, D(0)), Group(0, 0, 0, D(0)))],
        }
    ),
)
# tiers
check(
    t.TierView,
    {
        "member_id": "m",
        "program_id": "main",
        "tier": "Gold",
        "since": now,
        "review_at": now,
        "vip_until": None,
        "benefits": {"earn_multiplier": "1.5", "perks": []},
        "metric": "spend",
        "qualifying_value": D("1500000.50"),
        "next": {"tier": "Plat", "remaining": D("10")},
    },
)
check(
    t.TierView,
    {
        "member_id": "m",
        "program_id": "main",
        "tier": "Gold",
        "since": now,
        "review_at": now,
        "vip_until": now,
        "benefits": {},
        "metric": "visits",
        "qualifying_value": D(3),
        "next": {"tier": "P", "remaining": 0},
    },
)
check(
    t.History,
    {
        "member_id": "m",
        "program_id": "club",
        "changes": [{"from_tier": None, "to_tier": "B", "reason": "r", "at": now}],
        "next_offset": None,
    },
)
check(t.Export, {"member_id": "m", "standing": {"tier": "B", "since": now}, "changes": [], "programs": []})
check(
    t.Export,
    {
        "member_id": "m",
        "standing": None,
        "changes": [],
        "programs": [
            {
                "program_id": "club",
                "standing": {"tier": "S", "since": now},
                "changes": [{"from_tier": "B", "to_tier": "S", "reason": "qualified", "at": now}],
            }
        ],
    },
)
# notify
check(
    n.Deliveries,
    {
        "member_id": "m",
        "deliveries": [
            {
                "source_type": "points.earned",
                "channel": "email",
                "status": "sent",
                "reason": "",
                "subject": None,
                "send_after": now,
                "sent_at": now,
            }
        ],
        "next_offset": 2,
    },
)
check(
    n.Export,
    {
        "member_id": "m",
        "profile": {
            "member_id": "m",
            "email": None,
            "phone": None,
            "held": ["email"],
            "locale": "fa",
            "timezone": "Asia/Tehran",
            "consents": {"email": True},
        },
        "deliveries": [
            {
                "source_event_id": uuid.uuid4(),
                "channel": "email",
                "member_id": "m",
                "source_type": "x",
                "status": "sent",
                "reason": "",
                "address": None,
                "subject": "s",
                "body": "b",
                "send_after": now,
                "attempts": 1,
                "created_at": now,
                "sent_at": None,
            }
        ],
    },
)
check(n.Export, {"member_id": "m", "profile": None, "deliveries": []})
check(n.Summary, {"channels": {"email": {"queued": 0, "sent": 1, "failed": 0, "suppressed": {"cap": 2}}}})
check(
    IngestExport,
    {"member_id": "m", "enrolled_by_chain": "c", "contact": {"email": "a@b.c", "phone": None},
     "birth_date": dt.date(1992, 2, 29)},
)  # fmt: skip
check(IngestExport, {"member_id": "m", "enrolled_by_chain": None, "contact": {}, "birth_date": None})


@pytest.mark.parametrize(("model", "answer", "unset", "old"), CASES, ids=[c[0].__name__ for c in CASES])
def test_a_model_writes_the_body_the_route_wrote(
    model: type[BaseModel], answer: dict[str, Any], unset: bool, old: dict[str, Any] | None
) -> None:
    declared = model.model_validate(answer).model_dump(mode="json", by_alias=True, exclude_unset=unset)
    assert declared == _AS_BEFORE.dump_python(old if old is not None else answer, mode="json")
