"""A rule a model checks across its fields, broken: which field, a stable rule id, and why.

Raised from pydantic validators (it is a ``ValueError``, so pydantic collects it as a validation error);
``shared.problems.errors_of`` turns it into the problem's ``{"field", "rule", "message"}``. Pure: domain
code raises it without depending on the HTTP layer.
"""

from __future__ import annotations


class Refused(ValueError):
    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule
        self.message = message
