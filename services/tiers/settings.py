from __future__ import annotations

from pathlib import Path

from services.tiers.domain import Ladder
from shared.config import ServiceSettings

DEFAULT_LADDER = {
    "metric": "spend",
    "currency": "IRR",
    "window_months": 12,
    "grace_days": 30,
    "nudge_within": "0.1",
    "vip_tier": "Gold",
    "tiers": [
        {"name": "Bronze", "threshold": "0"},
        {"name": "Silver", "threshold": "50000000", "benefits": {"earn_multiplier": "1.1"}},
        {
            "name": "Gold",
            "threshold": "200000000",
            "benefits": {"earn_multiplier": "1.25", "perks": ["free_delivery"], "birthday_bonus": 500},
        },
        {
            "name": "Platinum",
            "threshold": "1000000000",
            "benefits": {
                "earn_multiplier": "1.5",
                "perks": ["free_delivery", "lounge"],
                "birthday_bonus": 2000,
            },
        },
    ],
}


class TiersSettings(ServiceSettings):
    service_name: str = "tiers"
    http_port: int = 8003
    # A JSON file with the ladder (VAFA_TIERS_LADDER_FILE); the default ladder above when empty.
    tiers_ladder_file: str = ""
    tiers_jobs_interval_s: float = 60.0
    # Days before a paid membership ends that membership.expiring goes out.
    tiers_vip_reminder_days: int = 30

    def ladder(self) -> Ladder:
        """Main's ladder (another program's is set through the API); it names the paid VIP tier."""
        if self.tiers_ladder_file:
            ladder = Ladder.model_validate_json(Path(self.tiers_ladder_file).read_text())
        else:
            ladder = Ladder.model_validate(DEFAULT_LADDER)
        if ladder.vip_tier is None:
            raise ValueError("main's ladder names the tier a paid VIP membership grants (vip_tier)")
        return ladder
