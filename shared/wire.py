"""Base classes for response models: what a route answers, declared, so /openapi.json describes it.

Bodies are serialized by pydantic, as they were when the routes were annotated ``-> dict[str, Any]``
(FastAPI takes a return annotation for the response model): a datetime as ISO 8601 (``Z`` for UTC), a
``Decimal`` as a JSON string (no digit lost to a float), a UUID as its text. A field a route had
already turned into a string (``hold_until.isoformat()``) is declared ``str``, so it goes out as it
was. Routes whose dicts may lack an optional key answer with ``response_model_exclude_unset=True``, so
a key that was absent stays absent instead of becoming ``null``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Out(BaseModel):
    """A response's shape: every key declared, none added (a key the route forgot to declare fails the
    response, so the document cannot drift from the body)."""

    model_config = ConfigDict(extra="forbid")


class OpenOut(BaseModel):
    """A response with declared keys plus a stored configuration's own (a game's, a program's, the
    AsyncAPI document's), passed through as stored."""

    model_config = ConfigDict(extra="allow")


class RowRefused(Out):
    """A bad row of an uploaded file, as an import answers it (``shared.errors.RowError``)."""

    row: int = Field(description="the row's number in the file (the header is row 1)")
    field: str
    rule: str
    message: str
