from __future__ import annotations

from fastapi import FastAPI

from services.ingest.access_api import access_api
from services.ingest.api import api
from services.ingest.auth import KeyRing, SignInLimit
from services.ingest.domain import KINDS, contract_of_kind
from services.ingest.handlers import RawIntakeDecoder, raw_intake_handler
from services.ingest.intake import Intake
from services.ingest.member_import_api import member_import_api
from services.ingest.metrics import IngestMetrics
from services.ingest.privacy_api import privacy_api
from services.ingest.settings import IngestSettings
from services.ingest.store import MIGRATIONS
from services.ingest.store.tables import idempotency
from shared.contracts import MEMBER_ERASED
from shared.service import Consumes, create_app, retention_job

# What it reads and emits on Kafka: its consumer and publishers here, its ACLs (shared/kafka_acls.py).
READS = RawIntakeDecoder.topics
EMITS = sorted({*(contract_of_kind(k) for k in KINDS), MEMBER_ERASED}, key=lambda c: c.name)


def create(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    app = create_app(
        settings,
        title="Vafa ingest",
        migrations=MIGRATIONS,
        consumes=Consumes(RawIntakeDecoder(settings), raw_intake_handler(settings)),
        emits=EMITS,
        api=api,
        jobs=[
            retention_job(
                "prune-idempotency",
                idempotency,
                "created_at",
                settings.ingest_idempotency_hours / 24,
                settings.retention_interval_s,
            )
        ],
        audited=True,
    )
    app.include_router(access_api)
    app.include_router(privacy_api)
    app.include_router(member_import_api)
    metrics = IngestMetrics(app.state.registry)
    app.state.ingest_metrics = metrics
    app.state.intake = Intake(settings, app.state.publishers, metrics)
    app.state.keyring = KeyRing(
        app.state.engine,
        app.state.signing_keys,
        settings.ingest_key_cache_s,
        settings.ingest_key_cache_entries,
    )
    app.state.resolve_token = app.state.keyring.resolve
    app.state.signin_limit = SignInLimit(settings.ingest_signin_failures, settings.ingest_signin_window_s)
    app.state.code_limit = SignInLimit(settings.ingest_member_code_requests, settings.ingest_signin_window_s)
    return app
