"""RFC 9457 problem details: every error a service's HTTP API returns, naming the field and the rule."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException

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
from shared.refusal import Refused
from shared.store.failures import BUSY, classify

__all__ = [
    "PROBLEM_JSON",
    "FieldError",
    "ProblemError",
    "errors_of",
    "install",
    "invalid",
    "problem_body",
    "problem_of",
]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class _HasErrors(Protocol):
    def errors(self) -> Sequence[Any]: ...


def errors_of(error: _HasErrors, skip: tuple[str, ...] = ()) -> list[FieldError]:
    """pydantic's errors as (field, rule, message); ``skip`` drops location parts that are not fields
    (FastAPI's "body", a union's kind tag). A rule a model checks across its fields (``Refused``)
    names its own field and rule id instead of pydantic's ``value_error`` at the model."""
    found = []
    for e in error.errors():
        loc = [str(p) for p in e["loc"] if p not in skip]
        refused = (e.get("ctx") or {}).get("error")
        if isinstance(refused, Refused):
            found.append(FieldError(".".join([*loc, refused.field]), refused.rule, refused.message))
        else:
            found.append(FieldError(".".join(loc), e["type"], e["msg"]))
    return found


def problem_body(status: int, title: str, detail: str, errors: Sequence[FieldError] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"https://vafa.dev/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [{"field": e.field, "rule": e.rule, "message": e.message} for e in errors]
    return body


class ProblemError(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.body = problem_body(status, title, detail, errors)
        self.headers = headers


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def invalid(errors: Sequence[FieldError]) -> dict[str, Any]:
    return problem_body(422, "Invalid request", f"{len(errors)} field(s) failed validation", errors)


# The one place a domain error's class becomes an HTTP status (the most specific class wins).
STATUS_OF: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    Invalid: 422,
    Declined: 422,
    Throttled: 429,
    Unavailable: 503,
    DomainError: 400,
}


def problem_of(error: DomainError) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """A domain error as a problem: its status (by its class), body and headers."""
    status = next(STATUS_OF[c] for c in type(error).__mro__ if c in STATUS_OF)
    headers = None
    if isinstance(error, Throttled | Unavailable) and error.retry_after_s is not None:
        headers = {"Retry-After": str(error.retry_after_s)}
    return status, problem_body(status, error.title, error.detail, error.errors), headers


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain(request: Request, error: DomainError) -> JSONResponse:
        return problem_response(*problem_of(error))

    @app.exception_handler(ProblemError)
    async def problem(request: Request, error: ProblemError) -> JSONResponse:
        return problem_response(error.status, error.body, error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = errors_of(error, skip=("body",))
        return problem_response(422, invalid(errors))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        # The framework's own refusals (404, 405, a body it cannot decode as UTF-8 JSON) as problems.
        title = HTTPStatus(error.status_code).phrase
        detail = error.detail if isinstance(error.detail, str) else title
        if error.status_code == 400 and detail == "There was an error parsing the body":
            errors = [FieldError("body", "body_not_utf8_json", "the body must be JSON encoded as UTF-8")]
            body = problem_body(400, title, "the body could not be read as UTF-8 JSON", errors)
        else:
            body = problem_body(error.status_code, title, detail)
        return problem_response(error.status_code, body, dict(error.headers or {}) or None)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # A bug is still answered as a problem; the traceback goes to the log, not to the caller.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, problem_body(500, "Internal error", "the request could not be handled"))

    @app.exception_handler(DBAPIError)
    async def data_refused(request: Request, error: DBAPIError) -> JSONResponse:
        if classify(error) == BUSY:  # the database is away or dropped the connection: try again
            return problem_response(
                *problem_of(
                    Unavailable(
                        "the database cannot be reached for the moment; send the request again",
                        retry_after_s=2,
                    )
                )
            )
        # SQLSTATE class 22 is "data exception": a value the database cannot hold (a NUL character,
        # a number out of range). The input was wrong, so it is a 422, never a 500.
        sqlstate = str(getattr(error.orig, "sqlstate", "") or "")
        if not sqlstate.startswith("22"):
            return await unexpected(request, error)
        detail = f"a value cannot be stored ({sqlstate}): {str(error.orig).splitlines()[0][:200]}"
        return problem_response(422, problem_body(422, "Invalid request", detail))
