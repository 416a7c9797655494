"""The endpoints. Thin: pick the entity the caller may see, call a selector or the ingestion
layer, shape the JSON. (No ``from __future__ import annotations`` here: Ninja reads the hints.)"""

from datetime import date
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Query, Router

from relance.api import representations as rep
from relance.api import schemas as s
from relance.api import selectors, writes
from relance.api.idempotency import idempotent
from relance.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, paginate
from relance.core.clock import SystemClock, zone
from relance.ingest.records import UpsertResult
from relance.ledger.models import Entity

router = Router()

ERRORS: dict[int, Any] = {
    400: s.ErrorOut,
    401: s.ErrorOut,
    403: s.ErrorOut,
    404: s.ErrorOut,
    422: s.ErrorOut,
}
WRITE_ERRORS: dict[int, Any] = {**ERRORS, 409: s.ErrorOut, 413: s.ErrorOut}

EntityName = Query(None, description="entity name; may be left out when you can see only one")
Cursor = Query(None, description="next_cursor of the previous page")
Limit = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"items per page, at most {MAX_LIMIT}")
UpdatedSince = Query(None, description="only rows changed at or after this instant (ISO 8601)")
SearchText = Query(None, description="part of the name or the customer_ref")
StatusField = Query(None, description="the invoice's status field")
OpenToday = Query(None, description="true: still owes something today; false: settled or void")
DueAfter = Query(None, description="due on or after")
DueBefore = Query(None, description="due on or before")
IssuedAfter = Query(None, description="issued on or after")
IssuedBefore = Query(None, description="issued on or before")
DateFrom = Query(None, description="dated on or after")
DateTo = Query(None, description="dated on or before")
IDEMPOTENCY = (
    "Send an `Idempotency-Key` header to make retries safe: the same key and body replay the "
    "first response (with `Idempotent-Replayed: true`) for 24 hours."
)


def _entity(request: HttpRequest, name: str | None) -> Entity:
    return selectors.entity_for_user(user=request.auth, name=name)  # type: ignore[attr-defined]


def _today(entity: Entity) -> date:
    return SystemClock().today(zone(entity.timezone or None))


def _page(page: Any, render: Any) -> JsonResponse:
    """Rendered straight to JSON: validating 1,000 items against the response schema again would
    cost 40% of a page (tests check that pages match the schemas)."""
    return _json(200, {"items": [render(row) for row in page.items], "next_cursor": page.next_cursor})


def _json(status: int, data: dict[str, Any]) -> JsonResponse:
    return JsonResponse(data, status=status)


def _upserted(result: UpsertResult, item: dict[str, Any]) -> JsonResponse:
    outcome = "created" if result.created else "updated" if result.updated else "unchanged"
    return _json(201 if result.created else 200, {"result": outcome, "item": item})


def _counts(result: UpsertResult) -> JsonResponse:
    return _json(200, {"created": result.created, "updated": result.updated, "unchanged": result.unchanged})


def _items(payload: Any) -> list[dict[str, Any]]:
    return [item.model_dump(exclude_none=True) for item in payload.items]


# -- customers ----------------------------------------------------------------------------------


