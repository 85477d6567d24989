"""Members' addresses, asked of ingest (which alone holds them) when a message goes out."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import httpx

from services.notify.settings import NotifySettings
from shared.identity import Principal, SigningKeys

TOKEN_TTL_S = 300


class ContactsUnavailable(Exception):
    pass


class Contacts:
    def __init__(self, settings: NotifySettings, client: httpx.AsyncClient) -> None:
        self._url = settings.notify_contacts_url.rstrip("/") + "/v1/members/contacts"
        self._client = client
        self._keys = SigningKeys(settings.auth_signing_keys)

    async def of(self, member_ids: Collection[str]) -> dict[str, dict[str, Any]]:
        """member id -> {"email", "phone"} for those ingest holds contact data of."""
        if not member_ids:
            return {}
        token = self._keys.issue(Principal("service", "notify"), TOKEN_TTL_S)
        try:
            answer = await self._client.get(
                self._url,
                params={"member_id": sorted(member_ids)},
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as error:
            raise ContactsUnavailable(f"{type(error).__name__}: {error}") from error
        if answer.status_code != 200:
            raise ContactsUnavailable(f"{self._url} answered {answer.status_code}")
        found: dict[str, dict[str, Any]] = answer.json()["contacts"]
        return found
