"""The console's words in Persian and English; which language a request gets and how numbers and
dates are written are shared/web/words.py's (the member portal's too)."""

from __future__ import annotations

from collections.abc import Mapping

from shared.web import explain, words
from shared.web.words import COOKIE, LOCALES, Locale, chosen

# key -> (English, Persian). A key missing from here fails the unit test that renders every page.
WORDS: Mapping[str, tuple[str, str]] = {
    **explain.WORDS,
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
        "What is left of each credit, oldest spent first (from the ledger; points does not say "
        "when each expires).",
        "باقی‌ماندهٔ هر بستهٔ امتیاز؛ قدیمی‌ترها زودتر خرج می‌شوند (از دفتر امتیاز؛ سرویس "
        "امتیاز تاریخ انقضای هر بسته را نمی‌گوید).",
    ),
    "lots_too_long": ("the ledger has more than {count} entries", "دفتر بیش از {count} ردیف دارد"),
    "no_lots": ("No points left in any lot.", "در هیچ بسته‌ای امتیازی نمانده است."),
    "earned": ("Credited", "افزوده شده"),
    "left": ("Left", "باقی‌مانده"),
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
    "adjust": ("Adjust points", "اصلاح امتیاز"),
    "adjust_points": ("Points (negative to take away)", "امتیاز (منفی برای کم کردن)"),
    "reason": ("Reason", "دلیل"),
    "adjust_button": ("Adjust", "ثبت اصلاح"),
    "adjusted": (
        "Adjusted by {points} points. New balance: {balance}.",
        "{points} امتیاز اصلاح شد. موجودی تازه: {balance}.",
    ),
    "adjust_refused": ("The adjustment was refused: {why}", "اصلاح پذیرفته نشد: {why}"),
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
    "program_note": (
        "Rule sets in force and scheduled. Editing them here comes next; today: "
        "make rules FILE=... OPERATOR=you.",
        "نسخه‌های قواعد، جاری و زمان‌بندی‌شده. ویرایش در اینجا گام بعدی است؛ فعلاً: "
        "make rules FILE=... OPERATOR=you.",
    ),
    "version": ("Version", "نسخه"),
    "effective_from": ("In force from", "معتبر از"),
    "base_rates": ("Base rates", "نرخ پایه"),
    "default_rate": ("the default rate (no rule set stored)", "نرخ پیش‌فرض (قاعده‌ای ذخیره نشده)"),
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


class Words(words.Words):
    TABLE = WORDS


__all__ = ["COOKIE", "LOCALES", "WORDS", "Locale", "Words", "chosen"]
