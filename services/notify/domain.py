"""Which message, in which language, when: pure rules, no I/O.

Templates are Jinja2, one per (event type, channel, locale); the first line is the subject. Every
template is rendered once with a sample when loaded, so a missing template or variable fails at
start-up, never at send time. Persian messages use Persian digits and Jalali dates.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, UndefinedError

from shared.persian import fa_digits, jalali

TEMPLATES = Path(__file__).parent / "templates"
LOCALES = ("fa", "en")
CHANNELS = ("email", "sms")
# Where each channel reaches a member, in the contact profile.
ADDRESS = {"email": "email", "sms": "phone"}
# Messages that carry something the member needs (a reward's code) go even past the daily cap.
TRANSACTIONAL = frozenset({"reward.issued"})

# What each event type tells the member, and a sample of what its template may use.
SAMPLES: dict[str, dict[str, Any]] = {
    "points.earned": {
        "points": 120,
        "balance": 1450,
        "occurred_at": datetime(2026, 11, 21, 16, 0, tzinfo=UTC),
    },
    "tier.changed": {
        "to_tier": "Gold",
        "multiplier": "1.25",
        "effective_from": datetime(2026, 11, 21, tzinfo=UTC),
    },
    "points.expiring_soon": {"points": 300, "expires_at": datetime(2026, 12, 31, tzinfo=UTC)},
    "reward.issued": {"name": "Free sangak", "code": "ABCD-EFGH-IJKL-MNOP"},
    # Not an event: ingest asks for it when a member signs in (sent at once, never queued or kept).
    "member.sign_in_code": {"code": "042117", "minutes": 10},
    "membership.expiring": {"tier": "Gold", "ends_at": datetime(2027, 1, 10, tzinfo=UTC)},
    "tier.progress": {"next_tier": "Gold", "remaining": "4500000", "metric": "spend"},
    "program.ending": {
        "name": "Yalda club",
        "ends_at": datetime(2026, 12, 21, tzinfo=UTC),
        "days_left": 7,
        "points": 1200,
        "parting": "convert",
    },
    "program.ended": {
        "name": "Yalda club",
        "points": 1200,
        "offer": "120000 IRR voucher",
        "code": "ABCD-EFGH",
    },
    "referral.rewarded": {"role": "referrer", "points": 500, "balance": 1700},
    "points.birthday_bonus": {"tier": "Gold", "points": 500, "balance": 1950},
    "promotion.targeted": {"promotion": "We miss you", "multiplier": "2", "ends_on": date(2026, 12, 31)},
}


def tells_member(event_type: str, payload: Any) -> bool:
    """Members held out of a targeted promotion are not told of it: that is what makes them the control
    group its lift is measured against."""
    return not (event_type == "promotion.targeted" and payload.group == "holdout")


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters["fa_digits"] = fa_digits
    env.filters["jalali"] = jalali
    env.filters["date"] = lambda value: value.strftime("%d %b %Y")
    return env


class TemplateProblem(Exception):
    pass


def check_templates(env: Environment) -> None:
    """Every (event, channel, locale) has a template that renders with its sample."""
    problems = []
    for event_type, sample in SAMPLES.items():
        for channel in CHANNELS:
            for locale in LOCALES:
                try:
                    render(env, event_type, channel, locale, sample)
                except (TemplateNotFound, UndefinedError) as error:
                    problems.append(f"{locale}/{event_type}.{channel}.j2: {error}")
    if problems:
        raise TemplateProblem("templates are incomplete: " + "; ".join(problems))


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def render(env: Environment, event_type: str, channel: str, locale: str, context: dict[str, Any]) -> Message:
    text = env.get_template(f"{locale}/{event_type}.{channel}.j2").render(**context)
    if channel == "sms":  # a text message is all body
        return Message("", text.strip())
    subject, _, body = text.partition("\n")
    return Message(subject.strip(), body.strip())


def send_after(now: datetime, zone: str, quiet_from: time, quiet_until: time) -> datetime:
    """``now``, or the end of the member's quiet hours if ``now`` falls in them (deferred, not dropped)."""
    local = now.astimezone(ZoneInfo(zone))
    t = local.time()
    quiet = (
        (quiet_from <= t or t < quiet_until) if quiet_from > quiet_until else quiet_from <= t < quiet_until
    )
    if not quiet:
        return now
    wake = local.replace(hour=quiet_until.hour, minute=quiet_until.minute, second=0, microsecond=0)
    if wake <= local:
        wake += timedelta(days=1)
    return wake


def profile_after(profile: dict[str, Any] | None, event: Any) -> dict[str, Any]:
    """A member's contact profile after an enrolment or profile change (only given fields change;
    a consent withdrawn here applies to the very next message)."""
    fields = ("email", "phone", "locale", "timezone")
    blank = {"member_id": event.member_id, "email": None, "phone": None, "consents": {}, "held": []}
    current = dict(profile or {**blank, "locale": "fa", "timezone": "Asia/Tehran"})
    held = set(current.get("held") or ())
    for name in fields:
        if getattr(event, name, None) is not None:
            current[name] = getattr(event, name)
            held.discard(name)
    for name in set(event.contact) & set(fields):  # ingest holds it now: no copy here (a card, no use)
        current[name] = None
        held.add(name)
    current["held"] = sorted(held)
    current["consents"] = {**current["consents"], **event.consents}
    return current


def erased(member_id: str, profile: dict[str, Any] | None) -> dict[str, Any]:
    """The profile of an erased member: no address of any kind; locale and consents stay (they
    identify no one, and a member enrolling again starts afresh)."""
    current = dict(profile or {"member_id": member_id, "locale": "fa", "timezone": "Asia/Tehran"})
    return current | {"email": None, "phone": None, "held": [], "consents": current.get("consents", {})}


def has_address(profile: dict[str, Any], channel: str) -> bool:
    field = ADDRESS[channel]
    return bool(profile.get(field)) or field in (profile.get("held") or ())


@dataclass(frozen=True)
class Decision:
    status: str  # queued | suppressed
    reason: str = ""


def decide(profile: dict[str, Any] | None, channel: str) -> Decision:
    """Whether a message may go to the member on ``channel``, and if not, why."""
    if profile is None:
        return Decision("suppressed", "unknown member")
    if not profile["consents"].get(channel):
        return Decision("suppressed", f"no consent for {channel}")
    if not has_address(profile, channel):
        return Decision("suppressed", f"no {channel} address")
    return Decision("queued")


def within_cap(
    event_type: str,
    member_id: str,
    channel: str,
    day: date,
    counted: Counter[tuple[str, str, date]],
    cap: int,
) -> Decision:
    """At most ``cap`` messages per member, channel and local day; ``counted`` holds what is already
    queued or sent and is updated when this one may go."""
    key = (member_id, channel, day)
    if event_type not in TRANSACTIONAL and counted[key] >= cap:
        return Decision("suppressed", f"frequency cap: {cap} per day")
    counted[key] += 1
    return Decision("queued")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Vafa-Signature`` header of a webhook: HMAC-SHA256 over ``"<timestamp>.<body>"``, so a
    receiver can check both who sent it and that it is fresh (a replayed old body fails the window)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def signature_valid(secret: str, header: str, body: bytes, now: datetime, tolerance_s: int = 300) -> bool:
    """What a receiver does with ``Vafa-Signature`` (documented for partners, used in tests)."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now.timestamp() - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)
