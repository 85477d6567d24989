"""A local SMTP server's receiving side for notify's email: every message kept, parsed, in order."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Any


class Mailbox:
    """The handler for aiosmtpd's ``Controller``: what the local SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"
