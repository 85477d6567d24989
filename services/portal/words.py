"""The portal's words, in English and Persian (the ledger's explanations are shared with the console:
shared/web/explain.py)."""

from __future__ import annotations

from collections.abc import Mapping

from shared.web import explain, words

# key -> (English, Persian). A key missing from here fails the unit test that renders every page.
WORDS: Mapping[str, tuple[str, str]] = {
    **explain.WORDS,
    "portal": ("Vafa club", "باشگاه وفا"),
    "sign_in": ("Sign in", "ورود"),
    "sign_out": ("Sign out", "خروج"),
    "language": ("فارسی", "English"),
    "sign_in_lead": (
        "Your points, your tier and your rewards. We send you a one-time code: no password.",
        "امتیاز، سطح و جایزه‌های شما. یک کد یک‌بارمصرف برایتان می‌فرستیم: بدون گذرواژه.",
    ),
    "address": ("Mobile number or email", "شمارهٔ موبایل یا ایمیل"),
    "address_hint": ("e.g. 09121234567 or you@example.com", "مثلاً ۰۹۱۲۱۲۳۴۵۶۷ یا you@example.com"),
    "send_code": ("Send me a code", "کد را بفرست"),
    "bad_address": (
        "This is neither a mobile number nor an email address.",
        "این نه شمارهٔ موبایل است و نه نشانی ایمیل.",
    ),
    "code_sent": (
        "If {address} belongs to a member, a code is on its way. It works once, for a few minutes.",
        "اگر {address} متعلق به یک عضو باشد، کد در راه است. یک بار و برای چند دقیقه کار می‌کند.",
    ),
    "code": ("Code", "کد"),
    "code_hint": ("The digits in the message we sent.", "رقم‌های پیامی که فرستادیم."),
    "enter": ("Enter", "ورود"),
    "other_address": ("Use another number or email", "شماره یا ایمیل دیگر"),
    "wrong_code": (
        "This code is wrong or has expired: ask for a new one.",
        "این کد نادرست است یا منقضی شده: کد تازه بخواهید.",
    ),
    "locked_out": (
        "Too many tries for this address. Please wait {minutes} minutes and try again.",
        "تلاش‌ها برای این نشانی زیاد بوده است. {minutes} دقیقه صبر کنید و دوباره تلاش کنید.",
    ),
    "too_many_title": ("Please wait a moment", "کمی صبر کنید"),
    "ingest_down": (
        "Signing in is not possible right now ({why}). Please try again shortly.",
        "ورود الان ممکن نیست ({why}). کمی بعد دوباره تلاش کنید.",
    ),
    "session_expired": ("Your session has ended: sign in again.", "نشست شما تمام شده است: دوباره وارد شوید."),
    "signed_out": ("You have signed out.", "خارج شدید."),
    "hello": ("Your club card", "کارت باشگاه شما"),
    "member_no": ("Member {member}", "عضو {member}"),
    "balance": ("Your points", "امتیاز شما"),
    "points": ("points", "امتیاز"),
    "debt": (
        "{debt} points owed: a return took back points you had already spent. New points pay this first.",
        "{debt} امتیاز بدهی: مرجوعی امتیازی را پس گرفت که پیش‌تر خرج کرده بودید. "
        "امتیازهای تازه اول این را می‌پردازند.",
    ),
    "no_points_yet": (
        "No points yet: your first purchase earns some.",
        "هنوز امتیازی ندارید: اولین خرید امتیاز می‌آورد.",
    ),
    "tier": ("Your tier", "سطح شما"),
    "tier_name": ("{tier}", "{tier}"),
    "to_next": ("{remaining} more {metric} to {tier}", "{remaining} {metric} دیگر تا {tier}"),
    "top_tier": ("You are at the top tier.", "شما در بالاترین سطح هستید."),
    "metric_spend": ("rials of purchases", "ریال خرید"),
    "metric_points": ("points", "امتیاز"),
    "metric_visits": ("visits", "خرید"),
    "progress": ("Progress to {tier}", "پیشرفت تا {tier}"),
    "review_at": ("Next review {when}", "بازبینی بعدی {when}"),
    "no_tier_yet": (
        "Your tier appears after your first purchase.",
        "سطح شما پس از اولین خرید نمایش داده می‌شود.",
    ),
    "rewards": ("Rewards you can take", "جایزه‌هایی که می‌توانید بگیرید"),
    "no_rewards": (
        "None yet: keep collecting points.",
        "فعلاً هیچ: امتیاز جمع کنید.",
    ),
    "more_rewards": ("{count} more with more points.", "{count} جایزهٔ دیگر با امتیاز بیشتر."),
    "cost": ("{points} points", "{points} امتیاز"),
    "redeem": ("Take it", "دریافت"),
    "redeem_label": ("Take it: {reward} for {points} points", "دریافت {reward} با {points} امتیاز"),
    "redeemed": ("Here is your reward: {reward}", "جایزهٔ شما: {reward}"),
    "redeemed_code": ("Show this code at the till:", "این کد را به صندوق نشان دهید:"),
    "redeem_refused": ("The reward could not be taken: {why}", "جایزه دریافت نشد: {why}"),
    "worth": (
        "When the program ends on {when}, these points become a voucher worth {value} {currency}.",
        "با پایان برنامه در {when}، این امتیازها به کارت هدیه‌ای به ارزش {value} {currency} تبدیل می‌شوند.",
    ),
    "expiring_title": ("Points expiring", "امتیازهایی که منقضی می‌شوند"),
    "expiring_line": ("{points} points on {when}", "{points} امتیاز در {when}"),
    "expiring_note": ("The oldest points are spent first.", "قدیمی‌ترین امتیازها اول خرج می‌شوند."),
    "expiring_none": ("None of your points expire.", "هیچ‌کدام از امتیازهای شما منقضی نمی‌شود."),
    "challenges_title": ("Challenges this month", "چالش‌های این ماه"),
    "challenge_progress": ("{progress} of {target}", "{progress} از {target}"),
    "challenge_label": ("{name}: {progress} of {target}", "{name}: {progress} از {target}"),
    "challenge_done": ("Done: badge earned", "انجام شد: نشان گرفتید"),
    "no_challenges": (
        "No challenge started this month: your next purchase may start one.",
        "این ماه چالشی شروع نشده است: خرید بعدی شاید یکی را شروع کند.",
    ),
    "badges_title": ("Your badges", "نشان‌های شما"),
    "badge_line": ("{name} ({period})", "{name} ({period})"),
    "no_badges": ("No badges yet.", "هنوز نشانی نگرفته‌اید."),
    "referral_title": ("Invite friends", "دعوت از دوستان"),
    "referral_lead": (
        "A friend who joins with your code is counted as yours.",
        "دوستی که با کد شما عضو شود، دعوت‌شدهٔ شما به حساب می‌آید.",
    ),
    "referral_code": ("Your code", "کد شما"),
    "share_link": ("Link to share", "پیوند برای اشتراک"),
    "share_sms": ("Send by SMS", "ارسال با پیامک"),
    "share_text": (
        "Join the Vafa club with my code {code}: {url}",
        "با کد من {code} عضو باشگاه وفا شوید: {url}",
    ),
    "get_code": ("Get my code", "کد من را بساز"),
    "friends_referred": (
        "{count} friends joined with your code; {rewarded} rewarded.",
        "{count} دوست با کد شما عضو شدند؛ {rewarded} پاداش گرفتند.",
    ),
    "causes_title": ("Give points to a cause", "اهدای امتیاز به یک کار خیر"),
    "no_causes": ("No cause to give to right now.", "الان کار خیری برای اهدا نیست."),
    "cause_match": (
        "The brand adds {ratio} points for each point you give.",
        "برند به ازای هر امتیاز شما {ratio} امتیاز اضافه می‌کند.",
    ),
    "give_points": ("Points to give to {cause}", "امتیاز برای اهدا به {cause}"),
    "give": ("Give", "اهدا"),
    "donated": (
        "Thank you: you gave {points} points to {cause}.",
        "سپاس: {points} امتیاز به {cause} اهدا کردید.",
    ),
    "donated_match": ("The brand added {matched} points.", "برند {matched} امتیاز اضافه کرد."),
    "donations_title": ("What you gave", "اهداهای شما"),
    "donation_line": ("{points} points to {cause}", "{points} امتیاز به {cause}"),
    "games_title": ("Games played", "بازی‌های شما"),
    "no_games": (
        "No games played yet: a purchase while a game runs plays it.",
        "هنوز بازی نکرده‌اید: خرید در زمان یک بازی، آن را بازی می‌کند.",
    ),
    "play_won": ("{game}: won {prize}, {points} points", "{game}: برندهٔ {prize}، {points} امتیاز"),
    "play_lost": ("{game}: no prize this time", "{game}: این بار جایزه‌ای نبود"),
    "history": ("History", "سابقه"),
    "history_note": ("Newest first, each with why.", "تازه‌ترین در بالا، هر ردیف با دلیلش."),
    "empty_history": ("Nothing yet.", "هنوز چیزی نیست."),
    "messages": ("Messages we may send you", "پیام‌هایی که می‌توانیم بفرستیم"),
    "messages_note": (
        "News and offers by channel. A change applies to the very next message.",
        "خبرها و پیشنهادها به تفکیک کانال. تغییر از همان پیام بعدی اعمال می‌شود.",
    ),
    "channel_email": ("Email", "ایمیل"),
    "channel_sms": ("SMS", "پیامک"),
    "save": ("Save", "ذخیره"),
    "saved": ("Saved.", "ذخیره شد."),
    "not_available": ("Not available right now: {why}", "الان در دسترس نیست: {why}"),
    "refused_role": ("not allowed ({permission})", "اجازه نیست ({permission})"),
    "service_down": ("{service} is not answering", "سرویس {service} پاسخ نمی‌دهد"),
    "service_error": ("{service} answered {status}", "سرویس {service} با خطای {status} پاسخ داد"),
    "not_found_title": ("Not found", "پیدا نشد"),
    "not_found": ("There is no such page.", "چنین صفحه‌ای نیست."),
    "bad_request_title": ("Not understood", "درخواست نامعتبر"),
    "bad_request": ("The form was not filled as expected: {why}", "فرم درست پر نشده است: {why}"),
    "csrf": (
        "The form had expired or did not come from this page: open it again.",
        "فرم منقضی شده یا از این صفحه نیامده است: دوباره بازش کنید.",
    ),
    "error_title": ("Something went wrong", "خطایی رخ داد"),
    "error": (
        "We could not finish this; it is logged. Try again.",
        "نتوانستیم این کار را انجام دهیم؛ ثبت شد. دوباره تلاش کنید.",
    ),
    "back": ("Back", "بازگشت"),
}


class Words(words.Words):
    TABLE = WORDS
