"""Attach a folder of ERP invoice PDFs to their invoices (``relance documents import``).

File names are matched to invoice refs through a pattern (``{invoice_ref}.pdf`` by default). A
file that matches no invoice, or is not an acceptable PDF, is reported and skipped: the other
files are still attached, each in its own transaction, so a refused file never half-writes.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relance.core.errors import ValidationFailed
from relance.ledger import documents, services
from relance.ledger.models import Entity, Invoice, InvoiceDocument

REF_FIELD = "{invoice_ref}"
DEFAULT_PATTERN = "{invoice_ref}.pdf"
LOOKUP_BATCH = 900
PATTERN_WITHOUT_REF = "the pattern {pattern!r} must contain {{invoice_ref}} exactly once"
NOT_A_DIRECTORY = "{path}: expected a directory of PDF files"
NO_MATCH = "the name does not match the pattern {pattern!r}"
NO_INVOICE = "no invoice {ref!r} in entity {entity}"
SEVERAL_FILES = "several files for invoice {ref!r}: {names}; keep one"
UNREADABLE = "{name}: cannot be read ({error})"


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """``{invoice_ref}`` → the ref (at least one character), ``*`` → anything, the rest literal;
    the whole name must match, ignoring case (``INV-1.PDF`` matches ``{invoice_ref}.pdf``)."""
    if pattern.count(REF_FIELD) != 1:
        raise ValidationFailed(PATTERN_WITHOUT_REF.format(pattern=pattern), code="bad_pattern")
    before, after = pattern.split(REF_FIELD)

    def literal(text: str) -> str:
        return ".*".join(re.escape(part) for part in text.split("*"))

    return re.compile(f"{literal(before)}(?P<ref>.+?){literal(after)}", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class FileProblem:
    file: str
    reason: str


@dataclass
class DocumentImportOutcome:
    """What ``documents_import`` did (or, on a dry run, would do) with each file of the folder."""

    directory: str
    pattern: str
    dry_run: bool
    files: int = 0
    attached: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    unmatched: list[FileProblem] = field(default_factory=list)
    rejected: list[FileProblem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "pattern": self.pattern,
            "dry_run": self.dry_run,
            "files": self.files,
            "attached": len(self.attached),
            "unchanged": len(self.unchanged),
            "attached_files": self.attached,
            "unmatched": [{"file": p.file, "reason": p.reason} for p in self.unmatched],
            "rejected": [{"file": p.file, "reason": p.reason} for p in self.rejected],
        }


def documents_import(
    *,
    entity: Entity,
    directory: Path,
    pattern: str = DEFAULT_PATTERN,
    dry_run: bool = False,
    start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> DocumentImportOutcome:
    """Attach every file of ``directory`` (not its sub-folders) whose name gives an invoice ref of
    ``entity``. A dry run reads and checks every file and writes nothing."""
    if not directory.is_dir():
        raise ValidationFailed(NOT_A_DIRECTORY.format(path=directory), code="not_a_directory")
    regex = pattern_regex(pattern)
    outcome = DocumentImportOutcome(directory=str(directory), pattern=pattern, dry_run=dry_run)
    paths = sorted(path for path in directory.iterdir() if path.is_file())
    outcome.files = len(paths)
    if start is not None:
        start(len(paths))

    by_ref: dict[str, list[Path]] = defaultdict(list)
    for path in paths:
        found = regex.fullmatch(path.name)
        if found is None:
            outcome.unmatched.append(FileProblem(path.name, NO_MATCH.format(pattern=pattern)))
        else:
            by_ref[found.group("ref")].append(path)
    invoices: dict[str, Invoice] = {}
    refs = list(by_ref)
    for first in range(0, len(refs), LOOKUP_BATCH):  # SQLite limits the parameters of a query
        chunk = refs[first : first + LOOKUP_BATCH]
        invoices.update(
            (invoice.external_ref, invoice)
            for invoice in Invoice.objects.filter(entity=entity, external_ref__in=chunk)
        )
    current = _current_digests(entity=entity, invoice_ids={invoice.pk for invoice in invoices.values()})
    done = len(outcome.unmatched)
    if progress is not None and done:
        progress(done)
    limit = documents.document_max_bytes()
    for ref, ref_paths in by_ref.items():
        invoice = invoices.get(ref)
        for path in ref_paths:
            done += 1
            if invoice is None:
                outcome.unmatched.append(
                    FileProblem(path.name, NO_INVOICE.format(ref=ref, entity=entity.name))
                )
            elif len(ref_paths) > 1:
                names = ", ".join(p.name for p in ref_paths)
                outcome.rejected.append(FileProblem(path.name, SEVERAL_FILES.format(ref=ref, names=names)))
            else:
                _one(
                    outcome,
                    invoice=invoice,
                    path=path,
                    dry_run=dry_run,
                    limit=limit,
                    current=current.get(invoice.pk),
                )
            if progress is not None:
                progress(done)
    outcome.unmatched.sort(key=lambda problem: problem.file)
    outcome.rejected.sort(key=lambda problem: problem.file)
    return outcome


def _current_digests(*, entity: Entity, invoice_ids: set[int]) -> dict[int, str]:
    """SHA-256 of each invoice's current PDF, in one query: a folder sent again is then told
    ``unchanged`` file by file without a query (or a lock) per file."""
    digests: dict[int, str] = {}
    if not invoice_ids:
        return digests
    rows = InvoiceDocument.objects.filter(entity=entity).order_by("invoice_id", "-id")
    for invoice_id, digest in rows.values_list("invoice_id", "sha256").iterator(chunk_size=5000):
        if invoice_id in invoice_ids:
            digests.setdefault(invoice_id, digest)
    return digests


def _one(
    outcome: DocumentImportOutcome,
    *,
    invoice: Invoice,
    path: Path,
    dry_run: bool,
    limit: int,
    current: str | None,
) -> None:
    try:
        size = path.stat().st_size
        if size > limit:  # refused without reading it
            raise ValidationFailed(services.DOCUMENT_TOO_LARGE.format(name=path.name, limit=limit, size=size))
        content = path.read_bytes()
        services.invoice_document_validate(content=content, name=path.name)
        if hashlib.sha256(content).hexdigest() == current:
            unchanged = True
        elif dry_run:
            unchanged = False
        else:
            _document, attached = services.invoice_document_attach(
                invoice=invoice, content=content, name=path.name
            )
            unchanged = not attached
    except ValidationFailed as refused:
        outcome.rejected.append(FileProblem(path.name, refused.message))
        return
    except OSError as error:
        outcome.rejected.append(
            FileProblem(path.name, UNREADABLE.format(name=path.name, error=error.strerror))
        )
        return
    (outcome.unchanged if unchanged else outcome.attached).append(path.name)
