"""The console in Persian (right to left, Persian digits, Jalali dates) and English (Gregorian): which
language a request gets, the words of each page, and numbers and dates written as its reader expects.
Digits and the calendar are shared/persian.py's, as notify's messages write them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal, get_args

from shared.persian import THOUSANDS, fa_digits, jalali

Locale = Literal["fa", "en"]
LOCALES: tuple[Locale, ...] = get_args(Locale)
COOKIE = "vafa_lang"
_ASCII_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩٫", "01234567890123456789.")

# key -> (English, Persian). A key missing from here fails the unit test that renders every page.
WORDS: Mapping[str, tuple[str, str]] = {
    "console": ("Vafa console", "کنسول وفا"),
    "members": ("Members", "اعضا"),
    "audit": ("Audit", "حسابرسی"),
    "program": ("Program", "برنامه"),
    "sign_in": ("Sign in", "ورود"),
    "sign_out": ("Sign out", "خروج"),
    "name": ("Name", "نام کاربری"),
    "password": ("Password", "گذرواژه"),
    "sign_in_lead": (
        "Operators sign in with the name and password their admin gave them.",
        "با نام کاربری و گذرواژه‌ای که مدیر به شما داده است وارد شوید.",
    ),
    "wrong_password": (
        "Wrong name or password, or the account is disabled.",
        "نام کاربری یا گذرواژه نادرست است، یا حساب غیرفعال شده است.",
    ),
    "locked_out": (
        "Too many failed sign-ins for this name: try again in {minutes} minutes.",
        "تلاش‌های ناموفق برای این نام زیاد بوده است: {minutes} دقیقهٔ دیگر دوباره تلاش کنید.",
    ),
    "session_expired": (
        "Your session has ended: sign in again.",
        "نشست شما به پایان رسیده است: دوباره وارد شوید.",
    ),
    "signed_out": ("You have signed out.", "از کنسول خارج شدید."),
    "ingest_down": (
        "Sign-in is not available: ingest is not answering ({why}).",
        "ورود ممکن نیست: سرویس ingest پاسخ نمی‌دهد ({why}).",
    ),
    "find_member": ("Find a member", "یافتن عضو"),
    "find": ("Find", "جستجو"),
    "by_phone": ("Phone", "تلفن"),
    "by_email": ("Email", "ایمیل"),
    "by_card_no": ("Card number", "شمارهٔ کارت"),
    "by_member_id": ("Member id", "شناسهٔ عضو"),
    "find_hint": (
        "Phone in E.164 (+989121234567), an email, a card number or a member id.",
        "تلفن به شکل ‎+989121234567‎، ایمیل، شمارهٔ کارت یا شناسهٔ عضو.",
    ),
    "no_member": ("No member has this {field}.", "هیچ عضوی با این {field} نیست."),
    "several_members": ("Several members have this {field}:", "چند عضو این {field} را دارند:"),
    "member": ("Member", "عضو"),
    "balance": ("Balance", "موجودی"),
    "points": ("points", "امتیاز"),
    "debt": ("Debt", "بدهی"),
    "debt_note": (
        "points owed: returns took back points already spent",
        "امتیازهایی که مرجوعی‌ها پس گرفته‌اند و پیش‌تر خرج شده بود",
    ),
    "no_points_yet": ("No points yet.", "هنوز امتیازی ندارد."),
    "tier": ("Tier", "سطح"),
    "since": ("since {when}", "از {when}"),
    "review_at": ("Reviewed on {when}", "بازبینی در {when}"),
    "to_next": ("{remaining} more {metric} to {tier}", "{remaining} {metric} دیگر تا {tier}"),
    "top_tier": ("The top of the ladder.", "بالاترین سطح."),
    "metric_spend": ("spend", "خرید (ریال)"),
    "metric_points": ("points", "امتیاز"),
    "metric_visits": ("visits", "خرید"),
    "no_tier_yet": ("No tier yet.", "هنوز سطحی ندارد."),
    "lots": ("Lots", "بسته‌های امتیاز"),
    "lots_note": (
        "What is left of each credit, spent oldest first, and the day what is left expires.",
        "باقی‌ماندهٔ هر بستهٔ امتیاز، قدیمی‌ترها زودتر خرج می‌شوند، و روزی که باقی‌مانده منقضی می‌شود.",
    ),
    "no_lots": ("No points left in any lot.", "در هیچ بسته‌ای امتیازی نمانده است."),
    "earned": ("Credited", "افزوده شده"),
    "left": ("Left", "باقی‌مانده"),
    "expires": ("Expires on", "تاریخ انقضا"),
    "never": ("never", "هرگز"),
    "ledger": ("Ledger", "دفتر امتیاز"),
    "ledger_note": ("Newest first; each entry says why.", "تازه‌ترین در بالا؛ هر ردیف می‌گوید چرا."),
    "when": ("When", "زمان"),
    "what": ("What", "چه"),
    "why": ("Why", "چرا"),
    "who": ("Who", "چه کسی"),
    "on_what": ("On", "روی"),
    "change": ("Change", "تغییر"),
    "empty_ledger": ("No entries yet.", "هنوز ردیفی ندارد."),
    "more_entries": ("Older entries are not shown.", "ردیف‌های قدیمی‌تر نشان داده نشده‌اند."),
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
    "why_other": ("{kind}", "{kind}"),
    "adjust": ("Adjust points", "اصلاح امتیاز"),
    "adjust_points": ("Points (negative to take away)", "امتیاز (منفی برای کم کردن)"),
    "reason": ("Reason", "دلیل"),
    "adjust_button": ("Adjust", "ثبت اصلاح"),
    "adjusted": (
        "Adjusted by {points} points. New balance: {balance}.",
        "{points} امتیاز اصلاح شد. موجودی تازه: {balance}.",
    ),
    "adjust_refused": ("The adjustment was refused: {why}", "اصلاح پذیرفته نشد: {why}"),
    "redeem": ("Redeem a reward for the member", "استفاده از جایزه برای عضو"),
    "reward": ("Reward", "جایزه"),
    "costs": ("{points} points", "{points} امتیاز"),
    "in_stock": ("{stock} left", "{stock} عدد مانده"),
    "redeem_button": ("Redeem", "ثبت استفاده"),
    "no_rewards": ("No reward is on offer.", "جایزه‌ای در فهرست نیست."),
    "redeemed": (
        "{reward} redeemed for {points} points. Its code:",
        "{reward} با {points} امتیاز گرفته شد. کد آن:",
    ),
    "redeem_refused": ("The redemption was refused: {why}", "استفاده از جایزه پذیرفته نشد: {why}"),
    "messages": ("Messages", "پیام‌ها"),
    "channel": ("Channel", "کانال"),
    "status": ("Status", "وضعیت"),
    "no_messages": ("No messages yet.", "هنوز پیامی نرفته است."),
    "status_sent": ("sent", "ارسال شد"),
    "status_queued": ("waiting", "در صف"),
    "status_failed": ("failed", "ناموفق"),
    "status_suppressed": ("not sent", "ارسال نشد"),
    "referrals": ("Referrals", "معرفی‌ها"),
    "code": ("Code", "کد"),
    "referred_by": ("Referred by {who} ({status})", "معرفی‌شده توسط {who} ({status})"),
    "friend": ("Friend", "دوست"),
    "no_referrals": ("No referrals.", "معرفی‌ای ندارد."),
    "challenges": ("Challenges", "چالش‌ها"),
    "no_challenges": ("No challenges yet.", "هنوز در چالشی نیست."),
    "badge": ("badge", "نشان"),
    "contact": ("Contact", "تماس"),
    "no_contact": ("No contact data held.", "اطلاعات تماسی نگه داشته نشده است."),
    "not_available": ("Not available: {why}", "در دسترس نیست: {why}"),
    "refused_role": ("your role may not {permission}", "نقش شما اجازهٔ {permission} ندارد"),
    "service_down": ("{service} is not answering", "سرویس {service} پاسخ نمی‌دهد"),
    "service_error": ("{service} answered {status}", "سرویس {service} با خطای {status} پاسخ داد"),
    "audit_title": ("Recent operator changes", "تغییرهای اخیر کاربران"),
    "audit_note": (
        "Who changed what, newest first (the points service's audit log).",
        "چه کسی چه چیزی را تغییر داد، تازه‌ترین در بالا (دفتر حسابرسی سرویس امتیاز).",
    ),
    "no_audit": ("No changes yet.", "هنوز تغییری ثبت نشده است."),
    "program_title": ("Earning rules", "قواعد کسب امتیاز"),
    "version": ("Version", "نسخه"),
    "effective_from": ("In force from", "معتبر از"),
    "base_rates": ("Base rates", "نرخ پایه"),
    "default_rate": ("the default rate (no rule set stored)", "نرخ پیش‌فرض (قاعده‌ای ذخیره نشده)"),
    "editor_title": ("Change the rules", "تغییر قواعد"),
    "editor_note": (
        "Starting from version {version}. Preview what the change would have given over past purchases, "
        "then publish it as a new version, now or from a later date.",
        "بر پایهٔ نسخهٔ {version}. پیش از انتشار ببینید این تغییر روی خریدهای گذشته چه می‌داد، سپس آن "
        "را به‌عنوان نسخهٔ تازه، از اکنون یا از تاریخی دیگر، منتشر کنید.",
    ),
    "base_rates_note": ("Points per unit of each currency.", "امتیاز به ازای هر واحد پول."),
    "currency_code": ("Currency (e.g. EUR)", "ارز (مثلاً EUR)"),
    "rate": ("Rate", "نرخ"),
    "category_multipliers": ("Category multipliers", "ضریب دسته‌ها"),
    "category_note": (
        "x2 gives a category's lines twice the base points; clear a value to remove it.",
        "ضریب ۲ امتیاز پایهٔ آن دسته را دو برابر می‌کند؛ برای حذف، مقدار را پاک کنید.",
    ),
    "category": ("Category", "دسته"),
    "multiplier": ("Multiplier", "ضریب"),
    "promotion": ("Promotion", "پیشنهاد ویژه"),
    "promotion_note": (
        "A multiplier on chosen days, in the store's local time; clear the name to remove it.",
        "ضریبی در روزهای برگزیده، به وقت محلی فروشگاه؛ برای حذف، نام را پاک کنید.",
    ),
    "promotion_name": ("Name", "نام"),
    "starts_on": ("Starts on", "از تاریخ"),
    "ends_on": ("Ends on (inclusive)", "تا تاریخ (با خودش)"),
    "promotion_categories": ("Categories (comma-separated)", "دسته‌ها (جدا با ویرگول)"),
    "every_line": ("every line", "همهٔ اقلام"),
    "weekdays": ("Weekdays", "روزهای هفته"),
    "weekday_0": ("Mon", "دوشنبه"),
    "weekday_1": ("Tue", "سه‌شنبه"),
    "weekday_2": ("Wed", "چهارشنبه"),
    "weekday_3": ("Thu", "پنجشنبه"),
    "weekday_4": ("Fri", "جمعه"),
    "weekday_5": ("Sat", "شنبه"),
    "weekday_6": ("Sun", "یکشنبه"),
    "bonus_and_caps": ("Welcome bonus, caps and schedule", "هدیهٔ عضویت، سقف‌ها و زمان‌بندی"),
    "welcome_bonus": ("Welcome bonus", "هدیهٔ عضویت"),
    "cap_per_day": ("Cap per day", "سقف روزانه"),
    "cap_per_receipt": ("Cap per receipt", "سقف هر رسید"),
    "no_cap": ("no cap", "بدون سقف"),
    "effective_from_utc": ("In force from (UTC)", "معتبر از (UTC)"),
    "schedule_note": (
        "A later date schedules the version: purchases made from then on earn under it.",
        "با تاریخی در آینده نسخه زمان‌بندی می‌شود: خریدهای از آن زمان به بعد با آن امتیاز می‌گیرند.",
    ),
    "preview_days": ("Preview over the last (days)", "پیش‌نمایش روی (روز گذشته)"),
    "preview_button": ("Preview", "پیش‌نمایش"),
    "publish_button": ("Publish", "انتشار"),
    "preview_title": ("Preview", "پیش‌نمایش"),
    "preview_sentence": (
        "Had these rules been in force over the last {days} days, the {purchases} purchases of {members} "
        "members would have earned {candidate} points instead of {now}.",
        "اگر این قواعد در {days} روز گذشته برقرار بود، {purchases} خرید {members} عضو به جای {now} "
        "امتیاز، {candidate} امتیاز می‌گرفت.",
    ),
    "purchases_replayed": ("Purchases", "خریدها"),
    "points_now": ("Points earned", "امتیاز گرفته‌شده"),
    "points_candidate": ("Under these rules", "با این قواعد"),
    "difference": ("Difference", "تفاوت"),
    "preview_top": ("Members whose points change most", "اعضایی که امتیازشان بیشتر تغییر می‌کند"),
    "preview_note": (
        "Replayed through the rules engine with each member's tier at the time; partner campaigns, "
        "targeted promotions and returns are left out of both figures. Nothing is published.",
        "با موتور قواعد و سطح هر عضو در آن زمان بازپخش شد؛ کمپین‌های شرکا، پیشنهادهای هدفمند و "
        "مرجوعی‌ها در هیچ‌کدام از دو عدد نیستند. چیزی منتشر نشده است.",
    ),
    "published": ("Version {version} published.", "نسخهٔ {version} منتشر شد."),
    "publish_refused": ("Not done: {why}", "انجام نشد: {why}"),
    "fix_fields": ("Points refused these fields:", "سرویس امتیاز این فیلدها را نپذیرفت:"),
    "versions": ("Versions", "نسخه‌ها"),
    "status_in_force": ("in force", "جاری"),
    "status_scheduled": ("scheduled", "زمان‌بندی‌شده"),
    "status_earlier": ("earlier", "پیشین"),
    "status_default": ("default", "پیش‌فرض"),
    "edit_from": ("Edit from this", "ویرایش از این نسخه"),
    "err_at_most": ("At most {limit}.", "حداکثر {limit}."),
    "err_below": ("Less than {limit}.", "کمتر از {limit}."),
    "err_at_least": ("At least {limit}.", "دست‌کم {limit}."),
    "err_above": ("More than {limit}.", "بیشتر از {limit}."),
    "err_number": ("A number, e.g. 1.5.", "یک عدد، مثلاً ۱٫۵."),
    "err_whole": ("A whole number.", "یک عدد صحیح."),
    "err_places": ("At most {limit} decimal places.", "حداکثر {limit} رقم اعشار."),
    "err_required": ("Required.", "لازم است."),
    "err_datetime": ("A date and time.", "یک تاریخ و زمان."),
    "err_date": ("A date.", "یک تاریخ."),
    "err_currency": ("An unknown currency code.", "کد ارز ناشناخته است."),
    "err_window": ("Ends before it starts.", "پایان پیش از آغاز است."),
    "err_weekdays": ("Choose at least one day.", "دست‌کم یک روز را برگزینید."),
    "err_history": ("Purchases are not kept that long.", "خریدها این‌قدر نگه داشته نمی‌شوند."),
    "err_too_many": (
        "Too many purchases in that period: choose fewer days.",
        "خریدهای این دوره بسیار زیاد است: روزهای کمتری برگزینید.",
    ),
    "err_other": ("{message}", "{message}"),
    "forbidden_title": ("Not allowed", "اجازه ندارید"),
    "forbidden": (
        "Your role ({roles}) may not open this page.",
        "نقش شما ({roles}) اجازهٔ دیدن این صفحه را ندارد.",
    ),
    "not_found_title": ("Not found", "پیدا نشد"),
    "not_found": ("There is no such page.", "چنین صفحه‌ای نیست."),
    "bad_request_title": ("Not understood", "درخواست نامعتبر"),
    "bad_request": ("The form was not filled as expected: {why}", "فرم درست پر نشده است: {why}"),
    "csrf": (
        "The form had expired or did not come from this console: open the page again.",
        "فرم منقضی شده یا از این کنسول نیامده است: صفحه را دوباره باز کنید.",
    ),
    "error_title": ("Something went wrong", "خطایی رخ داد"),
    "error": (
        "The console could not finish this request; it is logged. Try again.",
        "کنسول نتوانست این درخواست را انجام دهد؛ ثبت شد. دوباره تلاش کنید.",
    ),
    "back": ("Back to members", "بازگشت به اعضا"),
    "signed_in_as": ("{who} ({roles})", "{who} ({roles})"),
    "language": ("فارسی", "English"),
}


@dataclass(frozen=True)
class Words:
    """One locale's words, numbers and dates, as the templates use them."""

    locale: Locale

    @property
    def dir(self) -> str:
        return "rtl" if self.locale == "fa" else "ltr"

    @property
    def other(self) -> Locale:
        return "en" if self.locale == "fa" else "fa"

    def __call__(self, key: str, **values: object) -> str:
        english, persian = WORDS[key]
        text = persian if self.locale == "fa" else english
        return text.format(**{k: self._value(v) for k, v in values.items()}) if values else text

    def _value(self, value: object) -> str:
        if isinstance(value, bool):
            return str(value)
        if isinstance(value, int | Decimal):
            return self.number(value)
        if isinstance(value, datetime | date):
            return self.when(value)
        return self.digits(value) if self.locale == "fa" else str(value)

    def digits(self, value: object) -> str:
        return fa_digits(value) if self.locale == "fa" else str(value)

    def number(self, value: int | Decimal | str, signed: bool = False) -> str:
        """Grouped by thousands (and signed when asked), in the locale's digits."""
        amount = Decimal(value) if isinstance(value, str) else value
        if isinstance(amount, Decimal) and amount == amount.to_integral_value():
            amount = int(amount)  # 47000000.0000 IRR reads as 47,000,000
        text = f"{amount:+,}" if signed else f"{amount:,}"
        if self.locale == "en":
            return text
        # A left-to-right mark keeps the sign before the digits inside right-to-left text.
        return ("\u200e" if signed else "") + fa_digits(text.replace(",", THOUSANDS))

    def when(self, value: datetime | date | str, with_time: bool = True) -> str:
        """Jalali in Persian, Gregorian in English; a time of day in UTC (the store's zone is not known
        here)."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if isinstance(value, datetime):
            value = value.astimezone(UTC)
            if self.locale == "fa":
                return jalali(value, with_time=with_time)
            return value.strftime("%d %b %Y %H:%M" if with_time else "%d %b %Y")
        return jalali(value) if self.locale == "fa" else value.strftime("%d %b %Y")


def typed(value: str) -> str:
    """What an operator typed, with Persian or Arabic digits (and the Persian decimal point) read as the
    same number in ASCII, spaces around it dropped."""
    return value.strip().translate(_ASCII_DIGITS)


def chosen(asked: str | None, cookie: str | None, default: Locale) -> Locale:
    """``?lang=`` first, then the cookie, then the deployment's default."""
    for candidate in (asked, cookie):
        if candidate in LOCALES:
            return candidate
    return default
