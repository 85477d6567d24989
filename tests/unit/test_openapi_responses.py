"""Every route of every service declares what it answers: /openapi.json describes each 2xx body.

Built in-process (``services.<name>.main.create()``; tests/conftest.py sets ``VAFA_ENV=dev``), so no
Kafka or PostgreSQL is needed: the document is read, not served.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

SERVICES = ["ingest", "points", "tiers", "notify", "analytics"]


def _document(name: str) -> dict[str, Any]:
    app = importlib.import_module(f"services.{name}.main").create()
    document: dict[str, Any] = app.openapi()
    return document


def _resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document["components"]["schemas"][name]
    return schema


def described(document: dict[str, Any], schema: dict[str, Any] | None) -> bool:
    """A schema that says something: an object with declared properties, a list of such, or one of
    several such (never ``{}`` or a bare ``object``, which is what ``dict[str, Any]`` gives)."""
    if not schema:
        return False
    schema = _resolved(document, schema)
    if schema.get("properties"):
        return True
    if schema.get("type") == "array":
        return described(document, schema.get("items"))
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return all(described(document, s) for s in schema[key] if s.get("type") != "null")
    return False


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in document["paths"].items()
        for method, op in ops.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


@pytest.mark.parametrize("name", SERVICES)
def test_every_route_declares_its_2xx_response(name: str) -> None:
    document = _document(name)
    undeclared = []
    for method, path, op in _operations(document):
        successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        if not successes:
            undeclared.append(f"{method} {path}: no 2xx response")
        for code, response in successes.items():
            if code == "204":
                assert not response.get("content"), f"{method} {path}: a 204 has no body"
                continue
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if not described(document, schema):
                undeclared.append(f"{method} {path} {code}: {schema}")
    assert not undeclared, "\n".join(undeclared)


@pytest.mark.parametrize("name", SERVICES)
def test_every_route_still_names_its_permission(name: str) -> None:
    """Declaring responses kept ``secured(...)``: the access matrix reads ``x-vafa-permission``."""
    document = _document(name)
    missing = [f"{m} {p}" for m, p, op in _operations(document) if "x-vafa-permission" not in op]
    assert not missing


def test_described_refuses_an_untyped_dict() -> None:
    document: dict[str, Any] = {"components": {"schemas": {"A": {"properties": {"a": {}}}}}}
    assert not described(document, {"type": "object", "additionalProperties": True})
    assert not described(document, {})
    assert described(document, {"$ref": "#/components/schemas/A"})
    assert described(document, {"type": "array", "items": {"$ref": "#/components/schemas/A"}})
