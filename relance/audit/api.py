"""Audit events for the REST API's writes (they use bulk upserts, which send no model signals)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.http import HttpRequest, HttpResponse

from relance.audit.context import audit_context
from relance.audit.services import audit_record, model_values, values_diff

WITH_ALLOCATIONS = frozenset({"ledger.payment", "ledger.creditnote"})


@dataclass(frozen=True)
class PendingApiWrite:
    model: str
    entity_id: int
    ref: str | None
    before: dict[str, Any] | None


def _row(model_label: str, entity_id: int, ref: str) -> Any:
    """The row an API write names by its external ref; None for models named otherwise (their
    services record their own events: credit applications, bank statements)."""
    model = apps.get_model(model_label)
    if not any(field.name == "external_ref" for field in model._meta.get_fields()):
        return None
    if model_label == "ledger.contact":
        return model.objects.filter(customer__entity_id=entity_id, external_ref=ref).first()
    return model.objects.filter(entity_id=entity_id, external_ref=ref).first()


def _snapshot(model_label: str, row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    values = model_values(row)
    if model_label in WITH_ALLOCATIONS:
        values["allocations"] = [
            [allocation.invoice_id, allocation.date.isoformat(), str(allocation.amount)]
            for allocation in row.allocations.order_by("invoice_id", "date", "id")
        ]
    return values


def api_write_begin(request: HttpRequest, *, model: str, entity_id: int, ref: str | None) -> None:
    """Called by the API's authentication for a write to ``model`` (row ``ref``, or a bulk request
    when None) of the entity it resolved: remember the target row as it is now."""
    if audit_context() is None:
        return
    before = _snapshot(model, _row(model, entity_id, ref)) if ref else None
    request.audit_api_write = PendingApiWrite(  # type: ignore[attr-defined]
        model=model, entity_id=entity_id, ref=ref, before=before
    )


def api_write_finish(request: HttpRequest, response: HttpResponse, pending: PendingApiWrite) -> None:
    """After a successful write: one event for the row (create/update), or one for a bulk request."""
    if response.status_code >= 300 or response.get("Idempotent-Replayed"):
        return
    if pending.ref is None:
        try:
            counts = json.loads(response.content)
        except ValueError:
            counts = {}
        if not isinstance(counts, dict) or not (counts.get("created") or counts.get("updated")):
            return
        audit_record(
            action="import",
            object_type=pending.model,
            object_repr=f"API bulk {request.path}",
            entity=pending.entity_id,
            after={key: counts.get(key, 0) for key in ("created", "updated", "unchanged")},
        )
        return
    row = _row(pending.model, pending.entity_id, pending.ref)
    after = _snapshot(pending.model, row)
    if row is None or after is None:
        return
    if pending.before is None:
        audit_record(action="create", obj=row, after=after, entity=pending.entity_id)
        return
    before, changed = values_diff(pending.before, after)
    if before or changed:
        audit_record(action="update", obj=row, before=before, after=changed, entity=pending.entity_id)