@router.get("/customers", response={200: s.CustomerPage, **ERRORS}, tags=["customers"])
def customer_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    segment: str | None = None,
    currency: str | None = None,
    q: str | None = SearchText,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "customer_ref", "name"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Customers of the entity, a page at a time."""
    customers = selectors.customer_list(
        entity=_entity(request, entity),
        segment=segment,
        currency=currency,
        search=q,
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at", "customer_ref": "external_ref", "name": "name"}
    page = paginate(customers, orderings=orderings, order=order, cursor=cursor, limit=limit)
    return _page(page, rep.customer_json)


@router.post(
    "/customers/bulk",
    response={200: s.UpsertCounts, **WRITE_ERRORS},
    tags=["customers"],
    description=IDEMPOTENCY,
)
@idempotent
def customer_bulk(
    request: HttpRequest, payload: s.CustomerBulkIn, entity: str | None = EntityName
) -> HttpResponse:
    """Create or update up to 10,000 customers: all of them, or none when any is invalid."""
    return _counts(writes.upsert_items("customers", _items(payload), entity=_entity(request, entity)))


@router.get("/customers/{path:ref}", response={200: s.CustomerOut, **ERRORS}, tags=["customers"])
def customer_get(request: HttpRequest, ref: str, entity: str | None = EntityName) -> Any:
    """One customer by its customer_ref."""
    scope = _entity(request, entity)
    customers = selectors.customer_list(entity=scope)
    return rep.customer_json(selectors.by_ref(customers, entity=scope, kind="customer", ref=ref))


@router.put(
    "/customers/{path:ref}",
    response={200: s.CustomerUpserted, 201: s.CustomerUpserted, **WRITE_ERRORS},
    tags=["customers"],
    description=IDEMPOTENCY,
)
@idempotent
def customer_put(
    request: HttpRequest, ref: str, payload: s.CustomerIn, entity: str | None = EntityName
) -> HttpResponse:
    """Create (201) or update (200) the customer with this ref. Fields left out keep their values."""
    scope = _entity(request, entity)
    result = writes.upsert_item("customers", ref, payload.model_dump(exclude_none=True), entity=scope)
    customer = selectors.by_ref(selectors.customer_list(entity=scope), entity=scope, kind="customer", ref=ref)
    return _upserted(result, rep.customer_json(customer))


# -- contacts -----------------------------------------------------------------------------------


@router.get("/contacts", response={200: s.ContactPage, **ERRORS}, tags=["contacts"])
def contact_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = None,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Contacts of the entity's customers."""
    contacts = selectors.contact_list(
        entity=_entity(request, entity), customer_ref=customer_ref, updated_since=updated_since
    )
    page = paginate(
        contacts, orderings={"id": "id", "updated_at": "updated_at"}, order=order, cursor=cursor, limit=limit
    )
    return _page(page, rep.contact_json)


@router.post(
    "/contacts/bulk",
    response={200: s.UpsertCounts, **WRITE_ERRORS},
    tags=["contacts"],
    description=IDEMPOTENCY,
)
@idempotent
def contact_bulk(
    request: HttpRequest, payload: s.ContactBulkIn, entity: str | None = EntityName
) -> HttpResponse:
    """Create or update up to 10,000 contacts (by contact_ref, else by customer and e-mail)."""
    return _counts(writes.upsert_items("contacts", _items(payload), entity=_entity(request, entity)))


@router.post(
    "/contacts/returned",
    response={200: s.ContactReturnedOut, **WRITE_ERRORS},
    tags=["contacts"],
    description=IDEMPOTENCY,
)
@idempotent
def contact_returned(
    request: HttpRequest, payload: s.ContactReturnedIn, entity: str | None = EntityName
) -> HttpResponse:
    """A letter came back: the contact's postal address is marked returned and no letter goes to
    it again; the next run writes on the customer's next valid channel (docs/data-quality.md)."""
    from relance.cases import contact_returns
    from relance.core.actors import Actor
    from relance.core.errors import NotFound, ValidationFailed

    scope = _entity(request, entity)
    contacts = selectors.contact_list(entity=scope)
    if payload.reference:  # the letter's reference first: the contact it really went to
        from relance.delivery.bounces import letter_mark_returned, returned_letter

        letter = returned_letter(entity_id=scope.pk, reference=payload.reference)
        if letter is None or letter.contact_id is None:
            raise NotFound(f"no letter with the reference {payload.reference!r}")
        contact = contacts.get(pk=letter.contact_id)
        changed = letter_mark_returned(
            message=letter,
            actor=Actor.of_user_or_system(request.user, "api"),
            on=payload.returned_on or _today(scope),
            reason=payload.reason,
        )
        contact.refresh_from_db()
        return _json(
            200,
            {
                "customer_ref": contact.customer.external_ref,
                "contact_ref": contact.external_ref,
                "address_status": contact.address_status,
                "address_reason": contact.address_reason,
                "changed": changed,
            },
        )
    if payload.contact_ref:
        contact = selectors.by_ref(contacts, entity=scope, kind="contact", ref=payload.contact_ref)
    elif payload.customer_ref:
        customer = selectors.by_ref(
            selectors.customer_list(entity=scope), entity=scope, kind="customer", ref=payload.customer_ref
        )
        contact = contact_returns.returned_contact(customer=customer)
    else:
        raise ValidationFailed("expected contact_ref or customer_ref")
    if not contact.postal_address.strip():
        raise NotFound(f"contact {contact.external_ref or contact.pk} has no postal address")
    changed = contact_returns.contact_mark_returned(
        contact=contact,
        actor=Actor.of_user_or_system(request.user, "api"),
        on=payload.returned_on or _today(scope),
        reason=payload.reason,
    )
    return _json(
        200,
        {
            "customer_ref": contact.customer.external_ref,
            "contact_ref": contact.external_ref,
            "address_status": contact.address_status,
            "address_reason": contact.address_reason,
            "changed": changed,
        },
    )


