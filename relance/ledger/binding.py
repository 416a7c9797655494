"""Bind the engine to the app database: Django's ledger tables renamed into the engine schema.

Used by the KPIs (``reports.selectors``) and the dunning binding (``dunning.binding``): it lives
with the ledger it reads, below both.

The engine runs on Django's own database connection (``ibis.<backend>.from_connection``) rather
than on a second connection built from ``settings.DATABASES``: it then reads exactly what the
request or command sees, including rows of a transaction still open (the test suite, an
import being checked), and an in-memory SQLite database works too.

Tables are referenced without introspection (Ibis's SQLite schema lookup would COMMIT the
open transaction) and mapped by select/rename. SQLite stores Django dates as TEXT
``YYYY-MM-DD`` and decimals with NUMERIC affinity (an INTEGER or a REAL): the engine compares
dates with ISO literals and sums money as rounded integer units, so both read correctly with
no cast; the test suite checks the golden numbers through Django's storage on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Field, Model

from relance.engine.backends import BoundLedger
from relance.engine.schema import SCHEMAS, LedgerTables
from relance.ledger.models import Allocation, CreditNote, Customer, Invoice, Payment

ERROR_VENDOR = "the KPI engine runs on SQLite or PostgreSQL app databases, not {vendor}"

# engine column → Django field name, per engine table
MAPPING: dict[str, tuple[type[Model], dict[str, str]]] = {
    "invoices": (
        Invoice,
        {
            "invoice_id": "id",
            "entity_id": "entity",
            "customer_id": "customer",
            "currency": "currency",
            "issue_date": "issue_date",
            "due_date": "due_date",
            "amount": "amount",
            "status": "status",
            "voided_on": "voided_on",
        },
    ),
    "credit_notes": (
        CreditNote,
        {
            "credit_note_id": "id",
            "entity_id": "entity",
            "customer_id": "customer",
            "currency": "currency",
            "date": "date",
            "amount": "amount",
        },
    ),
    "payments": (
        Payment,
        {
            "payment_id": "id",
            "entity_id": "entity",
            "customer_id": "customer",
            "currency": "currency",
            "date": "date",
            "amount": "amount",
        },
    ),
    "allocations": (
        Allocation,
        {
            "invoice_id": "invoice",
            "entity_id": "entity",
            "payment_id": "payment",
            "credit_note_id": "credit_note",
            "date": "date",
            "amount": "amount",
        },
    ),
}


def _column(model: type[Model], name: str) -> str:
    """The database column of ``model.name`` (``customer`` → ``customer_id``)."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field), f"{model.__name__}.{name} is not a concrete field"
    return str(field.column)


def _source(model: type[Model], columns: dict[str, str], engine_table: str) -> ir.Table:
    """The Django table as an unbound Ibis table, its columns already named as the engine's."""
    schema = SCHEMAS[engine_table]
    fields = {_column(model, name): engine for engine, name in columns.items()}
    raw = ibis.table({column: schema[engine] for column, engine in fields.items()}, name=model._meta.db_table)
    return raw.select(*(raw[column].name(engine) for column, engine in fields.items()))


def _customers() -> ir.Table:
    """Customers with ``collector`` = the collector's username ('' when none): one small join."""
    user_model = get_user_model()
    raw = ibis.table(
        {
            _column(Customer, "id"): "int64",
            _column(Customer, "entity"): "int64",
            _column(Customer, "external_ref"): "string",
            _column(Customer, "name"): "string",
            _column(Customer, "parent"): "int64",
            _column(Customer, "segment"): "string",
            _column(Customer, "collector"): "int64",
            _column(Customer, "payment_terms_days"): "int64",
        },
        name=Customer._meta.db_table,
    )
    user_id = _column(user_model, user_model._meta.pk.name)
    username = _column(user_model, user_model.USERNAME_FIELD)
    users = ibis.table({user_id: "int64", username: "string"}, name=user_model._meta.db_table)
    users = users.select(_user_id=users[user_id], _username=users[username])
    joined = raw.left_join(users, raw[_column(Customer, "collector")] == users._user_id)
    return joined.select(
        customer_id=joined[_column(Customer, "id")],
        entity_id=joined[_column(Customer, "entity")],
        external_ref=joined[_column(Customer, "external_ref")],
        name=joined[_column(Customer, "name")],
        parent_id=joined[_column(Customer, "parent")],
        segment=joined[_column(Customer, "segment")],
        collector=joined._username.fill_null(""),
        payment_terms_days=joined[_column(Customer, "payment_terms_days")],
    )


def app_ledger(*, using: str = "default") -> BoundLedger:
    """The ledger of the app database as engine tables, run on Django's connection ``using``.

    The tables are unbound expressions: pass ``backend`` to ``compute_kpis`` (``BoundLedger``
    carries both).
    """
    tables: dict[str, ir.Table] = {
        name: _source(model, columns, name) for name, (model, columns) in MAPPING.items()
    }
    tables["customers"] = _customers()
    return BoundLedger(app_backend(using=using), LedgerTables(**tables))


def app_backend(*, using: str = "default") -> Any:
    """An Ibis backend sharing Django's connection (and so its open transaction)."""
    connection = connections[using]
    connection.ensure_connection()
    raw = connection.connection
    if connection.vendor == "sqlite":
        backend = ibis.sqlite.from_connection(raw)
        # Ibis turns on case-sensitive LIKE; Django's SQLite lookups rely on the default.
        raw.execute("PRAGMA case_sensitive_like = OFF")
        return backend
    if connection.vendor == "postgresql":
        return ibis.postgres.from_connection(raw)
    raise ValueError(ERROR_VENDOR.format(vendor=connection.vendor))
