"""``/bank/statements`` and ``/bank/lines``: bank statements in, bank lines out (issue 17).

``POST /bank/statements`` takes the statement file itself as the body (camt.053/054 XML, MT940,
or CSV with the canonical columns), with the same rules as ``relance bank import``: the format is
sniffed unless ``format`` says it, an entry already imported is not added again (so a retry is
harmless and needs no ``Idempotency-Key``), and any error (422, each with the field and the file's
line as ``index``) or an account not linked to the entity writes nothing.
(No ``from __future__ import annotations`` here: Ninja reads the hints.)
"""

import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Query, Router, Schema

from relance.api import schemas as s
from relance.api import selectors
from relance.api.idempotency import idempotent
from relance.api.pagination import paginate
from relance.api.params import ERRORS, WRITE_ERRORS, Cursor, EntityName, Limit
from relance.cashapp import decisions
from relance.cashapp import selectors as bank_selectors
from relance.cashapp import services as bank_services
from relance.core.actors import Actor
from relance.core.errors import ValidationFailed
from relance.core.filenames import download_filename
from relance.ledger.models import Entity

router = Router(tags=["bank"])

#: The largest statement file the API takes (a camt.053 of 100,000 entries is about 130 MB).
STATEMENT_MAX_BYTES = 256 * 1024 * 1024
TOO_LARGE = (
    "the statement is {size:,} bytes, over the limit of {limit:,}: split it, or use `relance bank import`"
)
EMPTY = "the request has no body: send the statement file itself"
UPLOAD_ERRORS = WRITE_ERRORS
DECISION_ERRORS: dict[int, Any] = {**ERRORS, 409: s.ErrorOut}
IDEMPOTENCY = (
    "Send an `Idempotency-Key` header to make retries safe: the same key and body replay the "
    "first response (with `Idempotent-Replayed: true`) for 24 hours. Without one, a second "
    "accept of an applied line is a 409."
)
BINARY = {"type": "string", "format": "binary"}

Format = Query(None, description="camt053, camt054, mt940 or csv (default: sniffed from the content)")
FileName = Query(None, description="the file's name, kept with the statement and used in error messages")
Status = Query(None, description="only the lines with this status")
Since = Query(None, description="only applications applied or unapplied on or after this day")


class StatementOutcomeOut(Schema):
    statement_id: str
    account: str
    currency: str
    created: bool = Field(description="the statement was not imported before")
    lines_added: int
    lines_known: int = Field(description="lines already imported (by account and bank_ref): not added")
    skipped: int = Field(description="entries not booked (pending, information only): left out")


class StatementImportOut(Schema):
    source: str
    format: str
    sha256: str
    statements: int
    statements_created: int
    created: int = Field(description="lines added")
    unchanged: int = Field(description="lines already imported")
    lines_added: int
    lines_known: int
    details: list[StatementOutcomeOut]


class BankLineOut(Schema):
    id: int
    bank_ref: str = Field(description="AcctSvcrRef, else NtryRef, else a stable hash of the entry")
    amount: str = Field(description="decimal string, positive for money in")
    currency: str
    date: str = Field(description="booking date")
    value_date: str | None
    direction: Literal["credit", "debit"]
    status: Literal["unmatched", "suggested", "applied", "debit"]
    allocations: list[dict[str, Any]] = Field(description="[{invoice_ref, amount}] once applied")
    suggestions: list[dict[str, Any]] = Field(description="ranked [{allocations, confidence, reasons}]")
    confidence: float | None
    reasons: list[Any]
    account: str
    statement_id: str
    counterparty_name: str
    counterparty_iban: str
    counterparty_bic: str
    remittance_unstructured: str
    remittance_structured: str
    end_to_end_id: str
    bank_transaction_code: str
    is_reversal: bool
    charges: str | None


class BankLinePage(Schema):
    items: list[BankLineOut]
    next_cursor: str | None


