"""The invoice PDF on the portal: offered when the ERP sent one, downloaded as an attachment only
by the link's customers (another customer's invoice → 404), audited, and shown at once on the
cached open-items page after an attach."""

from __future__ import annotations

import pytest
from django.urls import reverse

from relance.portal.links import token_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("document_root")]

PDF = b"%PDF-1.4\n% invoice copy\n%%EOF\n"
PDF_2 = b"%PDF-1.7\n% corrected invoice\n%%EOF\n"
DOWNLOAD = "Download the invoice (PDF)"


def _attach(invoice, content=PDF):
    from relance.ledger.services import invoice_document_attach

    document, _attached = invoice_document_attach(invoice=invoice, content=content, name="erp-export.pdf")
    return document


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_invoice_page_offers_the_pdf_only_when_there_is_one(client, url, ledger):
    late = ledger["invoices"]["late"]
    page = client.get(url("invoice", late.pk)).content.decode()
    assert DOWNLOAD not in page and "document.pdf" not in page
    _attach(late)
    page = client.get(url("invoice", late.pk)).content.decode()
    assert DOWNLOAD in page
    assert f'href="{url("invoice_document", late.pk)}"' in page


def test_download_is_an_attachment_of_the_pdf_and_is_audited(client, url, ledger, link):
    from relance.portal.models import PortalEvent

    late = ledger["invoices"]["late"]
    document = _attach(late)
    response = client.get(url("invoice_document", late.pk))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="INV-1.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store"
    assert _body(response) == PDF
    event = PortalEvent.objects.get(action="invoice_pdf")
    assert event.link == link and event.customer == ledger["parent"]
    assert event.detail == {"invoice": "INV-1", "document": document.pk}


def test_the_newest_version_is_served(client, url, ledger):
    late = ledger["invoices"]["late"]
    _attach(late, PDF)
    _attach(late, PDF_2)
    assert _body(client.get(url("invoice_document", late.pk))) == PDF_2


def test_a_child_accounts_invoice_pdf_is_in_scope(client, url, ledger):
    from relance.portal.models import PortalEvent

    child = ledger["invoices"]["child"]
    _attach(child)
    response = client.get(url("invoice_document", child.pk))
    assert response.status_code == 200 and _body(response) == PDF
    assert PortalEvent.objects.get(action="invoice_pdf").customer == ledger["child"]


def test_another_customers_invoice_pdf_is_404(client, url, ledger):
    from relance.portal.models import PortalEvent

    stranger = ledger["invoices"]["stranger"]
    _attach(stranger)
    response = client.get(url("invoice_document", stranger.pk))
    assert response.status_code == 404
    assert PDF not in response.content
    assert not PortalEvent.objects.filter(action="invoice_pdf").exists()


def test_an_invoice_without_a_pdf_is_404(client, url, ledger):
    assert client.get(url("invoice_document", ledger["invoices"]["soon"].pk)).status_code == 404


def test_a_void_invoices_pdf_is_404(client, url, ledger):
    late = ledger["invoices"]["late"]
    _attach(late)
    late.status = "void"
    late.save()
    assert client.get(url("invoice_document", late.pk)).status_code == 404


def test_a_tampered_token_gets_no_pdf(client, link, ledger):
    from relance.portal.models import PortalEvent

    late = ledger["invoices"]["late"]
    _attach(late)
    token = token_for(link)
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    response = client.get(reverse("portal:invoice_document", args=[tampered, late.pk]))
    assert response.status_code == 404
    assert not getattr(response, "streaming", False) and PDF not in response.content
    assert not PortalEvent.objects.filter(action="invoice_pdf").exists()


def test_a_revoked_link_gets_no_pdf(client, url, link, ledger):
    from django.utils import timezone

    late = ledger["invoices"]["late"]
    _attach(late)
    download = url("invoice_document", late.pk)
    link.revoked_at = timezone.now()
    link.save()
    response = client.get(download)
    assert response.status_code == 410 and PDF not in response.content


def test_cached_items_page_shows_the_pdf_link_after_an_attach(client, url, ledger, settings):
    settings.RELANCE_PORTAL_PAGE_CACHE = True
    late = ledger["invoices"]["late"]
    link_to_pdf = f'href="{url("invoice_document", late.pk)}"'
    first = client.get(url("items")).content.decode()
    assert "document.pdf" not in first
    assert client.get(url("items")).content.decode() == first  # served from the cache
    _attach(late)
    after = client.get(url("items")).content.decode()
    assert link_to_pdf in after
    assert after.count("document.pdf") == 1  # only the invoice that has one


def test_items_page_asks_for_the_pdfs_once_per_page(client, url, ledger, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.RELANCE_PORTAL_PAGE_CACHE = False
    for invoice in ledger["invoices"].values():
        _attach(invoice)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url("items") + "?state=all")
    assert response.content.decode().count("document.pdf") == 4  # the scope's four, not the stranger's
    document_queries = [q for q in queries.captured_queries if "ledger_invoicedocument" in q["sql"]]
    assert len(document_queries) == 1


def test_a_pdf_missing_from_the_store_is_404_not_a_crash(client, url, ledger):
    from pathlib import Path

    late = ledger["invoices"]["late"]
    Path(_attach(late).file.path).unlink()
    assert client.get(url("invoice_document", late.pk)).status_code == 404


def test_the_download_is_offered_in_the_customers_language(client, url, ledger):
    late = ledger["invoices"]["late"]
    _attach(late)
    page = client.get(url("invoice", late.pk) + "?lang=fr").content.decode()
    assert "Télécharger la facture (PDF)" in page
    items = client.get(url("items") + "?lang=de").content.decode()
    assert 'aria-label="Rechnung INV-1 (PDF)"' in items
