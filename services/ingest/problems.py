"""RFC 9457 problem details for every error ingest returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.ingest.domain import FieldError, errors_of

PROBLEM_JSON = "application/problem+json"


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


def install(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def problem(request: Request, error: ProblemError) -> JSONResponse:
        return problem_response(error.status, error.body, error.headers)

    @app.exception_handler(RequestValidationError)
    async def validation(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = errors_of(error, skip=("body",))
        return problem_response(422, invalid(errors))
