"""JSON items → the ingestion layer. A thin adapter only: ``relance.ingest.records.parse_row``
validates and ``upsert_records`` writes, exactly as for a file import.

What the adapter adds is the JSON shape of a payment: one object with its ``allocations``, which
becomes the import's one row per allocation (plus one unapplied row for what is left over).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from relance.core.errors import ErrorList, FieldError
from relance.core.identifiers import PLAIN_TEXT_EXPECTED, has_unsafe_text
from relance.ingest.parsing import RowParser
from relance.ingest.records import PaymentRecord, Record, UpsertResult, parse_row, upsert_records
from relance.ledger.models import Entity

REF_FIELDS = {
    "customers": "customer_ref",
    "contacts": "contact_ref",
    "invoices": "invoice_ref",
    "credit_notes": "credit_note_ref",
    "payments": "payment_ref",
    "orders": "order_ref",
}
# Above this many items one parser reads all the entity's customers once instead of one query per
# customer_ref (``parse_row`` makes a fresh parser per row: 10,000 invoices took ~8 s, now ~1 s).
PRELOAD_CUSTOMERS_FROM = 50
REF_MISMATCH = "the same ref as the URL ({ref})"
ALLOCATIONS_OVER_AMOUNT = "allocations totalling at most the payment amount {amount}"


def cell(value: Any) -> str | None:
    """A JSON value as the text cell an import file would hold."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _row(item: Mapping[str, Any], *, skip: Sequence[str] = ()) -> dict[str, str | None]:
    return {name: cell(value) for name, value in item.items() if name not in skip}


Parse = Callable[..., Record]


def _payment_records(item: Mapping[str, Any], *, parse: Parse, line: int | None) -> list[Record]:
    """One payment object → its records: one per allocation, plus the unapplied remainder."""
    header = _row(item, skip=("allocations",))
    errors: list[FieldError] = []
    try:
        payment = parse({**header, "invoice_ref": None}, line=line)
    except ErrorList as failure:
        errors.extend(failure.errors)
        payment = None
    parts: list[PaymentRecord] = []
    seen = {(error.field, error.expected) for error in errors}
    for position, allocation in enumerate(item.get("allocations") or ()):
        row = {
            **header,
            "amount": cell(allocation.get("amount")),
            "invoice_ref": cell(allocation.get("invoice_ref")),
        }
        try:
            part = parse(row, line=line)
        except ErrorList as failure:
            for error in failure.errors:
                if error.field in {"amount", "invoice_ref"}:
                    errors.append(dataclasses.replace(error, field=f"allocations.{position}.{error.field}"))
                elif (error.field, error.expected) not in seen:  # the payment's own fields: once
                    seen.add((error.field, error.expected))
                    errors.append(error)
            continue
        assert isinstance(part, PaymentRecord)
        parts.append(part)
    if errors:
        raise ErrorList(errors)
    assert isinstance(payment, PaymentRecord)
    remainder = payment.amount - sum((part.amount for part in parts), Decimal(0))
    if remainder < 0:
        raise ErrorList(
            [
                FieldError(
                    "allocations",
                    ALLOCATIONS_OVER_AMOUNT.format(amount=payment.amount),
                    str(payment.amount - remainder),
                    line,
                )
            ]
        )
    records: list[Record] = list(parts)
    if remainder > 0 or not parts:
        records.append(dataclasses.replace(payment, amount=remainder if parts else payment.amount))
    return records


def records_from_items(
    kind: str, items: Sequence[Mapping[str, Any]], *, entity: Entity, indexed: bool
) -> list[Record]:
    """Validate every item (all of them, to report every error at once); ``ErrorList`` if any fails.

    With ``indexed`` each error carries the item's position in the list (as ``line``).
    """
    parse: Parse
    if len(items) >= PRELOAD_CUSTOMERS_FROM:
        parse = RowParser(kind, entity=entity, preload=True).parse
    else:

        def parse(row: Mapping[str, str | None], *, line: int | None) -> Record:
            return parse_row(kind, row, entity=entity, line=line)

    records: list[Record] = []
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        line = index if indexed else None
        try:
            if kind == "payments":
                records.extend(_payment_records(item, parse=parse, line=line))
            else:
                records.append(parse(_row(item), line=line))
        except ErrorList as failure:
            errors.extend(failure.errors)
    if errors:
        raise ErrorList(errors)
    return records


def upsert_items(
    kind: str, items: Sequence[Mapping[str, Any]], *, entity: Entity, indexed: bool = True
) -> UpsertResult:
    """All or nothing: nothing is written unless every item is valid."""
    records = records_from_items(kind, items, entity=entity, indexed=indexed)
    return upsert_records(kind, records, entity=entity)


def upsert_item(kind: str, ref: str, item: Mapping[str, Any], *, entity: Entity) -> UpsertResult:
    """``PUT /<kind>/{ref}``: the URL names the record; a different ref in the body is an error."""
    field = REF_FIELDS[kind]
    if has_unsafe_text(ref):  # before any query: PostgreSQL refuses NUL in text outright
        raise ErrorList([FieldError(field, PLAIN_TEXT_EXPECTED, ref[:80])])
    given = item.get(field)
    if given not in (None, "", ref):
        raise ErrorList([FieldError(field, REF_MISMATCH.format(ref=ref), str(given))])
    return upsert_items(kind, [{**item, field: ref}], entity=entity, indexed=False)
