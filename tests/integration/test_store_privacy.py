"""What a database error says, and so what reaches a log or a dead letter, names no member's data."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from shared.store.db import make_engine
from tests.support import Stack, store_settings


async def test_a_failed_statement_does_not_print_its_parameters(stack: Stack) -> None:
    await stack.create("notify")
    settings = store_settings(stack, "notify")
    engine = make_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE contacts (email text CHECK (email LIKE '%@%'))"))
        with pytest.raises(Exception) as failed:
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO contacts VALUES (:email), (:phone)"),
                    {"email": "shirin@example.com", "phone": "+989121234567"},
                )
    finally:
        await engine.dispose()
    said = str(failed.value)
    assert "contacts_email_check" in said  # still says what went wrong
    assert "shirin@example.com" not in said and "+989121234567" not in said
