"""What most endpoints share: the error responses and the common query parameters (one home)."""

from __future__ import annotations

from typing import Any

from ninja import Query

from relance.api import schemas as s
from relance.api.pagination import DEFAULT_LIMIT, MAX_LIMIT

ERRORS: dict[int, Any] = {400: s.ErrorOut, 401: s.ErrorOut, 403: s.ErrorOut, 404: s.ErrorOut, 422: s.ErrorOut}
WRITE_ERRORS: dict[int, Any] = {**ERRORS, 409: s.ErrorOut, 413: s.ErrorOut}
EntityName = Query(None, description="entity name; may be left out when you can see only one")
Cursor = Query(None, description="next_cursor of the previous page")
Limit = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"items per page, at most {MAX_LIMIT}")
UpdatedSince = Query(None, description="only rows changed at or after this instant (ISO 8601)")
#: ``updated_since`` of rows that are never changed (events, comments, saved views): their instant.
WrittenSince = Query(
    None, description="only rows written at or after this instant (ISO 8601; they never change)"
)
CustomerRef = Query(None, description="only this customer's")
