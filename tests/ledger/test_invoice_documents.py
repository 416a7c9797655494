"""Invoice documents: only PDFs within the limit are stored, the same bytes twice change nothing,
and ``relance documents import`` attaches a folder, reports the rest and writes nothing on a dry run."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from relance.core.errors import ValidationFailed

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PDF_2 = b"%PDF-1.7\n% corrected copy\n%%EOF\n"
REFUSED = {
    "html": (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "found HTML"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "found SVG"),
    "xml-svg": (b'<?xml version="1.0"?><svg/>', "found XML or SVG"),
    "exe": (b"MZ\x90\x00\x03\x00\x00\x00", "found a Windows executable"),
    "elf": (b"\x7fELF\x02\x01\x01", "found a Linux executable"),
    "png": (b"\x89PNG\r\n\x1a\n....", "found a PNG image"),
    "pdf-later": (b"junk %PDF-1.4", "found a file starting with b'junk %PD'"),
}

pytestmark = pytest.mark.usefixtures("document_root")


@pytest.fixture
def invoice(entity, make_customer, make_invoice):
    return make_invoice(make_customer("C1"), "INV-1", "100.00", date(2026, 1, 5), date(2026, 2, 4))


def _stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_a_pdf_is_stored_outside_the_media_root_with_its_digest(invoice, document_root, settings):
    from relance.ledger.services import invoice_document_attach

    document, attached = invoice_document_attach(invoice=invoice, content=PDF, name="C:\\erp\\INV-1.pdf")
    assert attached
    assert document.sha256 == hashlib.sha256(PDF).hexdigest()
    assert document.size == len(PDF)
    assert document.content_type == "application/pdf"
    assert document.original_name == "INV-1.pdf"
    assert document.entity_id == invoice.entity_id
    path = Path(document.file.path)
    assert path.is_relative_to(document_root) and not path.is_relative_to(Path(settings.MEDIA_ROOT))
    assert path.read_bytes() == PDF
    assert path.name != "INV-1.pdf"  # a random name on disk


@pytest.mark.parametrize("kind", sorted(REFUSED))
def test_anything_but_a_pdf_is_refused_with_the_file_named(invoice, document_root, kind):
    from relance.ledger.models import InvoiceDocument
    from relance.ledger.services import invoice_document_attach

    content, found = REFUSED[kind]
    with pytest.raises(ValidationFailed) as refused:
        invoice_document_attach(invoice=invoice, content=content, name=f"INV-1.{kind}")
    assert refused.value.code == "document_not_pdf"
    assert refused.value.message.startswith(f"INV-1.{kind}: expected a PDF (a file starting with %PDF-), ")
    assert found in refused.value.message
    assert not InvoiceDocument.objects.exists()
    assert _stored_files(document_root) == []


def test_an_empty_file_is_refused(invoice, document_root):
    from relance.ledger.services import invoice_document_attach

    with pytest.raises(ValidationFailed) as refused:
        invoice_document_attach(invoice=invoice, content=b"", name="INV-1.pdf")
    assert refused.value.code == "document_empty"
    assert refused.value.message == "INV-1.pdf: expected a PDF, found an empty file"
    assert _stored_files(document_root) == []


def test_an_oversize_pdf_is_refused_with_the_limit(invoice, document_root, settings):
    from relance.ledger.models import InvoiceDocument
    from relance.ledger.services import invoice_document_attach

    settings.RELANCE_INVOICE_DOCUMENT_MAX_BYTES = 1000
    with pytest.raises(ValidationFailed) as refused:
        invoice_document_attach(invoice=invoice, content=PDF + b" " * 1000, name="big.pdf")
    assert refused.value.code == "document_too_large"
    assert (
        refused.value.message
        == f"big.pdf: expected a PDF of at most 1,000 bytes, found {len(PDF) + 1000:,} bytes"
    )
    assert not InvoiceDocument.objects.exists()
    assert _stored_files(document_root) == []


def test_the_default_limit_is_ten_megabytes(settings):
    from relance.ledger.documents import document_max_bytes

    if hasattr(settings, "RELANCE_INVOICE_DOCUMENT_MAX_BYTES"):
        del settings.RELANCE_INVOICE_DOCUMENT_MAX_BYTES
    assert document_max_bytes() == 10 * 1024 * 1024


def test_the_same_pdf_again_is_unchanged_and_a_new_one_becomes_current(invoice, document_root):
    from relance.ledger.models import InvoiceDocument
    from relance.ledger.selectors import data_versions, invoice_document_current
    from relance.ledger.services import invoice_document_attach

    first, attached = invoice_document_attach(invoice=invoice, content=PDF, name="INV-1.pdf")
    version = data_versions(entity_id=invoice.entity_id)["documents"]
    ledger_version = data_versions(entity_id=invoice.entity_id)["ledger"]
    again, attached_again = invoice_document_attach(invoice=invoice, content=PDF, name="renamed.pdf")
    assert attached and not attached_again
    assert again.pk == first.pk and again.original_name == "INV-1.pdf"
    assert InvoiceDocument.objects.count() == 1 and len(_stored_files(document_root)) == 1
    assert data_versions(entity_id=invoice.entity_id)["documents"] == version  # nothing written

    second, attached_second = invoice_document_attach(invoice=invoice, content=PDF_2, name="INV-1-v2.pdf")
    assert attached_second
    assert invoice_document_current(invoice=invoice) == second
    assert list(invoice.documents.values_list("pk", flat=True)) == [second.pk, first.pk]  # history kept
    assert data_versions(entity_id=invoice.entity_id)["documents"] > version
    assert data_versions(entity_id=invoice.entity_id)["ledger"] == ledger_version  # KPIs unaffected

    # the first version again is a new version (it becomes current), not "unchanged"
    third, attached_third = invoice_document_attach(invoice=invoice, content=PDF, name="INV-1.pdf")
    assert attached_third and invoice_document_current(invoice=invoice) == third


def test_a_row_that_cannot_be_saved_leaves_no_file(invoice, document_root, monkeypatch):
    from relance.ledger.models import InvoiceDocument
    from relance.ledger.services import invoice_document_attach

    def fail(self, *args, **kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(InvoiceDocument, "save", fail)
    with pytest.raises(RuntimeError):
        invoice_document_attach(invoice=invoice, content=PDF, name="INV-1.pdf")
    assert _stored_files(document_root) == []


def test_attaching_is_audited_when_an_actor_is_known(invoice):
    from relance.audit.context import audit_actor
    from relance.audit.models import AuditEvent
    from relance.ledger.services import invoice_document_attach

    with audit_actor(label="cli:test"):
        invoice_document_attach(invoice=invoice, content=PDF, name="INV-1.pdf")
    assert AuditEvent.objects.filter(action="create", object_type__icontains="invoicedocument").exists()


# --------------------------------------------------------------------------- relance documents import


def _run(*args: str) -> dict:
    out = StringIO()
    call_command("documents", "import", *args, "--json", stdout=out, stderr=StringIO())
    return json.loads(out.getvalue())


@pytest.fixture
def folder(tmp_path, invoice, make_invoice):
    other = make_invoice(invoice.customer, "INV-2", "50.00", date(2026, 1, 6), date(2026, 2, 5))
    make_invoice(invoice.customer, "INV-3", "70.00", date(2026, 1, 7), date(2026, 2, 6))
    directory = tmp_path / "pdfs"
    directory.mkdir()
    (directory / "INV-1.pdf").write_bytes(PDF)
    (directory / "INV-2.PDF").write_bytes(PDF_2)
    (directory / "INV-3.pdf").write_bytes(b"<html>not a pdf</html>")
    (directory / "INV-404.pdf").write_bytes(PDF)
    (directory / "notes.txt").write_text("hello")
    (directory / "sub").mkdir()
    (directory / "sub" / "INV-1.pdf").write_bytes(PDF_2)
    return {"path": directory, "invoices": [invoice, other]}


def test_import_attaches_matching_pdfs_and_reports_the_rest(folder, entity):
    from relance.ledger.selectors import invoice_document_current

    outcome = _run(str(folder["path"]), "--entity", entity.name)
    assert outcome["files"] == 5
    assert (outcome["attached"], outcome["unchanged"]) == (2, 0)
    assert sorted(outcome["attached_files"]) == ["INV-1.pdf", "INV-2.PDF"]
    assert outcome["unmatched"] == [
        {"file": "INV-404.pdf", "reason": "no invoice 'INV-404' in entity acme"},
        {"file": "notes.txt", "reason": "the name does not match the pattern '{invoice_ref}.pdf'"},
    ]
    assert outcome["rejected"] == [
        {"file": "INV-3.pdf", "reason": "INV-3.pdf: expected a PDF (a file starting with %PDF-), found HTML"}
    ]
    first, second = folder["invoices"]
    assert Path(invoice_document_current(invoice=first).file.path).read_bytes() == PDF
    assert Path(invoice_document_current(invoice=second).file.path).read_bytes() == PDF_2

    again = _run(str(folder["path"]))
    assert (again["attached"], again["unchanged"]) == (0, 2)


def test_import_dry_run_writes_nothing(folder, entity, document_root):
    from relance.ledger.models import InvoiceDocument
    from relance.ledger.selectors import data_versions

    version = data_versions(entity_id=entity.pk)["documents"]
    outcome = _run(str(folder["path"]), "--dry-run")
    assert outcome["dry_run"] is True
    assert outcome["attached"] == 2 and len(outcome["rejected"]) == 1 and len(outcome["unmatched"]) == 2
    assert not InvoiceDocument.objects.exists()
    assert _stored_files(document_root) == []
    assert data_versions(entity_id=entity.pk)["documents"] == version


def test_import_pattern_with_prefix_and_wildcard(tmp_path, invoice):
    directory = tmp_path / "erp"
    directory.mkdir()
    (directory / "facture_INV-1_2026-01-05.pdf").write_bytes(PDF)
    outcome = _run(str(directory), "--pattern", "facture_{invoice_ref}_*.pdf")
    assert outcome["attached_files"] == ["facture_INV-1_2026-01-05.pdf"]


def test_import_refuses_two_files_for_one_invoice(tmp_path, invoice):
    from relance.ledger.models import InvoiceDocument

    directory = tmp_path / "erp"
    directory.mkdir()
    (directory / "INV-1_a.pdf").write_bytes(PDF)
    (directory / "INV-1_b.pdf").write_bytes(PDF_2)
    outcome = _run(str(directory), "--pattern", "{invoice_ref}_*.pdf")
    assert [p["file"] for p in outcome["rejected"]] == ["INV-1_a.pdf", "INV-1_b.pdf"]
    assert "several files for invoice 'INV-1'" in outcome["rejected"][0]["reason"]
    assert not InvoiceDocument.objects.exists()


def test_import_refuses_an_oversize_file_without_reading_it(tmp_path, invoice, settings):
    settings.RELANCE_INVOICE_DOCUMENT_MAX_BYTES = 100
    directory = tmp_path / "erp"
    directory.mkdir()
    (directory / "INV-1.pdf").write_bytes(PDF + b" " * 200)
    outcome = _run(str(directory))
    assert outcome["rejected"][0]["reason"].startswith("INV-1.pdf: expected a PDF of at most 100 bytes")


def test_import_summary_names_the_unmatched_and_rejected_files(folder):
    out = StringIO()
    call_command("documents", "import", str(folder["path"]), "--dry-run", stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert "would be attached: 2, unchanged: 0, unmatched: 2, rejected: 1 (dry run: nothing written)" in text
    assert "  INV-404.pdf: no invoice 'INV-404' in entity acme" in text
    assert "  INV-3.pdf: expected a PDF (a file starting with %PDF-), found HTML" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pattern", "*.pdf"], "must contain {invoice_ref} exactly once"),
        (["--entity", "nope"], "no entity named 'nope'"),
    ],
)
def test_import_usage_errors(folder, args, message):
    with pytest.raises(CommandError, match=message.replace("{", r"\{").replace("}", r"\}")):
        call_command("documents", "import", str(folder["path"]), *args, stdout=StringIO())


def test_import_of_a_missing_directory_fails(tmp_path, entity):
    with pytest.raises(CommandError, match="expected a directory of PDF files"):
        call_command("documents", "import", str(tmp_path / "missing"), stdout=StringIO())


def test_pattern_matches_whole_names_only():
    from relance.ledger.document_import import pattern_regex

    regex = pattern_regex("{invoice_ref}.pdf")
    assert regex.fullmatch("INV-1.pdf").group("ref") == "INV-1"
    assert regex.fullmatch("INV.1.PDF").group("ref") == "INV.1"
    assert regex.fullmatch("INV-1.pdf.exe") is None
    assert regex.fullmatch(".pdf") is None


def test_admin_lists_documents_and_links_the_download_through_the_api(client, invoice, django_user_model):
    from relance.ledger.services import invoice_document_attach

    invoice_document_attach(invoice=invoice, content=PDF, name="FA-1.pdf")
    staff = django_user_model.objects.create_superuser("root", "root@example.com", "x-Pass-123456")
    client.force_login(staff)
    listing = client.get("/admin/ledger/invoicedocument/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "FA-1.pdf" in html
    href = "/api/v1/invoices/INV-1/document?entity=acme"
    assert f'href="{href}"' in html
    download = client.get(href)
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF


def test_root_and_limit_may_come_from_the_environment(settings, monkeypatch, tmp_path):
    from relance.ledger.documents import document_max_bytes, document_root

    del settings.RELANCE_INVOICE_DOCUMENT_ROOT
    monkeypatch.setenv("RELANCE_INVOICE_DOCUMENT_ROOT", str(tmp_path / "from-env"))
    monkeypatch.setenv("RELANCE_INVOICE_DOCUMENT_MAX_BYTES", "2048")
    assert document_root() == tmp_path / "from-env"
    assert document_max_bytes() == 2048
