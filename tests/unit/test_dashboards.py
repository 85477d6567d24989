"""The Grafana dashboards and Prometheus config only name metrics the services really export, and every
service is scraped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from services.analytics.jobs import KpiGauges
from services.analytics.settings import AnalyticsSettings
from services.ingest.metrics import IngestMetrics
from services.notify.sender import Sender
from services.notify.settings import NotifySettings
from shared.metrics import CoreMetrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported() -> set[str]:
    registry = CollectorRegistry()
    CoreMetrics(registry)
    IngestMetrics(registry)
    KpiGauges(AnalyticsSettings(), registry)
    Sender(NotifySettings(), registry)
    return {
        family.name + suffix for family in registry.collect() for suffix in SUFFIXES.get(family.type, ("",))
    }


def test_every_dashboard_query_names_an_exported_metric() -> None:
    names = exported()
    dashboards = sorted((DEPLOY / "grafana/dashboards").glob("*.json"))
    assert [d.name for d in dashboards] == ["business.json", "operations.json"]
    for path in dashboards:
        board = json.loads(path.read_text())
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in board["panels"]:
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                used = set(re.findall(r"\bvafa_[a-z0-9_]+", target["expr"]))
                assert used and used <= names, (path.name, panel["title"], used - names)


def test_prometheus_scrapes_every_service() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {"ingest", "points", "tiers", "notify", "analytics"}
