"""A local SMTP server's receiving side for notify's email: every message kept, parsed, in order."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Any

# How notify's member.sign_in_code message begins, in English and in Persian; the code ends it.
SIGN_IN_CODE_SUBJECTS = ("Your Vafa sign-in code", "کد ورود شما به وفا")


class Mailbox:
    """The handler for aiosmtpd's ``Controller``: what the local SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def sign_in_code(self, address: str, after: int = 0) -> str | None:
        """The newest sign-in code notify sent to ``address`` (in either language) among the messages
        received after the first ``after``; None while there is none."""
        codes = [
            m["Subject"].rsplit(" ", 1)[-1]
            for m in self.messages[after:]
            if m["To"] == address and m["Subject"].startswith(SIGN_IN_CODE_SUBJECTS)
        ]
        return codes[-1] if codes else None
