"""The operator signs in through ingest (name and password); every other call is shared/web/backends.py's."""

from __future__ import annotations

from shared.web.backends import SignedIn, token_from_ingest
from shared.web.session import WebSettings


async def sign_in(
    settings: WebSettings, name: str, password: str
) -> SignedIn | tuple[str, dict[str, object]]:
    """The operator's token from ingest, or why not (as a word key and its values)."""
    credential = {"name": name, "password": password}
    return await token_from_ingest(settings, "/v1/tokens/operator", credential, "wrong_password")


__all__ = ["SignedIn", "sign_in"]
