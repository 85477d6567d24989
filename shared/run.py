"""Serve a service's app: uvicorn on uvloop, logs to stderr (the launcher redirects them to files)."""

from __future__ import annotations

import gc
import logging
import os

import uvicorn
from fastapi import FastAPI

from shared.config import ServiceSettings

# CPython collects the young generation every 700 container allocations, and every 100th of those runs
# walk the whole heap. A batch of 500 events allocates hundreds of thousands of short-lived objects that
# reference counting frees anyway, so the default spent a fifth to a third of a consumer's CPU in the
# collector (bench/handlers.py). Rarer collections, over a heap whose start-up part is frozen, keep
# cycles collected at a small fraction of that cost.
GC_THRESHOLDS = (10_000, 50, 100)


def tune_gc() -> None:
    """Freeze what start-up built (modules, schemas, the app) and collect garbage less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def yield_cpu(settings: ServiceSettings) -> None:
    """Take the niceness the settings give, before any thread starts (threads inherit it)."""
    if settings.cpu_niceness:
        os.nice(settings.cpu_niceness)


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    tune_gc()
    yield_cpu(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        access_log=False,
        timeout_graceful_shutdown=30,
    )
