"""The pages an operator moves between, each with the permission it needs: the nav shows a page only
to a role that may open it, and its route refuses every other (the same permission, declared once)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.identity import Permission


@dataclass(frozen=True)
class Page:
    key: str  # its word in the nav
    path: str
    permission: Permission


NAV = (
    Page("members", "/members", Permission.MEMBER_READ),
    Page("audit", "/audit", Permission.AUDIT_READ),
    Page("program", "/program", Permission.PROGRAM_WRITE),
    Page("insight", "/insight", Permission.INSIGHT_READ),
    Page("operations", "/operations", Permission.OPS_READ),
    Page("setup", "/setup", Permission.PROGRAM_WRITE),
    Page("imports", "/imports", Permission.MEMBERS_IMPORT),
)
