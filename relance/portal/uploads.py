"""What a customer may attach to a dispute: PDF, JPEG or PNG, told by their first bytes.

The name and the browser's content type are not trusted: a file is accepted only when its magic
bytes say PDF, JPEG or PNG, and it is then always served back as a download of that type (never
inline, never as HTML or SVG).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_noop as _

from relance.core.filenames import download_filename

ALLOWED = {
    b"%PDF-": ("application/pdf", "pdf"),
    b"\xff\xd8\xff": ("image/jpeg", "jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", "png"),
}
UPLOAD_TYPE_REFUSED = _("Only PDF, JPEG or PNG files can be attached.")
UPLOAD_TOO_LARGE = _("A file can be at most {limit} MB.")
UPLOAD_EMPTY = _("The file is empty.")
UPLOAD_TOO_MANY = _("Attach at most {limit} files.")
MAX_FILES = 5


@dataclass(frozen=True)
class SniffedFile:
    content_type: str
    extension: str


def sniff(head: bytes) -> SniffedFile | None:
    """The allowed type the first bytes show, or None (HTML, SVG, executables, anything else)."""
    for magic, (content_type, extension) in ALLOWED.items():
        if head.startswith(magic):
            return SniffedFile(content_type, extension)
    return None


def safe_filename(name: str, extension: str) -> str:
    """A display name without paths or control characters, ending in the sniffed extension."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return download_filename(stem, extension, fallback="attachment")


class UploadRefused(Exception):
    """A file refused: ``template`` (an untranslated sentence) formatted with ``params``."""

    def __init__(self, template: str, **params: object) -> None:
        super().__init__(template)
        self.template = template
        self.params = params


def upload_check(upload: UploadedFile, limit: int) -> SniffedFile:
    """The type of an upload told by its first bytes, or ``UploadRefused`` (too large, empty, not
    PDF/JPEG/PNG): the one rule for what customers may upload (disputes, credit applications)."""
    if (upload.size or 0) > limit:
        raise UploadRefused(UPLOAD_TOO_LARGE, limit=limit // (1024 * 1024))
    upload.seek(0)
    head = upload.read(16)
    if not head:
        raise UploadRefused(UPLOAD_EMPTY)
    sniffed = sniff(head)
    if sniffed is None:
        raise UploadRefused(UPLOAD_TYPE_REFUSED)
    return sniffed
