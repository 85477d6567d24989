"""Why a member has their points, in plain words: each ledger entry's reason. Pure. The console shows it
to operators and the portal to the member, in the same words (``WORDS``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

# key -> (English, Persian): each entry's kind and its reason, with the values ``why`` gives.
WORDS: Mapping[str, tuple[str, str]] = {
    "kind_earn": ("Earned", "کسب"),
    "kind_reverse": ("Taken back", "بازپس‌گیری"),
    "kind_redeem": ("Redeemed", "استفاده"),
    "kind_redeem_release": ("Given back", "بازگشت"),
    "kind_expire": ("Expired", "انقضا"),
    "kind_adjust": ("Adjusted", "اصلاح"),
    "kind_transfer_out": ("Sent", "انتقال به دیگری"),
    "kind_transfer_in": ("Received", "دریافت از دیگری"),
    "kind_referral": ("Referral", "معرفی"),
    "kind_badge": ("Badge", "نشان"),
    "kind_prize": ("Prize", "جایزه"),
    "kind_donate": ("Donated", "اهدا"),
    "kind_sunset": ("Program ended", "پایان برنامه"),
    "kind_opening_balance": ("Opening balance", "موجودی آغازین"),
    "why_earn": ("A purchase of {amount} {currency}:", "خرید {amount} {currency}:"),
    "why_reverse": (
        "A return of {amount} took back what its purchase earned.",
        "مرجوعی {amount}، امتیاز خریدش را پس گرفت.",
    ),
    "why_adjust": ("{operator}: “{reason}”", "{operator}: «{reason}»"),
    "why_redeem": ("Reward {reward}.", "جایزهٔ {reward}."),
    "why_redeem_release": (
        "Reward {reward} not taken ({reason}): the points came back.",
        "جایزهٔ {reward} گرفته نشد ({reason})؛ امتیازها برگشت.",
    ),
    "why_expire": ("Unspent points expired.", "امتیازهای خرج‌نشده منقضی شد."),
    "why_transfer_out": ("Given to member {other}.", "به عضو {other} داده شد."),
    "why_transfer_in": ("Given by member {other}.", "از عضو {other} رسید."),
    "why_referral": ("Referral of {friend} rewarded.", "پاداش معرفی {friend}."),
    "why_badge": ("Challenge {challenge} completed ({period}).", "چالش {challenge} کامل شد ({period})."),
    "why_prize": ("Prize {prize} in game {game}.", "جایزهٔ {prize} در بازی {game}."),
    "why_donate": ("Given to cause {cause}.", "به {cause} اهدا شد."),
    "why_sunset": ("Program {program} ended: {offer}.", "برنامهٔ {program} پایان یافت: {offer}."),
    "why_opening_balance": (
        "Brought from the previous program (import {import_id}, row {row}, by {operator}).",
        "از برنامهٔ پیشین آورده شد (ورود {import_id}، ردیف {row}، توسط {operator}).",
    ),
    "why_other": ("{kind}", "{kind}"),
}


@dataclass(frozen=True)
class Why:
    """An entry's reason: a sentence (its word key and values) and, for an earn, each rule's points."""

    key: str
    values: Mapping[str, object]
    rules: tuple[tuple[str, int], ...] = ()


def why(entry: Mapping[str, Any]) -> Why:
    kind = str(entry.get("kind", ""))
    d: Mapping[str, Any] = entry.get("details") or {}
    if not isinstance(d, Mapping):
        d = {}
    match kind:
        case "earn":
            rules = tuple(
                (str(r.get("rule", "")), int(r.get("points", 0)))
                for r in d.get("rules", [])
                if isinstance(r, Mapping)
            )
            return Why(
                "why_earn", {"amount": _amount(d.get("amount")), "currency": d.get("currency", "")}, rules
            )
        case "reverse":
            return Why("why_reverse", {"amount": _amount(d.get("refund_amount"))})
        case "adjust":
            return Why("why_adjust", {"operator": d.get("operator", ""), "reason": d.get("reason", "")})
        case "redeem":
            return Why("why_redeem", {"reward": d.get("reward_id", "")})
        case "redeem_release":
            return Why(
                "why_redeem_release", {"reward": d.get("reward_id", ""), "reason": d.get("reason", "")}
            )
        case "expire":
            return Why("why_expire", {})
        case "transfer_out":
            return Why("why_transfer_out", {"other": d.get("to", "")})
        case "transfer_in":
            return Why("why_transfer_in", {"other": d.get("from", "")})
        case "referral":
            return Why("why_referral", {"friend": d.get("friend_id", "")})
        case "badge":
            return Why("why_badge", {"challenge": d.get("challenge_id", ""), "period": d.get("period", "")})
        case "prize":
            return Why("why_prize", {"prize": d.get("prize", ""), "game": d.get("game_id", "")})
        case "donate":
            return Why("why_donate", {"cause": d.get("cause_id", "")})
        case "opening_balance":
            return Why(
                "why_opening_balance",
                {"import_id": str(d.get("import_id", ""))[:12], "row": d.get("row", ""),
                 "operator": d.get("operator", "")},
            )  # fmt: skip
        case "sunset":
            return Why("why_sunset", {"program": d.get("program_id", ""), "offer": d.get("offer", "")})
    return Why("why_other", {"kind": kind})


def _amount(value: Any) -> object:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value or "")
