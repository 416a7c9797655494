"""The event types, their payload versions and their payloads' JSON Schemas (one home: the
OpenAPI components, the docs and ``emit``'s check all read ``EVENT_TYPES``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

AMOUNT: dict[str, Any] = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "decimal string"}
CURRENCY: dict[str, Any] = {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217"}
DATE: dict[str, Any] = {"type": "string", "format": "date"}
INSTANT: dict[str, Any] = {"type": "string", "format": "date-time"}
CUSTOMER: dict[str, Any] = {
    "type": "object",
    "required": ["id", "external_ref", "name"],
    "properties": {"id": {"type": "integer"}, "external_ref": {"type": "string"}, "name": {"type": "string"}},
}
REFS: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "description": "invoice numbers"}


#: Types whose events concern no customer (a run), or maybe none (an application from a prospect:
#: ``customer`` is there only once the applicant is a customer).
WITHOUT_CUSTOMER = frozenset({"run.completed", "credit.application_decided", "webhook.test"})


#: Types whose events never concern a customer.
NEVER_CUSTOMER = frozenset({"run.completed", "webhook.test"})


@dataclass(frozen=True)
class EventType:
    """One kind of event: its name, what it means, its payload version and the ``data`` schema."""

    name: str
    description: str
    properties: dict[str, Any] = field(default_factory=dict)
    version: int = 1

    def data_schema(self) -> dict[str, Any]:
        """``customer`` is in every payload but a run's; optional where there may be none."""
        customer = {} if self.name in NEVER_CUSTOMER else {"customer": CUSTOMER}
        required = list(self.properties) if self.name in WITHOUT_CUSTOMER else [*customer, *self.properties]
        return {"type": "object", "required": required, "properties": customer | self.properties}


def _t(name: str, description: str, **properties: dict[str, Any]) -> EventType:
    return EventType(name, description, properties)


_ID = {"type": "integer"}
_TEXT = {"type": "string"}