def _entity(request: HttpRequest, name: str | None) -> Entity:
    return selectors.entity_for_user(user=request.auth, name=name)  # type: ignore[attr-defined]


def _file_name(filename: str | None) -> str:
    """The client's file name made safe to write in a temporary folder (and to show in errors)."""
    if not filename:
        return "statement"
    path = Path(filename.replace("\\", "/")).name
    extension = "".join(char for char in Path(path).suffix.lstrip(".") if char.isalnum())[:8]
    return download_filename(Path(path).stem, extension or "txt", fallback="statement")


def _body_to(request: HttpRequest, target: Any) -> int:
    """Copy the body to ``target`` in chunks, refusing it past the limit; the bytes copied."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > STATEMENT_MAX_BYTES:
        raise ValidationFailed(
            TOO_LARGE.format(size=int(declared), limit=STATEMENT_MAX_BYTES), code="statement_too_large"
        )
    read = 0
    while True:
        chunk = request.read(64 * 1024)
        if not chunk:
            return read
        read += len(chunk)
        if read > STATEMENT_MAX_BYTES:
            raise ValidationFailed(
                TOO_LARGE.format(size=read, limit=STATEMENT_MAX_BYTES), code="statement_too_large"
            )
        target.write(chunk)


@router.post(
    "/bank/statements",
    response={200: StatementImportOut, **UPLOAD_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the statement file itself: camt.053/054 XML, MT940, or CSV with the canonical columns",
            "content": {
                "application/xml": {"schema": BINARY},
                "text/plain": {"schema": BINARY},
                "text/csv": {"schema": BINARY},
                "application/octet-stream": {"schema": BINARY},
            },
        }
    },
)
def bank_statement_upload(
    request: HttpRequest,
    entity: str | None = EntityName,
    format: Literal["camt053", "camt054", "mt940", "csv"] | None = Format,
    filename: str | None = FileName,
) -> HttpResponse:
    """Import a bank statement for the entity: only its new entries are added; all or nothing."""
    scope = _entity(request, entity)
    name = _file_name(filename)
    with tempfile.TemporaryDirectory(prefix="relance-bank-") as folder:
        path = Path(folder) / name
        try:
            with path.open("wb") as target:
                size = _body_to(request, target)
        except ValidationFailed as refused:
            from relance.api.errors import error_response

            return error_response(413, "too_large", refused.message)
        if not size:
            raise ValidationFailed(EMPTY, code="statement_empty")
        outcome = bank_services.bank_statement_import(
            entity=scope, path=path, format=format, source=name, audit=False
        )
    return JsonResponse(outcome.as_dict(), status=200)


@router.get("/bank/lines", response={200: BankLinePage, **ERRORS})
def bank_line_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    status: Literal["unmatched", "suggested", "applied", "debit"] | None = Status,
    order: Literal["id", "booking_date"] = "id",
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> HttpResponse:
    """The entity's bank lines, a page at a time, with what matching stored for each."""
    lines = bank_selectors.bank_line_list(entity=_entity(request, entity), status=status)
    page = paginate(
        lines, orderings={"id": "id", "booking_date": "booking_date"}, order=order, cursor=cursor, limit=limit
    )
    return JsonResponse(
        {"items": [bank_selectors.line_as_dict(line) for line in page.items], "next_cursor": page.next_cursor}
    )


@router.get("/bank/lines/{int:line_id}", response={200: BankLineOut, **ERRORS})
def bank_line_get(request: HttpRequest, line_id: int, entity: str | None = EntityName) -> Any:
    """One bank line by its id (404 for a line of an entity you do not see)."""
    line = bank_selectors.bank_line_get(entity=_entity(request, entity), line_id=line_id)
    return bank_selectors.line_as_dict(line)


# --- a person's decisions (relance.cashapp.decisions) -------------------------------------------


class AcceptIn(Schema):
    suggestion: int = Field(0, ge=0, description="the index of the suggestion to apply, 0 for the best")


