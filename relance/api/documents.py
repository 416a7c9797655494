"""``/invoices/{ref}/document``: put and get the ERP's PDF of an invoice.

The body is the PDF itself (not JSON, not multipart). It is read from the request stream up to
the size limit, so a PDF larger than Django's in-memory body limit still fits and a larger one
is refused (413) without being read whole. Sending the same bytes again is harmless (200
``unchanged``), so retries need no ``Idempotency-Key``.
(No ``from __future__ import annotations`` here: Ninja reads the hints.)
"""

from datetime import datetime
from typing import Any

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Query, Router, Schema

from relance.api import schemas as s
from relance.api import selectors
from relance.api.errors import error_response
from relance.api.params import ERRORS, EntityName
from relance.core.errors import NotFound, ValidationFailed
from relance.core.filenames import download_filename
from relance.ledger import documents
from relance.ledger import selectors as ledger_selectors
from relance.ledger import services as ledger_services
from relance.ledger.models import Entity, Invoice, InvoiceDocument

router = Router(tags=["invoices"])

NO_DOCUMENT = "invoice {ref!r} has no document yet: PUT the PDF first"
NOT_PDF_STATUS = {"document_not_pdf": 415, "document_empty": 415, "document_too_large": 413}
ERROR_CODES = {413: "too_large", 415: "unsupported_media_type"}
BINARY = {"type": "string", "format": "binary"}
DOCUMENT_ERRORS: dict[int, Any] = {**ERRORS, 413: s.ErrorOut, 415: s.ErrorOut}

FileName = Query(None, description="the file's name as the ERP knows it (kept for display; default REF.pdf)")


class InvoiceDocumentOut(Schema):
    invoice_ref: str
    sha256: str = Field(description="SHA-256 of the PDF, hex")
    size: int = Field(description="bytes")
    content_type: str
    original_name: str
    created_at: datetime
    versions: int = Field(description="versions stored; the newest is the one served")


class InvoiceDocumentPut(Schema):
    result: str = Field(description="created (first PDF), updated (a new version) or unchanged (same bytes)")
    item: InvoiceDocumentOut


def _invoice(request: HttpRequest, ref: str, entity: str | None) -> tuple[Entity, Invoice]:
    scope = selectors.entity_for_user(user=request.auth, name=entity)  # type: ignore[attr-defined]
    invoices = Invoice.objects.filter(entity=scope)
    return scope, selectors.by_ref(invoices, entity=scope, kind="invoice", ref=ref)


def _document_json(document: InvoiceDocument, invoice: Invoice) -> dict[str, Any]:
    return {
        "invoice_ref": invoice.external_ref,
        "sha256": document.sha256,
        "size": document.size,
        "content_type": document.content_type,
        "original_name": document.original_name,
        "created_at": document.created_at.isoformat(),
        "versions": InvoiceDocument.objects.filter(invoice_id=invoice.pk).count(),
    }


def _body(request: HttpRequest, *, name: str, limit: int) -> bytes:
    """The raw body, at most ``limit`` + 1 bytes of it (enough to know it is too large)."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limit:
        raise ValidationFailed(
            ledger_services.DOCUMENT_TOO_LARGE.format(name=name, limit=limit, size=int(declared)),
            code="document_too_large",
        )
    chunks, read = [], 0
    while read <= limit:
        chunk = request.read(min(64 * 1024, limit + 1 - read))
        if not chunk:
            break
        chunks.append(chunk)
        read += len(chunk)
    return b"".join(chunks)


@router.put(
    "/invoices/{path:ref}/document",
    response={200: InvoiceDocumentPut, 201: InvoiceDocumentPut, **DOCUMENT_ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the PDF itself (its first bytes must be %PDF-)",
            "content": {"application/pdf": {"schema": BINARY}},
        }
    },
)
def invoice_document_put(
    request: HttpRequest, ref: str, entity: str | None = EntityName, filename: str | None = FileName
) -> HttpResponse:
    """Store the invoice's PDF: 201 for its first PDF, 200 `updated` for a new version (the newest
    is served; earlier ones are kept), 200 `unchanged` for the same bytes again. A body that is not
    a PDF is refused with 415, one over the size limit with 413; nothing is stored then."""
    _scope, invoice = _invoice(request, ref, entity)
    name = filename or f"{invoice.external_ref}.pdf"
    had_document = ledger_selectors.invoice_document_current(invoice=invoice) is not None
    try:
        content = _body(request, name=name, limit=documents.document_max_bytes())
        document, attached = ledger_services.invoice_document_attach(
            invoice=invoice, content=content, name=name
        )
    except ValidationFailed as refused:
        status = NOT_PDF_STATUS.get(refused.code, 422)
        return error_response(status, ERROR_CODES.get(status, refused.code), refused.message)
    result = "unchanged" if not attached else "updated" if had_document else "created"
    return JsonResponse(
        {"result": result, "item": _document_json(document, invoice)},
        status=201 if result == "created" else 200,
    )


@router.get(
    "/invoices/{path:ref}/document",
    response={200: None, **DOCUMENT_ERRORS},
    # The integer key, as Ninja's own: a "200" string key would sit beside it and render as a
    # duplicated mapping key in the JSON/YAML schema.
    openapi_extra={
        "responses": {
            200: {  # the int key, as Ninja's own: a "200" string would be a second, duplicate key
                "description": "the invoice's current PDF, as a download; `ETag` is its SHA-256",
                "content": {"application/pdf": {"schema": BINARY}},
            }
        }
    },
)
def invoice_document_get(
    request: HttpRequest, ref: str, entity: str | None = EntityName
) -> HttpResponse | FileResponse:
    """The invoice's current PDF (404 when the ERP has sent none)."""
    _scope, invoice = _invoice(request, ref, entity)
    document = ledger_selectors.invoice_document_current(invoice=invoice)
    if document is None:
        raise NotFound(NO_DOCUMENT.format(ref=invoice.external_ref), code="not_found")
    try:
        content = document.file.open("rb")
    except FileNotFoundError:
        raise NotFound(NO_DOCUMENT.format(ref=invoice.external_ref), code="not_found") from None
    response = FileResponse(
        content,
        as_attachment=True,
        filename=download_filename(invoice.external_ref, "pdf", fallback="invoice"),
        content_type="application/pdf",
    )
    response["ETag"] = f'"{document.sha256}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
