"""The one mapping from domain errors to RFC 9457 problems: each class's status, and the body that
carries the error's own title, detail, fields and rules, as every service answers it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import exc

from shared import errors
from shared.errors import (
    Conflict,
    Declined,
    DomainError,
    FieldError,
    Invalid,
    NotFound,
    Throttled,
    Unavailable,
)
from shared.problems import PROBLEM_JSON, install, problem_of


@pytest.mark.parametrize(
    ("error", "status", "title"),
    [
        (NotFound("there is no reward 'x' in the catalog", title="Unknown reward"), 404, "Unknown reward"),
        (NotFound("no operator 'sara'"), 404, "Not found"),
        (Conflict("'tea' is out of stock", title="Out of stock"), 409, "Out of stock"),
        (Conflict("operator 'sara' exists"), 409, "Conflict"),
        (Invalid("a member cannot transfer points to themselves"), 422, "Invalid request"),
        (Declined("no", field="points", rule="insufficient_points"), 422, "Declined"),
        (Unavailable("the code could not be sent over sms", title="Not delivered"), 503, "Not delivered"),
        (
            Throttled("too many failed sign-ins for 'sara'", title="Too many attempts"),
            429,
            "Too many attempts",
        ),
    ],
)
def test_each_class_maps_to_its_status(error: DomainError, status: int, title: str) -> None:
    got, body, headers = problem_of(error)
    assert got == status
    assert body == {
        "type": f"https://vafa.dev/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": error.detail,
        **({"errors": [vars(e) for e in error.errors]} if error.errors else {}),
    }
    assert headers is None


def test_a_business_refusal_names_its_field_and_rule() -> None:
    error = Declined(
        "cannot take 500 points: the balance is 20",
        title="Insufficient points",
        field="points",
        rule="insufficient_points",
        message="balance 20",
    )
    status, body, _ = problem_of(error)
    assert status == 422
    assert body["title"] == "Insufficient points"
    assert body["detail"] == "cannot take 500 points: the balance is 20"
    assert body["errors"] == [{"field": "points", "rule": "insufficient_points", "message": "balance 20"}]


def test_invalid_names_a_field_and_rule_when_given() -> None:
    _, plain, _ = problem_of(Invalid("look up by email or by phone"))
    assert "errors" not in plain
    _, named, _ = problem_of(Invalid("look up by email or by phone", field="email", rule="one_of"))
    assert named["errors"] == [
        {"field": "email", "rule": "one_of", "message": "look up by email or by phone"}
    ]
    listed = Invalid("2 fields", errors=[FieldError("a", "r1", "m1"), FieldError("b", "r2", "m2")])
    assert [e["rule"] for e in problem_of(listed)[1]["errors"]] == ["r1", "r2"]


def test_unavailable_and_throttled_say_when_to_try_again() -> None:
    status, _, headers = problem_of(Unavailable("kafka unreachable", retry_after_s=5))
    assert status == 503 and headers == {"Retry-After": "5"}
    status, body, headers = problem_of(Throttled("20000 events are waiting for Kafka", retry_after_s=1))
    assert (status, body["title"], headers) == (429, "Too many requests", {"Retry-After": "1"})


def test_a_subclass_takes_its_parents_status() -> None:
    class UnknownMember(NotFound):
        default_title = "Unknown member"

    status, body, _ = problem_of(UnknownMember("member 'm' has no points yet"))
    assert (status, body["title"]) == (404, "Unknown member")


def test_every_error_class_has_a_status() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, DomainError)]
    assert {c.__name__ for c in classes} >= {
        "NotFound",
        "Conflict",
        "Invalid",
        "Declined",
        "Unavailable",
        "Throttled",
    }
    for cls in classes:
        error = cls("x", field="f", rule="r") if cls is Declined else cls("x")
        assert 400 <= problem_of(error)[0] < 600


def _app(error: Exception) -> FastAPI:
    app = FastAPI()
    install(app)

    @app.get("/boom")
    async def boom() -> dict[str, Any]:
        raise error

    return app


def test_installed_handler_answers_a_problem() -> None:
    error = Conflict("this request id was used for another redemption")
    answer = TestClient(_app(error)).get("/boom")
    assert answer.status_code == 409
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.json() == problem_of(error)[1]


def test_installed_handler_sends_retry_after() -> None:
    answer = TestClient(_app(Unavailable("not ready", retry_after_s=3))).get("/boom")
    assert answer.status_code == 503 and answer.headers["retry-after"] == "3"


class _Orig(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "status"),
    [
        # The database dropped the connection (no connection is pinged before use) or is away.
        (
            exc.InterfaceError("select", {}, _Orig("connection is closed", ""), connection_invalidated=True),
            503,
        ),
        (exc.DBAPIError("select", {}, _Orig("terminating connection", "57P01")), 503),
        (exc.OperationalError("connect", {}, _Orig("the database system is starting up", "57P03")), 503),
        # A value the database cannot hold is the input's fault; anything else is ours.
        (exc.DBAPIError("insert", {}, _Orig("invalid byte sequence for encoding UTF8", "22021")), 422),
        (exc.DBAPIError("select", {}, _Orig("relation does not exist", "42P01")), 500),
    ],
)
def test_a_database_failure_is_answered_by_what_it_means(error: Exception, status: int) -> None:
    answer = TestClient(_app(error), raise_server_exceptions=False).get("/boom")
    assert answer.status_code == status
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert ("retry-after" in answer.headers) == (status == 503)
