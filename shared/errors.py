"""What went wrong, in the use case's words: the errors domain and use-case code raise.

Each error says *what* happened (a thing is not there, a request clashes with the state, an input is
invalid, a business rule declines a valid request, a dependency is away), with a title, a detail and
the fields and rules it names. It says nothing of HTTP: the one mapping to RFC 9457 problems, with the
status chosen by the error's class, is ``shared.problems.problem_of`` (installed in every service by
``shared.problems.install``). Pure: no web framework is imported here, so the CLI and the jobs raise
and catch the same errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class FieldError:
    """One field of a request and the rule it broke (a problem's ``errors`` item)."""

    field: str
    rule: str
    message: str


@dataclass(frozen=True)
class RowError:
    """One row of an uploaded file (its line, the header being 1), the field and the rule it broke: what
    an import answers for each bad row instead of refusing the whole file."""

    row: int
    field: str
    rule: str
    message: str


class DomainError(Exception):
    """The base of every error a use case raises on purpose; ``title`` defaults per class."""

    default_title: ClassVar[str] = "Refused"

    def __init__(self, detail: str, *, title: str | None = None, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.title = title or self.default_title
        self.errors: tuple[FieldError, ...] = tuple(errors)


class NotFound(DomainError):
    """What the request names does not exist (an unknown member, reward, redemption, game...)."""

    default_title = "Not found"


class Conflict(DomainError):
    """The request clashes with the state: an id used for something else, a thing that exists, a step
    that can no longer be taken (a released redemption, a settled program)."""

    default_title = "Conflict"


class Invalid(DomainError):
    """The request itself is wrong, whatever the state (a zero adjustment, a transfer to oneself)."""

    default_title = "Invalid request"

    def __init__(
        self,
        detail: str,
        *,
        title: str | None = None,
        errors: Sequence[FieldError] = (),
        field: str | None = None,
        rule: str | None = None,
        message: str | None = None,
    ) -> None:
        if field is not None and rule is not None:
            errors = (*errors, FieldError(field, rule, message or detail))
        super().__init__(detail, title=title, errors=errors)


class Declined(DomainError):
    """A valid request a business rule declines given the state, naming the field and the rule
    (``insufficient_points``, ``period_too_long``): the caller can change the request or wait."""

    default_title = "Declined"

    def __init__(
        self, detail: str, *, field: str, rule: str, message: str | None = None, title: str | None = None
    ) -> None:
        super().__init__(detail, title=title, errors=[FieldError(field, rule, message or detail)])
        self.field = field
        self.rule = rule


class _Later(DomainError):
    """An error that says when to try again (``retry_after_s``)."""

    def __init__(
        self,
        detail: str,
        *,
        title: str | None = None,
        errors: Sequence[FieldError] = (),
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(detail, title=title, errors=errors)
        self.retry_after_s = retry_after_s


class Unavailable(_Later):
    """Something the use case depends on is away (a channel, Kafka, the database): try again later."""

    default_title = "Unavailable"


class Throttled(_Later):
    """Too much at once (events waiting for Kafka, failed sign-ins for a name): slow down."""

    default_title = "Too many requests"
