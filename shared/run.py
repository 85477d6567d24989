"""Serve a service's app: uvicorn on uvloop, logs to stderr (the launcher redirects them to files)."""

from __future__ import annotations

import logging

import uvicorn
from fastapi import FastAPI

from shared.config import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        access_log=False,
        timeout_graceful_shutdown=30,
    )
