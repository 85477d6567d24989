"""The AsyncAPI documents in docs/asyncapi/ are what the services serve at /asyncapi.json: each service's
document builds, and the committed one is current (``make asyncapi`` writes them)."""

from __future__ import annotations

import os

import pytest

from deploy.asyncapi import OUT, documents


def test_each_services_asyncapi_document_builds_and_the_committed_one_is_current(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [n for n in os.environ if n.startswith("VAFA_")]:  # as `make asyncapi` runs: no stack's
        monkeypatch.delenv(name)
    monkeypatch.setenv("VAFA_ENV", "dev")
    built = documents()
    assert set(built) == {"ingest", "points", "tiers", "notify", "analytics"}
    stale = [name for name, text in built.items() if (OUT / f"{name}.json").read_text() != text]
    assert not stale, f"docs/asyncapi is not current for {stale}: run `make asyncapi`"
