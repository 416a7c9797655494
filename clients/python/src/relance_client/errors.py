"""The API's errors as exceptions: one class per status family, with the API's code and details."""

from __future__ import annotations

from typing import Any


class RelanceError(Exception):
    """An error answered by the API (``status`` > 0) or a request that never got an answer (0)."""

    def __init__(
        self, message: str, *, status: int = 0, code: str = "", details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = details or []

    def __str__(self) -> str:
        lines = [f"{self.status} {self.code}: {self.message}" if self.status else self.message]
        for detail in self.details:
            where = f"[{detail['index']}] " if detail.get("index") is not None else ""
            lines.append(f"  {where}{detail.get('field')}: {detail.get('message')}")
        return "\n".join(lines)


class BadRequestError(RelanceError):
    """400: e.g. ``entity_required`` (you see several entities: pass ``entity=``)."""


class AuthenticationError(RelanceError):
    """401: no token, or a wrong, expired or revoked one."""


class PermissionDeniedError(RelanceError):
    """403: your role may not do this."""


class NotFoundError(RelanceError):
    """404: no such record, or one of an entity you cannot see."""


class ValidationError(RelanceError):
    """422: invalid fields (``details`` names each), a reused idempotency key, an invalid cursor…"""


class ServerError(RelanceError):
    """5xx after the retries ran out."""


class ConnectionFailed(RelanceError):
    """No answer after the retries ran out (network, timeout)."""


_BY_STATUS: dict[int, type[RelanceError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: ValidationError,
}


def error_for(status: int, body: Any) -> RelanceError:
    info = body.get("error", {}) if isinstance(body, dict) else {}
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else RelanceError)
    return cls(
        str(info.get("message") or f"HTTP {status}"),
        status=status,
        code=str(info.get("code") or ""),
        details=list(info.get("details") or []),
    )
