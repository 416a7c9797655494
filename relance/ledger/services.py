"""Writes to the ledger. Each service validates, owns its transaction and keeps the invariants:
nothing allocates more than a payment (or credit note) holds or an invoice owes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from relance.core import identifiers
from relance.core.errors import OverAllocation, ValidationFailed
from relance.core.money import validate_currency
from relance.events.services import emit
from relance.ledger import documents, selectors
from relance.ledger.models import (
    STATUS_FIELDS,
    Allocation,
    Contact,
    ContactStatus,
    CreditNote,
    Customer,
    DataChange,
    DataVersion,
    Entity,
    Invoice,
    InvoiceDocument,
    InvoiceStatus,
    Payment,
    VersionScope,
)

ALLOCATION_CURRENCY_MISMATCH = "cannot allocate {source_currency} to an invoice in {invoice_currency}"
ALLOCATION_OTHER_CUSTOMER = "cannot allocate to invoice {invoice} of another customer account"
ALLOCATION_BEFORE_SOURCE = "allocation date {date} is before the {kind} date {source_date}"
ALLOCATION_BEFORE_ISSUE = "allocation date {date} is before the invoice issue date {issue_date}"
ALLOCATION_OVER_SOURCE = "{kind} {ref} has {available} left to allocate, not {amount}"
ALLOCATION_OVER_INVOICE = "invoice {ref} owes {open_amount}, cannot allocate {amount}"
ALLOCATION_VOID_INVOICE = "invoice {ref} is void"
ALLOCATION_EXISTS = "{kind} {ref} is already allocated to invoice {invoice}; change that allocation instead"


@transaction.atomic
def entity_create_or_update(
    *, name: str, currency: str = "EUR", language: str = "en", legal_name: str = "", **fields: object
) -> tuple[Entity, bool]:
    """Create the entity, or leave an existing one as it is (``relance init`` may run any number of times)."""
    entity, created = Entity.objects.get_or_create(
        name=name,
        defaults={
            "currency": validate_currency(currency),
            "language": language,
            "legal_name": legal_name or name,
            **fields,
        },
    )
    if created:
        entity.full_clean()
    return entity, created


ENTITY_DETAILS = ("legal_name", "address", "country", "timezone", "iban", "bic")


@transaction.atomic
def entity_details_set(*, entity: Entity, **details: str) -> list[str]:
    """Set the creditor's details a message needs (legal name, postal address, IBAN, BIC, …);
    returns the names of the fields that changed. IBAN and BIC are stored compact."""
    unknown = set(details) - set(ENTITY_DETAILS)
    if unknown:
        raise ValidationFailed(f"not an entity detail: {', '.join(sorted(unknown))}")
    normalise = {"iban": identifiers.normalise_iban, "bic": identifiers.normalise_bic}
    changed = []
    for name, value in details.items():
        value = value.strip()
        if value and name in normalise:
            value = normalise[name](value)
        if name == "country":
            value = value.upper()
        if getattr(entity, name) != value:
            setattr(entity, name, value)
            changed.append(name)
    if changed:
        entity.full_clean()
        entity.save(update_fields=changed)
    return changed


CREDIT_LIMIT_NEGATIVE = "credit limit: expected an amount of 0 or more, found {limit}"
TERMS_OUT_OF_RANGE = "payment terms: expected 0 to 365 days, found {days}"


@transaction.atomic
def customer_credit_terms_set(
    *, customer: Customer, credit_limit: Decimal | None, payment_terms_days: int, reason: str = ""
) -> list[str]:
    """Set the customer's credit limit (its currency; ``None``: no limit) and payment terms: the one
    write of a limit outside the imports (credit reviews and applications come here). Returns the
    fields that changed; the save is audited as a model change."""
    if credit_limit is not None and credit_limit < 0:
        raise ValidationFailed(CREDIT_LIMIT_NEGATIVE.format(limit=credit_limit))
    if not 0 <= payment_terms_days <= 365:
        raise ValidationFailed(TERMS_OUT_OF_RANGE.format(days=payment_terms_days))
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    changed = []
    if locked.credit_limit != credit_limit:
        emit(
            "credit.limit_changed",
            {
                "limit": credit_limit,
                "previous_limit": locked.credit_limit,
                "currency": locked.currency,
                "reason": reason,
            },
            entity=locked.entity_id,
            customer=locked,
        )
        locked.credit_limit = credit_limit
        changed.append("credit_limit")
    if locked.payment_terms_days != payment_terms_days:
        locked.payment_terms_days = payment_terms_days
        changed.append("payment_terms_days")
    if changed:
        locked.save(update_fields=[*changed, "updated_at"])
        customer.credit_limit, customer.payment_terms_days = locked.credit_limit, locked.payment_terms_days
    return changed


@transaction.atomic
def allocation_create(
    *,
    invoice: Invoice,
    amount: Decimal,
    on: date,
    payment: Payment | None = None,
    credit_note: CreditNote | None = None,
) -> Allocation:
    """Apply part of a payment or credit note to an invoice on ``on``."""
    if (payment is None) == (credit_note is None):
        raise ValidationFailed("an allocation needs exactly one source: a payment or a credit note")
    if amount <= 0:
        raise ValidationFailed(f"allocation amount must be positive, not {amount}")
    source = payment if payment is not None else credit_note
    assert source is not None
    kind = "payment" if payment is not None else "credit note"
    # Lock both rows so that two concurrent allocations cannot overdraw either side.
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    source = type(source).objects.select_for_update().get(pk=source.pk)

    if invoice.status == InvoiceStatus.VOID:
        raise ValidationFailed(ALLOCATION_VOID_INVOICE.format(ref=invoice.external_ref))
    if source.currency != invoice.currency:
        raise ValidationFailed(
            ALLOCATION_CURRENCY_MISMATCH.format(
                source_currency=source.currency, invoice_currency=invoice.currency
            )
        )
    if source.entity_id != invoice.entity_id or not _same_account(source.customer_id, invoice.customer_id):
        raise ValidationFailed(ALLOCATION_OTHER_CUSTOMER.format(invoice=invoice.external_ref))
    if on < source.date:
        raise ValidationFailed(ALLOCATION_BEFORE_SOURCE.format(date=on, kind=kind, source_date=source.date))
    if on < invoice.issue_date:
        raise ValidationFailed(ALLOCATION_BEFORE_ISSUE.format(date=on, issue_date=invoice.issue_date))

    source_filter = {"payment": source} if isinstance(source, Payment) else {"credit_note": source}
    if Allocation.objects.filter(invoice=invoice, **source_filter).exists():
        raise ValidationFailed(
            ALLOCATION_EXISTS.format(kind=kind, ref=source.external_ref, invoice=invoice.external_ref),
            code="allocation_exists",
        )
    available = (
        selectors.payment_unallocated(payment=source)
        if isinstance(source, Payment)
        else selectors.credit_note_unallocated(credit_note=source)
    )
    if amount > available:
        raise OverAllocation(
            ALLOCATION_OVER_SOURCE.format(
                kind=kind, ref=source.external_ref, available=available, amount=amount
            )
        )
    open_amount = selectors.invoice_open_amount(invoice=invoice)
    if amount > open_amount:
        raise OverAllocation(
            ALLOCATION_OVER_INVOICE.format(ref=invoice.external_ref, open_amount=open_amount, amount=amount)
        )
    allocation = Allocation(
        entity_id=invoice.entity_id,
        invoice=invoice,
        payment=payment,
        credit_note=credit_note,
        date=on,
        amount=amount,
    )
    allocation.save()
    customer = invoice.customer
    emit(
        "payment.applied",
        {
            "source": source.external_ref,
            "source_kind": "payment" if payment is not None else "credit_note",
            "invoice": invoice.external_ref,
            "amount": amount,
            "currency": invoice.currency,
            "applied_on": on,
        },
        entity=invoice.entity_id,
        customer=customer,
    )
    if amount == open_amount:
        emit(
            "invoice.paid",
            {
                "invoice": invoice.external_ref,
                "amount": invoice.amount,
                "currency": invoice.currency,
                "paid_on": on,
            },
            entity=invoice.entity_id,
            customer=customer,
        )
    return allocation


def _same_account(source_customer_id: int, invoice_customer_id: int) -> bool:
    """A payment may settle an invoice of its own account or of a child/parent account in the same group."""
    if source_customer_id == invoice_customer_id:
        return True
    roots = selectors.customer_group_roots(customer_ids={source_customer_id, invoice_customer_id})
    return roots[source_customer_id] == roots[invoice_customer_id]


def data_version_bump(
    *, entity_id: int, scope: str = VersionScope.LEDGER, earliest: date | None = None
) -> int:
    """Count one more change of ``scope`` for the entity, inside the caller's transaction, so the
    new number becomes visible exactly when the change does (``relance.ledger.selectors.data_versions``).

    For the ledger scope it also records ``earliest``, the earliest business date the change
    touched (``DataChange``); None, the default, means every date — always safe. Returns the new
    version."""
    now = timezone.now()
    version = _version_increment(entity_id=entity_id, scope=scope, now=now)
    if version is None:
        with transaction.atomic():  # a savepoint: another writer may create the row first
            _row, created = DataVersion.objects.get_or_create(
                entity_id=entity_id, scope=scope, defaults={"version": 1, "changed_at": now}
            )
        version = 1 if created else _version_increment(entity_id=entity_id, scope=scope, now=now)
        assert version is not None
    if scope == VersionScope.LEDGER:
        DataChange.objects.create(
            entity_id=entity_id, scope=scope, version=version, earliest_date=earliest, changed_at=now
        )
    return version


def _version_increment(*, entity_id: int, scope: str, now: datetime) -> int | None:
    """``version + 1`` and the new number in one statement (RETURNING: SQLite ≥ 3.35 and
    PostgreSQL), or None when the entity has no row for ``scope`` yet. The UPDATE holds the row's
    lock until commit, so no two bumps get the same number."""
    rows = DataVersion.objects.filter(entity_id=entity_id, scope=scope)
    if connection.vendor not in ("postgresql", "sqlite"):
        if not rows.update(version=F("version") + 1, changed_at=now):
            return None
        return int(rows.values_list("version", flat=True).get())
    table = connection.ops.quote_name(DataVersion._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET version = version + 1, changed_at = %s"  # noqa: S608
            " WHERE entity_id = %s AND scope = %s RETURNING version",
            [connection.ops.adapt_datetimefield_value(now), entity_id, scope],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def data_change_prune(*, entity_id: int, up_to_version: int, older_than: datetime | None = None) -> int:
    """Delete the entity's ledger ``DataChange`` rows no snapshot can still need: those of versions
    ``≤ up_to_version`` (a snapshot of version V reads only changes after V), and with
    ``older_than`` also every row changed before it (a snapshot that would need one is then
    recomputed: missing rows never count as "no change"). Returns how many were deleted."""
    rows = DataChange.objects.filter(entity_id=entity_id, scope=VersionScope.LEDGER)
    condition = Q(version__lte=up_to_version)
    if older_than is not None:
        condition |= Q(changed_at__lt=older_than)
    deleted, _ = rows.filter(condition).delete()
    return deleted


# --------------------------------------------------------------------------- invoice documents

DOCUMENT_EMPTY = "{name}: expected a PDF, found an empty file"
DOCUMENT_NOT_PDF = "{name}: expected a PDF (a file starting with %PDF-), found {found}"
DOCUMENT_TOO_LARGE = "{name}: expected a PDF of at most {limit:,} bytes, found {size:,} bytes"


@dataclass(frozen=True)
class DocumentChecked:
    """A file that passed ``invoice_document_check``: what would be stored, and whether it is new."""

    sha256: str
    size: int
    name: str
    unchanged: bool


def invoice_document_validate(*, content: bytes, name: str) -> None:
    """Refuse anything but a non-empty PDF within the size limit (told by its first bytes)."""
    label = name or "document"
    if not content:
        raise ValidationFailed(DOCUMENT_EMPTY.format(name=label), code="document_empty")
    limit = documents.document_max_bytes()
    if len(content) > limit:
        raise ValidationFailed(
            DOCUMENT_TOO_LARGE.format(name=label, limit=limit, size=len(content)), code="document_too_large"
        )
    if not documents.is_pdf(content):
        raise ValidationFailed(
            DOCUMENT_NOT_PDF.format(name=label, found=documents.looks_like(content)), code="document_not_pdf"
        )


def invoice_document_check(*, invoice: Invoice, content: bytes, name: str) -> DocumentChecked:
    """Validate ``content`` for ``invoice`` and say whether it is the current document already.
    Writes nothing (``relance documents import --dry-run`` stops here)."""
    invoice_document_validate(content=content, name=name)
    digest = hashlib.sha256(content).hexdigest()
    current = selectors.invoice_document_current(invoice=invoice)
    return DocumentChecked(
        sha256=digest,
        size=len(content),
        name=documents.display_name(name),
        unchanged=current is not None and current.sha256 == digest,
    )


def invoice_document_attach(*, invoice: Invoice, content: bytes, name: str) -> tuple[InvoiceDocument, bool]:
    """Store ``content`` as the invoice's PDF: ``(document, True)`` for a new version, or the current
    document and False when the same bytes are already its document (nothing written).

    Earlier versions are kept; the newest is the one shown. A refused file writes nothing, and a
    stored file whose row cannot be saved is deleted again."""
    invoice_document_validate(content=content, name=name)
    with transaction.atomic():
        # One writer per invoice at a time, so two uploads of one PDF make one version.
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        checked = invoice_document_check(invoice=locked, content=content, name=name)
        if checked.unchanged:
            current = selectors.invoice_document_current(invoice=locked)
            assert current is not None
            return current, False
        document = InvoiceDocument(
            entity_id=locked.entity_id,
            invoice=locked,
            sha256=checked.sha256,
            size=checked.size,
            content_type=documents.PDF_CONTENT_TYPE,
            original_name=checked.name,
        )
        document.file.save(checked.name or "invoice.pdf", ContentFile(content), save=False)
        try:
            document.save()
        except BaseException:
            if document.file.name:
                document.file.storage.delete(document.file.name)
            raise
    return document, True


# --------------------------------------------------------------------------------------------------
# Contact address statuses (issue 19)

ERROR_STATUS_CHANNEL = "channel {channel!r} has no address status: expected one of {choices}"
#: Reasons are kept short: they are shown in tables and in the run's reasons.
REASON_MAX = 300


def contact_status_set(*, contact: Contact, channel: str, status: str, reason: str) -> bool:
    """Set the status of the address ``contact`` uses on ``channel`` (``email``, ``sms``/``call``:
    the phone, ``letter``: the postal address), with its reason in words. The one write of an
    address status: bounces (delivery), returned letters (cases), checks (quality) and the portal
    call it. Returns whether anything changed; the ledger's data version moves when it did, so
    the next run sees the address gone."""
    field = STATUS_FIELDS.get(channel)
    if field is None:
        raise ValidationFailed(ERROR_STATUS_CHANNEL.format(channel=channel, choices=", ".join(STATUS_FIELDS)))
    ContactStatus(status)  # ValueError on a status that does not exist
    reason_field = field.replace("_status", "_reason")
    reason = reason[:REASON_MAX]
    if getattr(contact, field) == status and getattr(contact, reason_field) == reason:
        return False
    previous = getattr(contact, field)
    setattr(contact, field, status)
    setattr(contact, reason_field, reason)
    Contact.objects.filter(pk=contact.pk).update(
        **{field: status, reason_field: reason}, updated_at=timezone.now()
    )
    data_version_bump(entity_id=contact.customer.entity_id)
    if previous != status:  # a new reason for the same status is no event
        emit(
            "contact.status_changed",
            {
                "contact_id": contact.pk,
                "contact_ref": contact.external_ref,
                "channel": channel,
                "status": status,
                "previous_status": previous,
                "reason": reason,
            },
            entity=contact.customer.entity_id,
            customer=contact.customer,
        )
    return True
