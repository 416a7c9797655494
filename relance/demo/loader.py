"""Load a generated ledger into the app database, fast: bulk inserts in one transaction.

The services' row-by-row checks (``allocation_create``) would take minutes for a demo ledger;
the generator already guarantees the same invariants (tests/synthetic check them), so the loader
inserts in batches and maps the generated ids to database ids. Each customer gets one billing
contact with the generated e-mail address (on the reserved ``.example`` domain) and phone number.
The generated behaviour is not stored: ``segment`` carries what a credit team would know
(key account, standard, small business, high risk — see ``relance.synthetic.generator``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import models, transaction

from relance.core.errors import Conflict
from relance.ledger.models import (
    Allocation,
    Channel,
    Contact,
    CreditNote,
    Customer,
    Entity,
    ExchangeRate,
    Invoice,
    Order,
    Payment,
    VersionScope,
)
from relance.ledger.services import data_version_bump
from relance.synthetic.credit import (
    exchange_rates_table,
    ledger_first_day,
    ledger_last_day,
    orders_table,
    returned_payments_table,
)
from relance.synthetic.model import GeneratedLedger
from relance.synthetic.writers import po_numbers, refs

LOAD_BATCH = 2_000
REF_CHECK_BATCH = 500
LEDGER_CLASH = (
    "entity {entity} already has customer {ref}: load the generated ledger into a new entity "
    "(or delete the existing ledger first)"
)
CONTACT_NAMES = {
    "en": "Accounts payable",
    "fr": "Service comptabilité",
    "de": "Buchhaltung",
    "es": "Contabilidad",
    "it": "Amministrazione",
    "zh-hans": "财务部",
}
PAYMENT_METHOD = "bank transfer"


@dataclass(frozen=True)
class LoadResult:
    """How many rows of each kind were inserted."""

    entity: str
    customers: int
    contacts: int
    invoices: int
    credit_notes: int
    payments: int
    allocations: int
    orders: int = 0
    exchange_rates: int = 0
    returned_payments: int = 0

    def __str__(self) -> str:
        return (
            f"{self.customers:,} customers, {self.invoices:,} invoices, {self.credit_notes:,} credit notes, "
            f"{self.payments:,} payments ({self.returned_payments:,} returned), {self.allocations:,} "
            f"allocations, {self.orders:,} orders and {self.exchange_rates:,} exchange rates into {self.entity}"
        )


def _column(table: pa.Table, name: str) -> list:
    return table[name].to_pylist()


def _id_map(generated: np.ndarray, database: list[int]) -> np.ndarray:
    """A lookup array: ``lookup[generated_id]`` is the database id."""
    lookup = np.zeros(int(generated.max()) + 1 if generated.size else 1, dtype=np.int64)
    lookup[generated] = database
    return lookup


def _database_ids(model: type[models.Model], objects: list, entity: Entity) -> list[int]:
    """The primary keys of freshly bulk-created rows (re-read by reference where the backend cannot return them)."""
    if all(obj.pk is not None for obj in objects):
        return [obj.pk for obj in objects]
    by_ref = dict(model._default_manager.filter(entity=entity).values_list("external_ref", "pk"))
    return [by_ref[obj.external_ref] for obj in objects]


def _check_no_clash(entity: Entity, customer_refs: list[str]) -> None:
    for start in range(0, len(customer_refs), REF_CHECK_BATCH):
        batch = customer_refs[start : start + REF_CHECK_BATCH]
        clash = Customer.objects.filter(entity=entity, external_ref__in=batch).order_by("external_ref")
        existing = clash.values_list("external_ref", flat=True).first()
        if existing is not None:
            raise Conflict(LEDGER_CLASH.format(entity=entity.name, ref=existing))


@transaction.atomic
def _documents(
    model: type[CreditNote] | type[Payment],
    kind: str,
    table: pa.Table,
    entity: Entity,
    customer_db: np.ndarray,
    **extra: str,
) -> list[Any]:
    """Unsaved credit notes or payments (same columns: customer, ref, date, currency, amount)."""
    return [
        model(
            entity=entity,
            customer_id=int(customer_id),
            external_ref=ref,
            date=on,
            currency=currency,
            amount=amount,
            **extra,
        )
        for customer_id, ref, on, currency, amount in zip(
            customer_db[table["customer_id"].to_numpy()],
            refs(kind, table[f"{kind}_id"]).to_pylist(),
            _column(table, "date"),
            _column(table, "currency"),
            _column(table, "amount"),
            strict=True,
        )
    ]


def ledger_load(*, ledger: GeneratedLedger, entity: Entity, batch_size: int = LOAD_BATCH) -> LoadResult:
    """Insert the generated customers, contacts, invoices, credit notes, payments and allocations."""
    customers_table = ledger.customers
    customer_refs = _column(customers_table, "external_ref")
    _check_no_clash(entity, customer_refs)

    customers = [
        Customer(
            entity=entity,
            external_ref=ref,
            name=name,
            currency=currency,
            payment_terms_days=terms,
            credit_limit=limit,
            segment=segment or "",
            language=language,
            country=country or "",
        )
        for ref, name, currency, terms, limit, segment, language, country in zip(
            customer_refs,
            _column(customers_table, "name"),
            _column(customers_table, "currency"),
            _column(customers_table, "payment_terms_days"),
            _column(customers_table, "credit_limit"),
            _column(customers_table, "segment"),
            _column(customers_table, "language"),
            _column(customers_table, "country"),
            strict=True,
        )
    ]
    Customer.objects.bulk_create(customers, batch_size=batch_size)
    customer_pks = _database_ids(Customer, customers, entity)
    customer_db = _id_map(customers_table["customer_id"].to_numpy(), customer_pks)
    children = []
    for customer, pk, parent in zip(
        customers, customer_pks, _column(customers_table, "parent_id"), strict=True
    ):
        customer.pk = pk
        if parent is not None:
            customer.parent_id = int(customer_db[parent])
            children.append(customer)
    Customer.objects.bulk_update(children, ["parent"], batch_size=batch_size)

    contacts = [
        Contact(
            customer_id=int(customer_id),
            name=CONTACT_NAMES.get(customer.language, CONTACT_NAMES["en"]),
            role="billing",
            email=email or "",
            phone=phone or "",
            preferred_channel=Channel.EMAIL,
        )
        for customer, customer_id, email, phone in zip(
            customers,
            customer_db[customers_table["customer_id"].to_numpy()],
            _column(customers_table, "email"),
            _column(customers_table, "phone"),
            strict=True,
        )
    ]
    Contact.objects.bulk_create(contacts, batch_size=batch_size)

    table = ledger.invoices
    invoices = [
        Invoice(
            entity=entity,
            customer_id=int(customer_id),
            external_ref=ref,
            issue_date=issue,
            due_date=due,
            currency=currency,
            amount=amount,
            po_number=po or "",
            status=status,
        )
        for customer_id, ref, issue, due, currency, amount, po, status in zip(
            customer_db[table["customer_id"].to_numpy()],
            refs("invoice", table["invoice_id"]).to_pylist(),
            _column(table, "issue_date"),
            _column(table, "due_date"),
            _column(table, "currency"),
            _column(table, "amount"),
            po_numbers(table).to_pylist(),
            _column(table, "status"),
            strict=True,
        )
    ]
    Invoice.objects.bulk_create(invoices, batch_size=batch_size)
    invoice_db = _id_map(table["invoice_id"].to_numpy(), _database_ids(Invoice, invoices, entity))

    credit_notes = _documents(CreditNote, "credit_note", ledger.credit_notes, entity, customer_db)
    CreditNote.objects.bulk_create(credit_notes, batch_size=batch_size)
    credit_note_db = _id_map(
        ledger.credit_notes["credit_note_id"].to_numpy(), _database_ids(CreditNote, credit_notes, entity)
    )

    payments = _documents(Payment, "payment", ledger.payments, entity, customer_db, method=PAYMENT_METHOD)
    returned = returned_payments_table(ledger)
    returned_on = dict(
        zip(returned["payment_id"].to_pylist(), returned["returned_on"].to_pylist(), strict=True)
    )
    for payment, payment_id in zip(payments, ledger.payments["payment_id"].to_pylist(), strict=True):
        payment.returned_on = returned_on.get(payment_id)
    Payment.objects.bulk_create(payments, batch_size=batch_size)
    payment_db = _id_map(ledger.payments["payment_id"].to_numpy(), _database_ids(Payment, payments, entity))

    table = ledger.allocations
    payment_ids = pc.fill_null(table["payment_id"], 0).to_numpy()  # generated ids start at 1
    credit_note_ids = pc.fill_null(table["credit_note_id"], 0).to_numpy()
    allocations = [
        Allocation(
            entity=entity,
            invoice_id=int(invoice_id),
            payment_id=int(payment_db[payment]) if payment else None,
            credit_note_id=int(credit_note_db[credit]) if credit else None,
            date=on,
            amount=amount,
        )
        for invoice_id, payment, credit, on, amount in zip(
            invoice_db[table["invoice_id"].to_numpy()],
            payment_ids,
            credit_note_ids,
            _column(table, "date"),
            _column(table, "amount"),
            strict=True,
        )
    ]
    Allocation.objects.bulk_create(allocations, batch_size=batch_size)
    data_version_bump(entity_id=entity.pk, earliest=None)  # bulk inserts send no signals; every date
    orders, rates = _credit_data_load(ledger, entity, customer_db, batch_size)
    return LoadResult(
        entity=entity.name,
        customers=len(customers),
        contacts=len(contacts),
        invoices=len(invoices),
        credit_notes=len(credit_notes),
        payments=len(payments),
        allocations=len(allocations),
        orders=orders,
        exchange_rates=rates,
        returned_payments=len(returned_on),
    )


def _credit_data_load(
    ledger: GeneratedLedger, entity: Entity, customer_db: np.ndarray, batch_size: int
) -> tuple[int, int]:
    """Open and delivered orders, and monthly rates from every currency in use to the entity's."""
    table = orders_table(ledger)
    orders = [
        Order(
            entity=entity,
            customer_id=int(customer_id),
            external_ref=ref,
            order_date=on,
            currency=currency,
            amount=amount,
            status=status,
        )
        for customer_id, ref, on, currency, amount, status in zip(
            customer_db[table["customer_id"].to_numpy()],
            refs("order", table["order_id"]).to_pylist(),
            _column(table, "order_date"),
            _column(table, "currency"),
            _column(table, "amount"),
            _column(table, "status"),
            strict=True,
        )
    ]
    Order.objects.bulk_create(orders, batch_size=batch_size)
    first, last = ledger_first_day(ledger), ledger_last_day(ledger)
    rates: list[ExchangeRate] = []
    if first is not None and last is not None:
        currencies = set(_column(ledger.customers, "currency"))
        table = exchange_rates_table(currencies, base=entity.currency, first=first, last=last)
        known = set(
            ExchangeRate.objects.filter(entity=entity).values_list(
                "rate_date", "base_currency", "quote_currency"
            )
        )
        rates = [
            ExchangeRate(entity=entity, rate_date=on, base_currency=base, quote_currency=quote, rate=rate)
            for on, base, quote, rate in zip(
                _column(table, "rate_date"),
                _column(table, "base_currency"),
                _column(table, "quote_currency"),
                _column(table, "rate"),
                strict=True,
            )
            if (on, base, quote) not in known  # rates the entity imported itself stay as they are
        ]
        ExchangeRate.objects.bulk_create(rates, batch_size=batch_size)
    if orders:
        data_version_bump(entity_id=entity.pk, scope=VersionScope.ORDERS)
    if rates:
        data_version_bump(entity_id=entity.pk, scope=VersionScope.RATES)
    return len(orders), len(rates)
