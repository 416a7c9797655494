"""Errors the domain raises. Each carries a stable machine ``code`` and a human message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def error_body(code: str, message: str, details: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The API's one error shape (``relance.api.errors``), here so a middleware below the API
    answers in it too: ``{"error": {"code", "message", "details": [{field, message, index}]}}``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = list(details)
    return {"error": error}


class RelanceError(Exception):
    """Base of every error Relance raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.extra = extra or {}


class ValidationFailed(RelanceError):
    code = "invalid"


class NotFound(RelanceError):
    code = "not_found"


class Conflict(RelanceError):
    code = "conflict"


class OverAllocation(ValidationFailed):
    """An allocation would take more than a payment holds or an invoice owes."""

    code = "over_allocation"


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of one input row: ``FILE:LINE: field: expected …, found …``."""

    field: str
    expected: str
    found: str = ""
    line: int | None = None
    source: str = ""

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}: " if self.line is not None else ""
        found = f", found {self.found!r}" if self.found != "" else ""
        return f"{where}{self.field}: expected {self.expected}{found}"


@dataclass
class ErrorList(RelanceError):
    errors: list[FieldError] = field(default_factory=list)
    code: str = "invalid"

    def __post_init__(self) -> None:
        RelanceError.__init__(self, f"{len(self.errors)} error(s)", code=self.code)
