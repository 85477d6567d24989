"""Poison: records that no consumer can apply, each kind made from a valid one. The hostile-input
matrix sends every kind to every consuming service; `make chaos` sends a burst of them under load."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def poisons(valid: dict[str, Any], inner: str) -> dict[str, Callable[[], bytes]]:
    """Each kind of poison, made from a valid record (``inner`` names where its strings live)."""

    def set_(path: str, value: Any, ascii_only: bool = True) -> Callable[[], bytes]:
        def make() -> bytes:
            record = json.loads(json.dumps(valid))
            *parents, last = path.split(".")
            target = record
            for part in parents:
                target = target[part]
            target[last] = value
            # json, not orjson: a hostile producer writes what orjson would not (lone surrogates, 2**70).
            return json.dumps(record, ensure_ascii=ascii_only).encode()

        return make

    p = f"{inner}." if inner else ""
    text = json.dumps(valid)
    return {
        "NUL in the member id": set_(f"{p}member_id", "09120\x0000001"),
        "NUL in an id": set_(f"{p}store_id", "store\x00"),
        "NUL in a JSON key": set_(f"{p}note\x00", "x"),
        "terminal escape in text": set_(f"{p}member_id", "m\x1b[2J"),
        "C1 control, raw UTF-8": set_(f"{p}member_id", "m\x85", ascii_only=False),
        "lone surrogate": set_(f"{p}member_id", "m\ud800"),
        "integer past 64 bits": set_("schema_version" if inner else "total_amount", 2**70),
        "money past what a column holds": set_(f"{p}total_amount" if "total_amount" in text else "x", "1e30"),
        "an object where text belongs": set_(f"{p}member_id", {"$ne": None}),
        "a list where an object belongs": set_(inner or "lines", []),
        "oversized text": set_(f"{p}member_id", "m" * 900_000),
        "invalid UTF-8": lambda: text.replace('"', "\xff", 1).encode("latin-1", "replace"),
        "nested 100,000 deep": lambda: b"[" * 100_000 + b"]" * 100_000,
        "NaN": lambda: text.replace("{", '{"nan": NaN, ', 1).encode(),
        "a naive time": set_("occurred_at", "2026-12-01T10:00:00"),
    }
