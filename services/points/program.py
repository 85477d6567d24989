"""What a program package gives the points service, and the hook it adds to a batch of purchases.

A program (games, challenges, causes, referrals, a time-limited program's end, targeted promotions)
lives in ``services/points/programs/<name>/`` and is listed once in ``programs/__init__.py``. The core
never imports a program: it is handed the list, mounts each router, runs each job, lets each read the
events it consumes, and gives each a hook on the purchases of every batch. Programs import the core
(the posting book, the settings, the wallet), never each other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncConnection

from services.points.domain.loyalty import MAIN
from services.points.domain.rules import RuleSet
from services.points.posting import Book
from services.points.settings import PointsSettings
from services.points.store.ledger import Original
from shared.contracts import Contract, Envelope, PurchaseRecorded, ReturnRecorded
from shared.service import Job
from shared.store.settled import Stamps


@dataclass(frozen=True)
class Batch:
    """What a program's hook may look at when it loads its state for a batch."""

    purchases: Sequence[Envelope[PurchaseRecorded]]
    returns: Sequence[Envelope[ReturnRecorded]]
    members: frozenset[str]
    rule_sets: Sequence[tuple[int, RuleSet]]
    program_id: str = MAIN  # the loyalty program whose run this is: a hook acts in its own programs only
    # The batch's stamps of the watched configuration tables (``shared.store.settled``): a hook may keep
    # what it reads from them across batches.
    stamps: Stamps | None = None


class PurchaseHook:
    """A program's part in one batch of purchases; each method does nothing unless overridden.

    The hook's state is loaded for the batch (``Program.purchases``), its methods are pure (they post
    on the book), and ``save`` writes what it changed, in the batch's transaction."""

    def closed(self, at: datetime) -> bool:
        """True when what is bought at ``at`` earns nothing (the program has ended)."""
        return False

    def promotions(self, member: str, at: datetime) -> frozenset[str]:
        """The targeted promotions ``member`` had been chosen for by ``at``."""
        return frozenset()

    def purchased(self, book: Book, event: Envelope[Any], purchase: PurchaseRecorded) -> None:
        """After the purchase earned (a game's play, a challenge's mark)."""

    def returned(
        self, book: Book, event: Envelope[Any], ret: ReturnRecorded, original: Original | None
    ) -> None:
        """After a return took back what its purchase earned (``original`` says how much is refunded)."""

    async def save(self, conn: AsyncConnection) -> None:
        """Write what the batch changed."""


def no_jobs(settings: PointsSettings) -> list[Job]:
    return []


@dataclass(frozen=True)
class Program:
    name: str
    router: APIRouter | None = None
    jobs: Callable[[PointsSettings], list[Job]] = no_jobs
    # Loads the program's state for a batch of purchases (None: it adds nothing to purchases).
    purchases: Callable[[AsyncConnection, Batch], Awaitable[PurchaseHook]] | None = None
    # Events it reads, and what it does with them (before the batch's purchases are applied). Several
    # programs may read one contract, and a program may read one the ledger applies (``tier.changed``):
    # the ledger still applies it.
    consumes: tuple[Contract[Any], ...] = ()
    record: Callable[[AsyncConnection, list[Envelope[Any]]], Awaitable[None]] | None = None
    # Its part of a member's export (merged into points' export document).
    export: Callable[[AsyncConnection, str], Awaitable[dict[str, Any]]] | None = None
