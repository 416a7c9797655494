"""relance-client: a typed client of Relance's REST API v1."""

from relance_client.client import OPERATIONS, RelanceClient, Resource
from relance_client.errors import (
    AuthenticationError,
    BadRequestError,
    ConnectionFailed,
    NotFoundError,
    PermissionDeniedError,
    RelanceError,
    ServerError,
    ValidationError,
)

__all__ = [
    "OPERATIONS",
    "AuthenticationError",
    "BadRequestError",
    "ConnectionFailed",
    "NotFoundError",
    "PermissionDeniedError",
    "RelanceClient",
    "RelanceError",
    "Resource",
    "ServerError",
    "ValidationError",
]
