"""Messages in the member's language, checked at load time; quiet hours defer, never drop."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from services.notify import domain
from services.notify.domain import (
    SAMPLES,
    Decision,
    TemplateProblem,
    check_templates,
    decide,
    environment,
    profile_after,
    render,
    send_after,
    signature,
    signature_valid,
    within_cap,
)
from shared.contracts import MemberEnrolled, MemberProfileChanged, PromotionTargeted
from shared.persian import jalali


def test_every_message_renders_in_persian_and_english() -> None:
    env = environment()
    check_templates(env)
    fa = render(env, "points.earned", "email", "fa", SAMPLES["points.earned"])
    en = render(env, "points.earned", "email", "en", SAMPLES["points.earned"])
    assert fa.subject.startswith("۱۲۰") and "۱۴۰۵/۰۸/۳۰" in fa.body  # Persian digits, Jalali date
    assert en.subject == "You earned 120 points" and "21 Nov 2026" in en.body


def test_jalali_dates_read_as_a_persian_reader_expects() -> None:
    assert jalali(datetime(2026, 3, 21, tzinfo=UTC)) == "۱۴۰۵/۰۱/۰۱"  # Nowruz


def test_a_missing_template_or_variable_fails_at_load_time(tmp_path: Path) -> None:
    (tmp_path / "fa").mkdir()
    (tmp_path / "en").mkdir()
    for locale in ("fa", "en"):
        for event_type in SAMPLES:
            (tmp_path / locale / f"{event_type}.email.j2").write_text("Subject\n{{ not_there }}")
    broken = Environment(loader=FileSystemLoader(tmp_path), undefined=StrictUndefined)
    broken.filters.update(environment().filters)
    with pytest.raises(TemplateProblem, match="not_there"):
        check_templates(broken)
    (tmp_path / "en" / "reward.issued.email.j2").unlink()
    with pytest.raises(TemplateProblem, match=re.escape("en/reward.issued.email.j2")):
        check_templates(broken)
    assert domain.TEMPLATES.is_dir()


@pytest.mark.parametrize(
    ("utc", "zone", "expected"),
    [
        (datetime(2026, 11, 23, 10, 0, tzinfo=UTC), "Asia/Tehran", datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
        # 23:30 in Tehran: deferred to 08:00 the next morning there (04:30 UTC).
        (datetime(2026, 11, 23, 20, 0, tzinfo=UTC), "Asia/Tehran", datetime(2026, 11, 24, 4, 30, tzinfo=UTC)),
        # 02:00 in Tehran: to 08:00 the same morning.
        (
            datetime(2026, 11, 23, 22, 30, tzinfo=UTC),
            "Asia/Tehran",
            datetime(2026, 11, 24, 4, 30, tzinfo=UTC),
        ),
    ],
)
def test_quiet_hours_defer_to_their_end_in_the_member_time_zone(
    utc: datetime, zone: str, expected: datetime
) -> None:
    assert send_after(utc, zone, time(22, 0), time(8, 0)) == expected


def test_consent_and_address_decide_and_a_withdrawal_applies_at_once() -> None:
    joined = MemberEnrolled(member_id="m", chain_id="c", email="m@example.com", consents={"email": True})
    profile = profile_after(None, joined)
    assert decide(profile, "email") == Decision("queued")
    withdrawn = profile_after(profile, MemberProfileChanged(member_id="m", consents={"email": False}))
    assert decide(withdrawn, "email") == Decision("suppressed", "no consent for email")
    assert withdrawn["email"] == "m@example.com"  # the fields not given are kept
    assert decide(
        profile_after(None, MemberProfileChanged(member_id="x", consents={"email": True})), "email"
    ) == Decision("suppressed", "no email address")
    assert decide(None, "email") == Decision("suppressed", "unknown member")


def test_a_text_goes_to_the_phone_with_its_own_consent() -> None:
    texted = MemberEnrolled(member_id="m", chain_id="c", phone="+989121234567", consents={"sms": True})
    assert decide(profile_after(None, texted), "sms") == Decision("queued")
    assert decide(profile_after(None, texted), "email") == Decision("suppressed", "no consent for email")
    no_phone = MemberEnrolled(member_id="m", chain_id="c", email="m@example.com", consents={"sms": True})
    assert decide(profile_after(None, no_phone), "sms") == Decision("suppressed", "no sms address")


def test_a_text_message_is_all_body_and_short() -> None:
    env = environment()
    for locale in ("fa", "en"):
        for event_type, sample in SAMPLES.items():
            sms = render(env, event_type, "sms", locale, sample)
            assert sms.subject == "" and 0 < len(sms.body) <= 160, (locale, event_type, sms.body)
    fa = render(env, "tier.progress", "sms", "fa", SAMPLES["tier.progress"])
    assert "۴۵۰۰۰۰۰" in fa.body and "Gold" in fa.body


def test_the_daily_cap_counts_per_member_channel_and_local_day_but_lets_a_reward_code_through() -> None:
    counted: Counter[tuple[str, str, date]] = Counter()
    day, next_day = date(2026, 11, 23), date(2026, 11, 24)
    decisions = [within_cap("points.earned", "m1", "email", day, counted, cap=2) for _ in range(3)]
    assert [d.status for d in decisions] == ["queued", "queued", "suppressed"]
    assert decisions[2].reason == "frequency cap: 2 per day"
    assert within_cap("points.earned", "m1", "sms", day, counted, cap=2).status == "queued"
    assert within_cap("points.earned", "m2", "email", day, counted, cap=2).status == "queued"
    assert within_cap("points.earned", "m1", "email", next_day, counted, cap=2).status == "queued"
    assert within_cap("reward.issued", "m1", "email", day, counted, cap=2).status == "queued"


def test_a_webhook_signature_holds_only_for_the_same_secret_body_and_a_fresh_timestamp() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    body = b'{"type": "points.earned"}'
    header = signature("s3cret", int(now.timestamp()), body)
    # Independently: HMAC-SHA256 over "<t>.<body>", hex.
    expected = hmac.new(b"s3cret", f"{int(now.timestamp())}.".encode() + body, hashlib.sha256).hexdigest()
    assert header == f"t={int(now.timestamp())},v1={expected}"
    assert signature_valid("s3cret", header, body, now)
    assert not signature_valid("other", header, body, now)
    assert not signature_valid("s3cret", header, body + b" ", now)
    assert not signature_valid("s3cret", header, body, now + timedelta(minutes=6))  # a replay, later
    assert not signature_valid("s3cret", "garbage", body, now)


def test_a_referral_reward_reads_differently_for_the_referrer_and_the_friend() -> None:
    env = environment()
    referrer = render(
        env, "referral.rewarded", "email", "en", {"role": "referrer", "points": 500, "balance": 9}
    )
    friend = render(env, "referral.rewarded", "email", "en", {"role": "friend", "points": 200, "balance": 9})
    fa = render(env, "referral.rewarded", "sms", "fa", {"role": "friend", "points": 200, "balance": 9})
    assert referrer.subject == "Your friend joined: 500 points for you"
    assert friend.subject == "200 points for joining through a friend"
    assert "۲۰۰" in fa.body and "پیوستن" in fa.body


def test_a_birthday_bonus_is_a_greeting_with_the_points_in_the_members_language() -> None:
    env = environment()
    sample = {"tier": "Gold", "points": 500, "balance": 1950}
    en = render(env, "points.birthday_bonus", "email", "en", sample)
    fa = render(env, "points.birthday_bonus", "sms", "fa", sample)
    assert en.subject == "Happy birthday! 500 points from us"
    assert "Gold" in en.body and "1950" in en.body
    assert "تولد" in fa.body and "۵۰۰" in fa.body and "۱۹۵۰" in fa.body and "500" not in fa.body


def test_members_held_out_of_a_targeted_promotion_are_not_told() -> None:
    def targeted(group: Literal["treatment", "holdout"]) -> PromotionTargeted:
        return PromotionTargeted(member_id="m", promotion="p", group=group, reason="segment", multiplier="2")

    assert domain.tells_member("promotion.targeted", targeted("treatment"))
    assert not domain.tells_member("promotion.targeted", targeted("holdout"))
    sample = SAMPLES["promotion.targeted"]
    assert "۱۴۰۵/۱۰/۱۰" in render(environment(), "promotion.targeted", "sms", "fa", sample).body