class SplitShareIn(Schema):
    invoice_ref: str = Field(min_length=1)
    amount: Decimal = Field(gt=0, description="decimal string")


class SplitIn(Schema):
    allocations: list[SplitShareIn] = Field(min_length=1, max_length=1000)
    note: str = Field("", max_length=500, description="kept with the application's reasons")


class AssignIn(Schema):
    customer_ref: str = Field(min_length=1, description="the customer who paid")


class UnapplyIn(Schema):
    reason: str = Field(min_length=1, max_length=1000, description="why, kept in the audit trail")


def _actor(request: HttpRequest) -> Actor:
    token = getattr(request, "api_token", None)
    return Actor.api(token) if token is not None else Actor.user(request.auth)  # type: ignore[attr-defined]


def _decided(request: HttpRequest, line_id: int, entity: str | None, decide: Any) -> HttpResponse:
    """Run a decision on the entity's line (404 for a line it does not see); the line after it."""
    scope = _entity(request, entity)
    line = bank_selectors.bank_line_get(entity=scope, line_id=line_id)
    decide(scope, line, _actor(request))
    return JsonResponse(
        bank_selectors.line_as_dict(bank_selectors.bank_line_get(entity=scope, line_id=line_id))
    )


@router.post(
    "/bank/lines/{int:line_id}/accept",
    response={200: BankLineOut, **DECISION_ERRORS},
    description=IDEMPOTENCY,
)
@idempotent
def bank_line_accept(
    request: HttpRequest, line_id: int, payload: AcceptIn, entity: str | None = EntityName
) -> HttpResponse:
    """Apply a suggested line as one of its suggestions (0: the best)."""
    return _decided(
        request,
        line_id,
        entity,
        lambda scope, line, actor: decisions.line_accept(
            entity=scope, line=line, suggestion_index=payload.suggestion, actor=actor
        ),
    )


@router.post(
    "/bank/lines/{int:line_id}/split", response={200: BankLineOut, **DECISION_ERRORS}, description=IDEMPOTENCY
)
@idempotent
def bank_line_split(
    request: HttpRequest, line_id: int, payload: SplitIn, entity: str | None = EntityName
) -> HttpResponse:
    """Apply the line across invoices by ref and amount; the rest is unapplied cash of the customer."""
    shares = [(share.invoice_ref, share.amount) for share in payload.allocations]
    return _decided(
        request,
        line_id,
        entity,
        lambda scope, line, actor: decisions.line_split(
            entity=scope, line=line, allocations=shares, actor=actor, note=payload.note
        ),
    )


@router.post(
    "/bank/lines/{int:line_id}/assign",
    response={200: BankLineOut, **DECISION_ERRORS},
    description=IDEMPOTENCY,
)
@idempotent
def bank_line_assign(
    request: HttpRequest, line_id: int, payload: AssignIn, entity: str | None = EntityName
) -> HttpResponse:
    """Say who paid: applied when sure, else suggested within the customer, else their unapplied cash."""
    return _decided(
        request,
        line_id,
        entity,
        lambda scope, line, actor: decisions.line_assign(
            entity=scope, line=line, customer=payload.customer_ref, actor=actor
        ),
    )


@router.post(
    "/bank/lines/{int:line_id}/unapply",
    response={200: BankLineOut, **DECISION_ERRORS},
    description=IDEMPOTENCY,
)
@idempotent
def bank_line_unapply(
    request: HttpRequest, line_id: int, payload: UnapplyIn, entity: str | None = EntityName
) -> HttpResponse:
    """Reverse the line's application (its payment leaves the ledger); the line is matched again."""
    return _decided(
        request,
        line_id,
        entity,
        lambda scope, line, actor: decisions.line_unapply(
            entity=scope, line=line, reason=payload.reason, actor=actor
        ),
    )


# --- applied cash, for the ERP ------------------------------------------------------------------


