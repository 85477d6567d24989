"""The services as the benchmark and the chaos suite run them: their names, in pipeline order, and the
topics each one's consumer group reads (from the services' own contracts, so they never drift)."""

from __future__ import annotations

from services.analytics.handlers import CONSUMES as ANALYTICS_READS
from services.ingest.handlers import RawIntakeDecoder
from services.notify.handlers import CONSUMES as NOTIFY_READS
from services.points.main import CONSUMES as POINTS_READS
from services.tiers.handlers import CONSUMES as TIERS_READS
from shared.consumer import ContractDecoder

SERVICES = ("ingest", "points", "tiers", "notify", "analytics")
READS: dict[str, list[str]] = {
    "ingest": list(RawIntakeDecoder.topics),
    "points": list(ContractDecoder(POINTS_READS).topics),
    "tiers": list(ContractDecoder(TIERS_READS).topics),
    "notify": list(ContractDecoder(NOTIFY_READS).topics),
    "analytics": list(ContractDecoder(ANALYTICS_READS).topics),
}