@router.get("/contacts/{path:ref}", response={200: s.ContactOut, **ERRORS}, tags=["contacts"])
def contact_get(request: HttpRequest, ref: str, entity: str | None = EntityName) -> Any:
    """One contact by its contact_ref."""
    scope = _entity(request, entity)
    return rep.contact_json(
        selectors.by_ref(selectors.contact_list(entity=scope), entity=scope, kind="contact", ref=ref)
    )


@router.put(
    "/contacts/{path:ref}",
    response={200: s.ContactUpserted, 201: s.ContactUpserted, **WRITE_ERRORS},
    tags=["contacts"],
    description=IDEMPOTENCY,
)
@idempotent
def contact_put(
    request: HttpRequest, ref: str, payload: s.ContactIn, entity: str | None = EntityName
) -> HttpResponse:
    """Create (201) or update (200) the contact with this contact_ref."""
    scope = _entity(request, entity)
    result = writes.upsert_item("contacts", ref, payload.model_dump(exclude_none=True), entity=scope)
    contact = selectors.by_ref(selectors.contact_list(entity=scope), entity=scope, kind="contact", ref=ref)
    return _upserted(result, rep.contact_json(contact))


# -- invoices -----------------------------------------------------------------------------------


@router.get("/invoices", response={200: s.InvoicePage, **ERRORS}, tags=["invoices"])
def invoice_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = None,
    status: Literal["open", "void"] | None = StatusField,
    currency: str | None = None,
    open: bool | None = OpenToday,
    due_after: date | None = DueAfter,
    due_before: date | None = DueBefore,
    issued_after: date | None = IssuedAfter,
    issued_before: date | None = IssuedBefore,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "invoice_ref", "due_date", "issue_date"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Invoices with their allocated and open amounts as of today."""
    scope = _entity(request, entity)
    invoices = selectors.invoice_list(
        entity=scope,
        today=_today(scope),
        customer_ref=customer_ref,
        status=status,
        currency=currency,
        is_open=open,
        due=selectors.DateRange(due_after, due_before),
        issued=selectors.DateRange(issued_after, issued_before),
        updated_since=updated_since,
    )
    orderings = {
        "id": "id",
        "updated_at": "updated_at",
        "invoice_ref": "external_ref",
        "due_date": "due_date",
        "issue_date": "issue_date",
    }
    return _page(
        paginate(invoices, orderings=orderings, order=order, cursor=cursor, limit=limit), rep.invoice_json
    )


@router.post(
    "/invoices/bulk",
    response={200: s.UpsertCounts, **WRITE_ERRORS},
    tags=["invoices"],
    description=IDEMPOTENCY,
)
@idempotent
def invoice_bulk(
    request: HttpRequest, payload: s.InvoiceBulkIn, entity: str | None = EntityName
) -> HttpResponse:
    """Create or update up to 10,000 invoices: all of them, or none when any is invalid."""
    return _counts(writes.upsert_items("invoices", _items(payload), entity=_entity(request, entity)))


def _invoice(scope: Entity, ref: str) -> dict[str, Any]:
    invoices = selectors.invoice_list(entity=scope, today=_today(scope))
    return rep.invoice_json(selectors.by_ref(invoices, entity=scope, kind="invoice", ref=ref))


@router.get("/invoices/{path:ref}", response={200: s.InvoiceOut, **ERRORS}, tags=["invoices"])
def invoice_get(request: HttpRequest, ref: str, entity: str | None = EntityName) -> Any:
    """One invoice by its invoice_ref, with allocated and open amounts as of today."""
    return _invoice(_entity(request, entity), ref)


@router.put(
    "/invoices/{path:ref}",
    response={200: s.InvoiceUpserted, 201: s.InvoiceUpserted, **WRITE_ERRORS},
    tags=["invoices"],
    description=IDEMPOTENCY,
)
@idempotent
def invoice_put(
    request: HttpRequest, ref: str, payload: s.InvoiceIn, entity: str | None = EntityName
) -> HttpResponse:
    """Create (201) or update (200) the invoice with this ref."""
    scope = _entity(request, entity)
    result = writes.upsert_item("invoices", ref, payload.model_dump(exclude_none=True), entity=scope)
    return _upserted(result, _invoice(scope, ref))


# -- credit notes -------------------------------------------------------------------------------


@router.get("/credit-notes", response={200: s.CreditNotePage, **ERRORS}, tags=["credit notes"])
def credit_note_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = None,
    date_from: date | None = DateFrom,
    date_to: date | None = DateTo,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "credit_note_ref", "date"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Credit notes with their allocations."""
    credit_notes = selectors.credit_note_list(
        entity=_entity(request, entity),
        customer_ref=customer_ref,
        dated=selectors.DateRange(date_from, date_to),
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at", "credit_note_ref": "external_ref", "date": "date"}
    page = paginate(credit_notes, orderings=orderings, order=order, cursor=cursor, limit=limit)
    return _page(page, rep.credit_note_json)


@router.post(
    "/credit-notes/bulk",
    response={200: s.UpsertCounts, **WRITE_ERRORS},
    tags=["credit notes"],
    description=IDEMPOTENCY,
)
@idempotent
def credit_note_bulk(
    request: HttpRequest, payload: s.CreditNoteBulkIn, entity: str | None = EntityName
) -> HttpResponse:
    """Create or update up to 10,000 credit notes: all of them, or none when any is invalid."""
    return _counts(writes.upsert_items("credit_notes", _items(payload), entity=_entity(request, entity)))


def _credit_note(scope: Entity, ref: str) -> dict[str, Any]:
    credit_notes = selectors.credit_note_list(entity=scope)
    return rep.credit_note_json(selectors.by_ref(credit_notes, entity=scope, kind="credit note", ref=ref))


@router.get("/credit-notes/{path:ref}", response={200: s.CreditNoteOut, **ERRORS}, tags=["credit notes"])
def credit_note_get(request: HttpRequest, ref: str, entity: str | None = EntityName) -> Any:
    """One credit note by its credit_note_ref."""
    return _credit_note(_entity(request, entity), ref)


@router.put(
    "/credit-notes/{path:ref}",
    response={200: s.CreditNoteUpserted, 201: s.CreditNoteUpserted, **WRITE_ERRORS},
    tags=["credit notes"],
    description=IDEMPOTENCY,
)
@idempotent
def credit_note_put(
    request: HttpRequest, ref: str, payload: s.CreditNoteIn, entity: str | None = EntityName
) -> HttpResponse:
    """Create (201) or update (200) the credit note; with invoice_ref it is allocated to that invoice."""
    scope = _entity(request, entity)
    result = writes.upsert_item("credit_notes", ref, payload.model_dump(exclude_none=True), entity=scope)
    return _upserted(result, _credit_note(scope, ref))


# -- payments -----------------------------------------------------------------------------------


@router.get("/payments", response={200: s.PaymentPage, **ERRORS}, tags=["payments"])
def payment_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = None,
    date_from: date | None = DateFrom,
    date_to: date | None = DateTo,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "payment_ref", "date"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Payments with their allocations."""
    payments = selectors.payment_list(
        entity=_entity(request, entity),
        customer_ref=customer_ref,
        dated=selectors.DateRange(date_from, date_to),
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at", "payment_ref": "external_ref", "date": "date"}
    return _page(
        paginate(payments, orderings=orderings, order=order, cursor=cursor, limit=limit), rep.payment_json
    )


@router.post(
    "/payments/bulk",
    response={200: s.UpsertCounts, **WRITE_ERRORS},
    tags=["payments"],
    description=IDEMPOTENCY,
)
@idempotent
def payment_bulk(
    request: HttpRequest, payload: s.PaymentBulkIn, entity: str | None = EntityName
) -> HttpResponse:
    """Create or update up to 10,000 payments with their allocations: all, or none if any is invalid."""
    return _counts(writes.upsert_items("payments", _items(payload), entity=_entity(request, entity)))


def _payment(scope: Entity, ref: str) -> dict[str, Any]:
    payments = selectors.payment_list(entity=scope)
    return rep.payment_json(selectors.by_ref(payments, entity=scope, kind="payment", ref=ref))


@router.get("/payments/{path:ref}", response={200: s.PaymentOut, **ERRORS}, tags=["payments"])
def payment_get(request: HttpRequest, ref: str, entity: str | None = EntityName) -> Any:
    """One payment by its payment_ref, with its allocations."""
    return _payment(_entity(request, entity), ref)


@router.put(
    "/payments/{path:ref}",
    response={200: s.PaymentUpserted, 201: s.PaymentUpserted, **WRITE_ERRORS},
    tags=["payments"],
    description=IDEMPOTENCY,
)
@idempotent
def payment_put(
    request: HttpRequest, ref: str, payload: s.PaymentIn, entity: str | None = EntityName
) -> HttpResponse:
    """Create (201) or update (200) the payment; allocations settle invoices on the payment date."""
    scope = _entity(request, entity)
    result = writes.upsert_item("payments", ref, payload.model_dump(exclude_none=True), entity=scope)
    return _upserted(result, _payment(scope, ref))


# -- orders -------------------------------------------------------------------------------------


@router.get("/orders", response={200: s.OrderPage, **ERRORS}, tags=["orders"])
def order_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    customer_ref: str | None = None,
    status: str | None = Query(None, description="open, delivered, invoiced or cancelled"),
    date_from: date | None = DateFrom,
    date_to: date | None = DateTo,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "order_ref", "date"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Orders the ERP sent: open and delivered ones count in the customer's credit exposure."""
    orders = selectors.order_list(
        entity=_entity(request, entity),
        customer_ref=customer_ref,
        status=status,
        dated=selectors.DateRange(date_from, date_to),
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at", "order_ref": "external_ref", "date": "order_date"}
    return _page(
        paginate(orders, orderings=orderings, order=order, cursor=cursor, limit=limit), rep.order_json
    )


@router.post(
    "/orders/bulk",
    response={200: s.UpsertCounts, **WRITE_ERRORS},
    tags=["orders"],
    description=IDEMPOTENCY,
)
@idempotent
def order_bulk(request: HttpRequest, payload: s.OrderBulkIn, entity: str | None = EntityName) -> HttpResponse:
    """Create or update up to 10,000 orders: all of them, or none when any is invalid."""
    return _counts(writes.upsert_items("orders", _items(payload), entity=_entity(request, entity)))


def _order(scope: Entity, ref: str) -> dict[str, Any]:
    orders = selectors.order_list(entity=scope)
    return rep.order_json(selectors.by_ref(orders, entity=scope, kind="order", ref=ref))


@router.get("/orders/{path:ref}", response={200: s.OrderOut, **ERRORS}, tags=["orders"])
def order_get(request: HttpRequest, ref: str, entity: str | None = EntityName) -> Any:
    """One order by its order_ref."""
    return _order(_entity(request, entity), ref)


@router.put(
    "/orders/{path:ref}",
    response={200: s.OrderUpserted, 201: s.OrderUpserted, **WRITE_ERRORS},
    tags=["orders"],
    description=IDEMPOTENCY,
)
@idempotent
def order_put(
    request: HttpRequest, ref: str, payload: s.OrderIn, entity: str | None = EntityName
) -> HttpResponse:
    """Create (201) or update (200) the order."""
    scope = _entity(request, entity)
    result = writes.upsert_item("orders", ref, payload.model_dump(exclude_none=True), entity=scope)
    return _upserted(result, _order(scope, ref))


# -- allocations --------------------------------------------------------------------------------


@router.get("/allocations", response={200: s.AllocationPage, **ERRORS}, tags=["allocations"])
def allocation_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    invoice_ref: str | None = None,
    payment_ref: str | None = None,
    credit_note_ref: str | None = None,
    date_from: date | None = DateFrom,
    date_to: date | None = DateTo,
    updated_since: s.Instant | None = UpdatedSince,
    order: Literal["id", "updated_at", "date"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> Any:
    """Allocations of payments and credit notes to invoices (read only: write payments instead)."""
    allocations = selectors.allocation_list(
        entity=_entity(request, entity),
        invoice_ref=invoice_ref,
        payment_ref=payment_ref,
        credit_note_ref=credit_note_ref,
        dated=selectors.DateRange(date_from, date_to),
        updated_since=updated_since,
    )
    orderings = {"id": "id", "updated_at": "updated_at", "date": "date"}
    page = paginate(allocations, orderings=orderings, order=order, cursor=cursor, limit=limit)
    return _page(page, rep.allocation_json)