EVENT_TYPES: dict[str, EventType] = {
    t.name: t
    for t in (
        _t(
            "invoice.paid",
            "An invoice's open amount reached zero.",
            invoice=_TEXT,
            amount=AMOUNT,
            currency=CURRENCY,
            paid_on=DATE,
        ),
        _t(
            "payment.received",
            "A payment was recorded (import, API, portal or bank line).",
            payment=_TEXT,
            amount=AMOUNT,
            currency=CURRENCY,
            received_on=DATE,
        ),
        _t(
            "payment.applied",
            "Part of a payment or credit note was applied to an invoice.",
            source=_TEXT,
            source_kind={"enum": ["payment", "credit_note"]},
            invoice=_TEXT,
            amount=AMOUNT,
            currency=CURRENCY,
            applied_on=DATE,
        ),
        _t(
            "promise.created",
            "A customer promised to pay.",
            promise_id=_ID,
            amount=AMOUNT,
            currency=CURRENCY,
            promised_date=DATE,
            invoices=REFS,
        ),
        _t(
            "promise.kept",
            "A promise was kept.",
            promise_id=_ID,
            amount=AMOUNT,
            currency=CURRENCY,
            promised_date=DATE,
        ),
        _t(
            "promise.broken",
            "A promise's end passed unpaid.",
            promise_id=_ID,
            amount=AMOUNT,
            currency=CURRENCY,
            promised_date=DATE,
        ),
        _t(
            "dispute.opened",
            "Part of an invoice is contested.",
            dispute_id=_ID,
            invoice=_TEXT,
            amount=AMOUNT,
            currency=CURRENCY,
            reason_code=_TEXT,
            opened_on=DATE,
        ),
        _t(
            "dispute.resolved",
            "A dispute was closed.",
            dispute_id=_ID,
            invoice=_TEXT,
            amount=AMOUNT,
            currency=CURRENCY,
            resolution=_TEXT,
            resolved_on=DATE,
        ),
        _t(
            "plan.created",
            "A payment plan was agreed.",
            plan_id=_ID,
            currency=CURRENCY,
            starts_on=DATE,
            installments={
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"sequence": _ID, "due_date": DATE, "amount": AMOUNT},
                },
            },
            invoices=REFS,
        ),
        _t(
            "plan.installment_missed",
            "An installment's due date passed unpaid.",
            plan_id=_ID,
            sequence=_ID,
            due_date=DATE,
            amount=AMOUNT,
            currency=CURRENCY,
        ),
        _t(
            "hold.placed",
            "Dunning of a customer was paused.",
            hold_id=_ID,
            kind=_TEXT,
            reason=_TEXT,
            starts_on=DATE,
            ends_on={"type": ["string", "null"], "format": "date"},
        ),
        _t("hold.released", "A hold ended.", hold_id=_ID, kind=_TEXT, ended_on=DATE),
        _t(
            "message.sent",
            "A message left through its channel.",
            message_id=_ID,
            channel=_TEXT,
            subject=_TEXT,
            sent_at=INSTANT,
        ),
        _t(
            "message.bounced",
            "A message bounced.",
            message_id=_ID,
            channel=_TEXT,
            hard={"type": "boolean"},
            reason=_TEXT,
        ),
        _t(
            "customer.opted_out",
            "A contact opted out of a channel.",
            contact_id=_ID,
            channel=_TEXT,
            source=_TEXT,
        ),
        _t("run.completed", "A dunning run finished.", run_id=_ID, as_of=DATE, actions=_ID, status=_TEXT),
        _t(
            "credit.limit_changed",
            "A customer's credit limit changed.",
            limit={"type": ["string", "null"]},
            previous_limit={"type": ["string", "null"]},
            currency=CURRENCY,
            reason=_TEXT,
        ),
        _t(
            "credit.application_decided",
            "A credit application was approved or declined.",
            application_id=_TEXT,
            status=_TEXT,
            approved_limit={"type": ["string", "null"]},
            currency=CURRENCY,
        ),
        _t(
            "bank_line.applied",
            "A bank statement line was applied to invoices.",
            line_id=_ID,
            amount=AMOUNT,
            currency=CURRENCY,
            booked_on=DATE,
            payment=_TEXT,
            invoices=REFS,
        ),
        _t(
            "customer.merged",
            "Two records of one customer were merged: the survivor kept every row of the other.",
            merge_id=_ID,
            merged_id=_ID,
            merged_ref=_TEXT,
            moved={
                "type": "object",
                "additionalProperties": {"type": "integer"},
                "description": "rows moved to the survivor, by kind",
            },
        ),
        _t(
            "customer.merge_undone",
            "A merge was undone: the merged customer is back with its own id and rows.",
            merge_id=_ID,
            survivor_id=_ID,
            survivor_ref=_TEXT,
        ),
        _t(
            "contact.status_changed",
            "An address of a contact changed status (bounced, returned, invalid, valid again).",
            contact_id=_ID,
            contact_ref=_TEXT,
            channel=_TEXT,
            status={
                "type": "string",
                "description": "unknown, valid, suspect, invalid, bouncing, bounced, returned",
            },
            previous_status=_TEXT,
            reason=_TEXT,
        ),
        _t(
            "contact.find_requested",
            "No address reaches the customer any more: a collector got a task to find a new contact.",
            task_id=_ID,
            due_on=DATE,
            reason=_TEXT,
        ),
        _t(
            "webhook.test",
            "A test event sent by an administrator to one endpoint (from the workspace).",
            endpoint_id=_ID,
            sent_by=_TEXT,
        ),
    )
}


def envelope_schema() -> dict[str, Any]:
    """The body every delivery carries (Standard Webhooks: ``type``, ``timestamp``, ``data``)."""
    return {
        "type": "object",
        "required": ["id", "type", "version", "timestamp", "entity", "data"],
        "properties": {
            "id": {"type": "string", "description": "the event id, also the webhook-id header"},
            "type": {"enum": sorted(EVENT_TYPES)},
            "version": {"type": "integer", "description": "the payload version of this type"},
            "timestamp": INSTANT,
            "entity": {"type": "string", "description": "the creditor entity's name"},
            "data": {"type": "object"},
        },
    }
