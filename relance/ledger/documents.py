"""Where invoice documents (the ERP's PDFs) are kept, and what counts as one.

Like the portal's dispute attachments (``relance.portal.models.UploadStorage``), the files live
outside the static and media roots under a random name and have no public URL: the portal and the
API stream them after their own access checks. A file is accepted only when its first bytes say
PDF (``%PDF-``); its name and the sender's content type are not trusted.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.signals import setting_changed
from django.utils.functional import LazyObject, empty

PDF_MAGIC = b"%PDF-"
PDF_CONTENT_TYPE = "application/pdf"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
ROOT_SETTING = "RELANCE_INVOICE_DOCUMENT_ROOT"
MAX_BYTES_SETTING = "RELANCE_INVOICE_DOCUMENT_MAX_BYTES"


def _setting(name: str) -> str:
    """A Django setting, else the environment variable of the same name (so that deployments can
    set these without editing the settings module)."""
    return str(getattr(settings, name, None) or os.environ.get(name, "")).strip()


def document_max_bytes() -> int:
    """The largest invoice PDF accepted (``RELANCE_INVOICE_DOCUMENT_MAX_BYTES``, default 10 MB)."""
    return int(_setting(MAX_BYTES_SETTING) or DEFAULT_MAX_BYTES)


def document_root() -> Path:
    """``RELANCE_INVOICE_DOCUMENT_ROOT``, default ``<RELANCE_VAR_DIR>/invoice-documents``."""
    root = _setting(ROOT_SETTING)
    return Path(root) if root else Path(settings.RELANCE_VAR_DIR) / "invoice-documents"


def is_pdf(content: bytes) -> bool:
    return content.startswith(PDF_MAGIC)


class DocumentStorage(LazyObject):
    """A ``FileSystemStorage`` under ``document_root()`` with no base URL (nothing is served)."""

    def _setup(self) -> None:
        self._wrapped = FileSystemStorage(location=str(document_root()), base_url=None)


document_storage_instance = DocumentStorage()


def document_storage() -> FileSystemStorage:
    """The storage of ``InvoiceDocument.file`` (a callable, so migrations do not freeze a path)."""
    return document_storage_instance  # type: ignore[return-value]  # a lazy FileSystemStorage


def document_upload_path(instance: Any, filename: str) -> str:
    """``<entity id>/<random>.pdf``: the ERP's name is kept on the row, never used on disk."""
    return f"{instance.entity_id}/{uuid.uuid4().hex}.pdf"


def _root_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (ROOT_SETTING, "RELANCE_VAR_DIR"):
        document_storage_instance._wrapped = empty  # type: ignore[assignment]  # set up again on use


setting_changed.connect(_root_changed, dispatch_uid="relance.ledger.documents.root")


# What a rejected file looked like, for the error message (first bytes → a word people know).
LOOKS_LIKE = (
    (b"<?xml", "XML or SVG"),
    (b"<svg", "SVG"),
    (b"<!doctype html", "HTML"),
    (b"<html", "HTML"),
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "a Linux executable"),
    (b"PK\x03\x04", "a ZIP archive (or an Office file)"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x89PNG", "a PNG image"),
    (b"#!", "a script"),
)


def looks_like(content: bytes) -> str:
    """A short description of what ``content`` is, for "expected a PDF, found …"."""
    head = content[:512].lstrip().lower()
    for magic, label in LOOKS_LIKE:
        if head.startswith(magic.lower()):
            return label
    return f"a file starting with {content[:8]!r}"


def display_name(name: str) -> str:
    """The sender's file name without folders or control characters (shown, never used on disk)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(char for char in base if char.isprintable() and char not in '"<>:;|?*')[:255]