class ApplicationOut(Schema):
    application_id: int
    state: Literal["in_force", "reversed"] = Field(description="reversed: post the reversal")
    bank_ref: str
    booking_date: str
    payer: str
    payer_account: str
    customer_ref: str
    amount: str = Field(description="the line's whole amount: the payment")
    currency: str
    allocations: list[dict[str, Any]] = Field(description="[{invoice_ref, amount}]")
    unapplied: str = Field(description="what the allocations leave: unapplied cash of the customer")
    payment_ref: str
    how: str = Field(description="match, accept, split or assign")
    applied_at: str
    applied_by: str
    unapplied_at: str | None
    unapplied_by: str
    unapplied_reason: str
    write_offs: list[dict[str, Any]] = Field(
        description="the credit notes a short payment wrote off: [{credit_note_ref, invoice_ref, amount, reason}]"
    )


class ApplicationPage(Schema):
    items: list[ApplicationOut]
    next_cursor: str | None


@router.get("/bank/applications", response={200: ApplicationPage, **ERRORS})
def bank_application_list(
    request: HttpRequest,
    entity: str | None = EntityName,
    since: date | None = Since,
    cursor: str | None = Cursor,
    limit: int = Limit,
) -> HttpResponse:
    """Applied cash for the ERP to post: each application of a bank line, in force or reversed."""
    applications = bank_selectors.application_list(entity=_entity(request, entity), since=since)
    page = paginate(applications, orderings={"id": "id"}, order="id", cursor=cursor, limit=limit)
    return JsonResponse(
        {
            "items": [bank_selectors.application_as_dict(a) for a in page.items],
            "next_cursor": page.next_cursor,
        }
    )


REMITTANCE_MAX_BYTES = 1024 * 1024
REMITTANCE_TOO_LARGE = "the remittance advice is over {limit:,} bytes: send the list of invoices only"
REMITTANCE_EMPTY = "the request has no body: send the remittance advice itself (e-mail text or CSV)"
Check = Query(False, description="read the advice and return the split without writing it")


class RemittanceAllocationOut(Schema):
    invoice_ref: str
    amount: str


class RemittanceOut(Schema):
    bank_ref: str
    source: str
    format: Literal["csv", "text"]
    allocations: list[RemittanceAllocationOut]
    allocated: str
    unapplied: str = Field(description="what of the line the advice does not cover: unapplied credit")
    currency: str
    split: bool = Field(description="the line was split (false with check=true)")


@router.post(
    "/bank/lines/{int:line_id}/remittance",
    response={200: RemittanceOut, **DECISION_ERRORS, 413: s.ErrorOut},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the remittance advice itself: an e-mail's text, or a CSV of invoice refs and amounts",
            "content": {"text/plain": {"schema": BINARY}, "text/csv": {"schema": BINARY}},
        }
    },
)
def bank_line_remittance(
    request: HttpRequest,
    line_id: int,
    entity: str | None = EntityName,
    filename: str | None = FileName,
    check: bool = Check,
) -> HttpResponse:
    """Split a bank line by the customer's remittance advice (422 naming the advice's line and
    field of every problem; nothing is written then)."""
    from relance.cashapp.remittance_split import line_remittance_split, remittance_read

    scope = _entity(request, entity)
    line = bank_selectors.bank_line_get(entity=scope, line_id=line_id)
    body = request.body
    if len(body) > REMITTANCE_MAX_BYTES:
        from relance.api.errors import error_response

        return error_response(413, "too_large", REMITTANCE_TOO_LARGE.format(limit=REMITTANCE_MAX_BYTES))
    if not body.strip():
        raise ValidationFailed(REMITTANCE_EMPTY, code="remittance_empty")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = body.decode("cp1252", errors="replace")
    source = filename or "remittance"
    if check:
        read = remittance_read(entity=scope, line=line, text=text, source=source)
    else:
        read, _split = line_remittance_split(
            entity=scope,
            line=line,
            text=text,
            source=source,
            actor=_actor(request),
        )
    return JsonResponse({**read.as_dict(), "split": not check}, status=200)
