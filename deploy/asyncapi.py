"""`make asyncapi`: write the AsyncAPI document faststream generates for each service to docs/asyncapi/.

Each running service also serves its own at /asyncapi.json.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from services.analytics.main import create as analytics
from services.ingest.main import create as ingest
from services.notify.main import create as notify
from services.points.main import create as points
from services.tiers.main import create as tiers

OUT = Path(__file__).resolve().parent.parent / "docs" / "asyncapi"


def documents() -> dict[str, str]:
    """Each service's document as written to docs/asyncapi/, by service name."""
    # The apps are built only to read their documents: nothing starts, no secret is used, so the
    # repository's development values are what they get (a service would refuse them in production).
    os.environ.setdefault("VAFA_ENV", "dev")
    services: dict[str, Callable[[], FastAPI]] = {
        "ingest": ingest,
        "points": points,
        "tiers": tiers,
        "notify": notify,
        "analytics": analytics,
    }
    return {
        name: json.dumps(create().state.asyncapi.to_specification().to_jsonable(), indent=2, sort_keys=True)
        + "\n"
        for name, create in services.items()
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in documents().items():
        (OUT / f"{name}.json").write_text(text)
        print(f"wrote {OUT / name}.json")


if __name__ == "__main__":
    main()
