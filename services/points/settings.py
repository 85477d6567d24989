from __future__ import annotations

from decimal import Decimal

from shared.config import ServiceSettings


class PointsSettings(ServiceSettings):
    service_name: str = "points"
    http_port: int = 8002
    # Points per whole currency unit spent (VAFA_POINTS_EARN_RATE); rounded down per purchase.
    points_earn_rate: Decimal = Decimal("1")
