"""The Kubernetes manifests are valid resources, and every service's Deployment probes and exposes
what the service serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"


def resources() -> list[dict[str, Any]]:
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def test_every_manifest_validates_against_the_kubernetes_schema() -> None:
    docs = resources()
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, "1.33.0", strict=True)


def test_each_service_runs_its_module_with_probes_on_its_port() -> None:
    deployments = {d["metadata"]["name"]: d for d in resources() if d["kind"] == "Deployment"}
    assert set(deployments) == {"vafa-ingest", "vafa-points", "vafa-tiers", "vafa-notify", "vafa-analytics"}
    for name, deployment in deployments.items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["command"][-1] == f"services.{name.removeprefix('vafa-')}"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["resources"]["limits"]["memory"]


def test_each_service_connects_to_kafka_as_its_own_principal_with_a_password_from_a_secret() -> None:
    config = next(d for d in resources() if d["kind"] == "ConfigMap")["data"]
    assert config["VAFA_KAFKA_SECURITY_PROTOCOL"].startswith("SASL")
    for deployment in (d for d in resources() if d["kind"] == "Deployment"):
        name = deployment["metadata"]["name"]
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["VAFA_KAFKA_SASL_USERNAME"]["value"] == name
        secret = env["VAFA_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert secret == {"name": f"vafa-kafka-{name.removeprefix('vafa-')}", "key": "password"}
