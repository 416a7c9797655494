"""PUT and GET /api/v1/invoices/{ref}/document: the PDF itself as the body, entity-scoped,
refusals (415, 413) in the API's error shape, the same bytes twice unchanged."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from tests.api.conftest import ApiClient, error_of

PDF = b"%PDF-1.4\n% invoice INV-1\n%%EOF\n"
PDF_2 = b"%PDF-1.7\n% corrected\n%%EOF\n"

pytestmark = pytest.mark.usefixtures("document_root")


@pytest.fixture
def invoice(entity, make_customer, make_invoice):
    return make_invoice(make_customer("C1"), "INV-1", "100.00", date(2026, 1, 5), date(2026, 2, 4))


def _put(api: ApiClient, ref: str, body: bytes, query: str = "", content_type: str = "application/pdf"):
    return api.client.put(
        f"/api/v1/invoices/{ref}/document{query}",
        body,
        content_type=content_type,
        headers={"Authorization": f"Bearer {api.secret}"},
    )


def _stored(root) -> list:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_put_then_get_the_pdf(api, invoice):
    created = _put(api, "INV-1", PDF, "?filename=FAC%202026-001.pdf")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["result"] == "created"
    assert body["item"] == {
        **body["item"],
        "invoice_ref": "INV-1",
        "sha256": hashlib.sha256(PDF).hexdigest(),
        "size": len(PDF),
        "content_type": "application/pdf",
        "original_name": "FAC 2026-001.pdf",
        "versions": 1,
    }
    got = api.get("/invoices/INV-1/document")
    assert got.status_code == 200
    assert got["Content-Type"] == "application/pdf"
    assert got["Content-Disposition"] == 'attachment; filename="INV-1.pdf"'
    assert got["ETag"] == f'"{hashlib.sha256(PDF).hexdigest()}"'
    assert got["X-Content-Type-Options"] == "nosniff"
    assert b"".join(got.streaming_content) == PDF


def test_the_same_pdf_again_is_unchanged_and_a_new_one_updates(api, invoice, document_root):
    assert _put(api, "INV-1", PDF).status_code == 201
    again = _put(api, "INV-1", PDF)
    assert again.status_code == 200 and again.json()["result"] == "unchanged"
    assert len(_stored(document_root)) == 1
    newer = _put(api, "INV-1", PDF_2)
    assert newer.status_code == 200 and newer.json()["result"] == "updated"
    assert newer.json()["item"]["versions"] == 2
    assert b"".join(api.get("/invoices/INV-1/document").streaming_content) == PDF_2


@pytest.mark.parametrize(
    ("content", "found"),
    [
        (b"<html><body>invoice</body></html>", "found HTML"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "found SVG"),
        (b"MZ\x90\x00", "found a Windows executable"),
    ],
)
def test_anything_but_a_pdf_is_415(api, invoice, document_root, content, found):
    from relance.ledger.models import InvoiceDocument

    response = _put(api, "INV-1", content)
    assert response.status_code == 415
    error = error_of(response)
    assert error["code"] == "unsupported_media_type"
    assert error["message"] == f"INV-1.pdf: expected a PDF (a file starting with %PDF-), {found}"
    assert not InvoiceDocument.objects.exists() and _stored(document_root) == []


def test_a_pdf_with_a_wrong_content_type_header_is_still_judged_by_its_bytes(api, invoice):
    assert _put(api, "INV-1", PDF, content_type="application/octet-stream").status_code == 201
    assert _put(api, "INV-1", b"<svg/>", content_type="application/pdf").status_code == 415


def test_an_empty_body_is_415(api, invoice):
    response = _put(api, "INV-1", b"")
    assert response.status_code == 415
    assert error_of(response)["message"] == "INV-1.pdf: expected a PDF, found an empty file"


def test_an_oversize_pdf_is_413(api, invoice, settings, document_root):
    from relance.ledger.models import InvoiceDocument

    settings.RELANCE_INVOICE_DOCUMENT_MAX_BYTES = 100
    response = _put(api, "INV-1", PDF + b" " * 200)
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "too_large"
    assert error["message"] == f"INV-1.pdf: expected a PDF of at most 100 bytes, found {len(PDF) + 200} bytes"
    assert not InvoiceDocument.objects.exists() and _stored(document_root) == []


def test_a_pdf_over_djangos_in_memory_body_limit_is_accepted(api, invoice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    big = PDF + b"%" * 4096
    response = _put(api, "INV-1", big)
    assert response.status_code == 201, response.content
    assert response.json()["item"]["size"] == len(big)


def test_unknown_invoice_and_missing_document_are_404(api, invoice):
    missing = _put(api, "INV-404", PDF)
    assert missing.status_code == 404
    assert error_of(missing)["message"] == "no invoice 'INV-404' in entity acme"
    none_yet = api.get("/invoices/INV-1/document")
    assert none_yet.status_code == 404
    assert error_of(none_yet)["message"] == "invoice 'INV-1' has no document yet: PUT the PDF first"


def test_another_entitys_invoice_is_not_found(api, other_entity, make_customer, make_invoice):
    foreign = make_invoice(
        make_customer("G1", entity=other_entity, currency="USD"), "G-1", "10.00", date(2026, 1, 1)
    )
    from relance.ledger.services import invoice_document_attach

    invoice_document_attach(invoice=foreign, content=PDF, name="G-1.pdf")
    assert api.get("/invoices/G-1/document").status_code == 404
    assert api.get("/invoices/G-1/document", {"entity": "globex"}).status_code == 404
    assert _put(api, "G-1", PDF_2, "?entity=globex").status_code == 404


def test_a_token_is_required(client, invoice):
    assert (
        client.put("/api/v1/invoices/INV-1/document", PDF, content_type="application/pdf").status_code == 401
    )
    assert client.get("/api/v1/invoices/INV-1/document").status_code == 401


def test_a_read_only_role_may_get_but_not_put(entity, invoice):
    from relance.accounts import services as accounts
    from relance.api.services import api_token_create
    from relance.ledger.services import invoice_document_attach

    auditor = accounts.user_create(
        email="aud@acme.test", role="auditor", entity_names=["acme"], password="x-Pass-123456"
    )
    _, secret = api_token_create(user=auditor, name="tests")
    reader = ApiClient(secret)
    assert _put(reader, "INV-1", PDF).status_code == 403
    invoice_document_attach(invoice=invoice, content=PDF, name="INV-1.pdf")
    assert reader.get("/invoices/INV-1/document").status_code == 200


def test_a_ref_with_a_slash_still_finds_the_invoice(api, invoice, make_invoice):
    make_invoice(invoice.customer, "2026/INV/7", "5.00", date(2026, 1, 5))
    assert _put(api, "2026/INV/7", PDF).status_code == 201
    assert api.get("/invoices/2026/INV/7").json()["invoice_ref"] == "2026/INV/7"  # the invoice itself


def test_openapi_documents_the_pdf_body_and_download(db):
    from django.test import Client

    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    operations = paths["/api/v1/invoices/{ref}/document"]
    assert set(operations) == {"get", "put"}
    assert set(operations["put"]["requestBody"]["content"]) == {"application/pdf"}
    assert {"413", "415"} <= set(operations["put"]["responses"])
    assert set(operations["get"]["responses"]["200"]["content"]) == {"application/pdf"}


def test_a_put_is_in_the_audit_trail_with_the_token_user(api, invoice, user):
    from relance.audit.models import AuditEvent

    assert _put(api, "INV-1", PDF).status_code == 201
    event = AuditEvent.objects.get(action="create", object_type__icontains="invoicedocument")
    assert event.actor_user_id == user.pk and event.actor_token_id is not None
    assert _put(api, "INV-1", PDF).status_code == 200  # unchanged: nothing written, nothing audited
    assert AuditEvent.objects.filter(object_type__icontains="invoicedocument").count() == 1
