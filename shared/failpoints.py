"""Named crash points for the crash-safety tests.

``VAFA_FAILPOINTS=after_db_commit`` makes a process SIGKILL itself the first time it reaches that
point, exactly as a power cut would. Unset in production, the check is one set lookup.
"""

from __future__ import annotations

import os
import signal

_ACTIVE = frozenset(p for p in os.environ.get("VAFA_FAILPOINTS", "").split(",") if p)


def failpoint(name: str) -> None:
    if name in _ACTIVE:
        os.kill(os.getpid(), signal.SIGKILL)
