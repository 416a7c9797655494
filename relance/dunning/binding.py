"""Bind the dunning engine's contract to the app database, as ``relance.ledger.binding`` does for KPIs.

Every table of ``relance.engine.dunning.contract`` is an unbound Ibis expression over Django's
tables (renamed, never introspected), run on Django's own connection so that ``decide`` sees
the rows of the run's open transaction. Everything is restricted to one entity: a run is per
entity, and policy keys are unique only within an entity.

Derived tables:

* ``customer_policy``: the customer's segment mapping, else the entity's default (empty
  segment); customers with neither get no row (the engine reports them as "no_policy").
* ``customer_channels``: a channel is available when at least one contact of the customer
  has the address for it, has not opted out of it and the address is not invalid or bouncing
  (email → email; phone → sms and phone; postal address → letter and registered_letter).
* ``contact_history``: the actions of earlier runs that were not cancelled or failed, and the contacts
  logged by hand (``ContactLog``, step key "manual").
* ``customer_profile``: the credit limit and the customer's currency; risk is "" until credit scoring exists (issue C9).
* ``customer_calendar``: the customer's time zone and country, else the entity's.
* ``customer_attributes``: ``CustomerAttribute`` rows (conditions ``custom.NAME``).
* ``orders``, ``exchange_rates``, ``returned_payments``: the ledger's orders, the entity's rates
  and its payments returned unpaid, for credit exposure and scoring (the credit app adds its
  bureau reports: ``relance.credit.binding``).
* Tables of apps above this one, handed down at start-up (``relance.dunning.optional_tables.optional_table_register``): the
  stored predictions (``invoice_predictions``, for ``p_late`` conditions) are the predict app's,
  registered in its ``ready``. None registered: the table is None (a ``p_late`` condition is false).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import ibis
import ibis.expr.types as ir
from django.db.models import Field, Model

from relance.cases.models import ContactLog, CustomerHold, Dispute, Installment, PaymentPlan, Promise
from relance.dunning.contacts import NOT_A_CONTACT  # actions that reached nobody: the one home
from relance.dunning.models import CustomerAttribute, DunningAction, InvoiceStep
from relance.dunning.optional_tables import OPTIONAL_MAKERS
from relance.dunning.selectors import policy_assignment
from relance.engine.dunning.contract import ALL_SCHEMAS, CONTRACT_SCHEMAS, DunningTables
from relance.ledger.binding import app_ledger
from relance.ledger.models import (
    NO_SMS_KINDS,
    UNUSABLE_STATUSES,
    Contact,
    Customer,
    Entity,
    ExchangeRate,
    Order,
    Payment,
)

BAD_ADDRESS = UNUSABLE_STATUSES  # ledger.models: the one list of statuses no message goes to


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field), f"{model.__name__}.{name} is not a concrete field"
    return str(field.column)


def _raw(model: type[Model], fields: dict[str, str]) -> ir.Table:
    """``model``'s table with ``fields`` (Django field or column name → Ibis type), columns as stored."""
    columns = {_column(model, name): dtype for name, dtype in fields.items()}
    return ibis.table(columns, name=model._meta.db_table)


def _source(
    model: type[Model], contract_table: str, columns: dict[str, str], *, entity_id: int | None
) -> ir.Table:
    """The Django table as the contract's ``contract_table`` (contract column → Django field)."""
    schema = CONTRACT_SCHEMAS[contract_table]
    fields = {name: schema[contract] for contract, name in columns.items()}
    if entity_id is not None:
        fields["entity"] = "int64"
    raw = _raw(model, fields)
    if entity_id is not None:
        raw = raw.filter(raw[_column(model, "entity")] == entity_id)
    return raw.select(*(raw[_column(model, name)].name(contract) for contract, name in columns.items()))


def _m2m(model: type[Model], field_name: str, contract_table: str, columns: dict[str, str]) -> ir.Table:
    """An auto-created many-to-many table (``promise_id``/``invoice_id``) as a contract table."""
    through = getattr(model, field_name).through
    schema = ALL_SCHEMAS[contract_table]
    raw_columns = {
        through._meta.get_field(name).column: schema[contract] for contract, name in columns.items()
    }
    # Declaring the id too keeps the projection explicit (a select of every declared column in
    # order compiles to SELECT *, which would return the undeclared id).
    raw = ibis.table({"id": "int64", **raw_columns}, name=through._meta.db_table)
    return raw.select(
        *(raw[through._meta.get_field(name).column].name(contract) for contract, name in columns.items())
    )


def _customer_policy(entity_id: int) -> ir.Table:
    """The policy each customer follows, by ``dunning.selectors.PolicyAssignment`` (the one rule):
    its segments are read once and the rule's answer for each becomes a CASE over the segment."""
    customers = _raw(Customer, {"id": "int64", "entity": "int64", "segment": "string"})
    customers = customers.filter(customers[_column(Customer, "entity")] == entity_id)
    segment = customers[_column(Customer, "segment")]
    assignment = policy_assignment(entity_id=entity_id)
    own = [
        (segment == name, key) for name in assignment.by_segment if name and (key := assignment.key_for(name))
    ]
    default = assignment.default_key
    if own:
        policy_key = ibis.cases(*own, else_=ibis.literal(default, type="string"))
    else:
        policy_key = ibis.literal(default, type="string")
    resolved = customers.select(customer_id=customers[_column(Customer, "id")], policy_key=policy_key)
    return resolved.filter(resolved.policy_key.notnull())


def _customer_channels(entity_id: int) -> ir.Table:
    contacts = _raw(
        Contact,
        {
            "customer": "int64",
            "email": "string",
            "phone": "string",
            "postal_address": "string",
            "opt_out_email": "boolean",
            "opt_out_sms": "boolean",
            "opt_out_letter": "boolean",
            "opt_out_phone": "boolean",
            "email_status": "string",
            "phone_status": "string",
            "address_status": "string",
            "phone_kind": "string",
        },
    )
    customers = _raw(Customer, {"id": "int64", "entity": "int64"})
    customers = customers.filter(customers[_column(Customer, "entity")] == entity_id).select(
        _cid=customers[_column(Customer, "id")]
    )
    contacts = contacts.join(customers, contacts[_column(Contact, "customer")] == customers._cid)
    email_ok = (contacts.email != "") & ~contacts.email_status.isin(BAD_ADDRESS)
    phone_ok = (contacts.phone != "") & ~contacts.phone_status.isin(BAD_ADDRESS)
    letter_ok = (contacts.postal_address.strip() != "") & ~contacts.address_status.isin(BAD_ADDRESS)
    available = {
        "email": email_ok & ~contacts.opt_out_email,
        "sms": phone_ok & ~contacts.phone_kind.isin(NO_SMS_KINDS) & ~contacts.opt_out_sms,
        "call": phone_ok & ~contacts.opt_out_phone,
        "letter": letter_ok & ~contacts.opt_out_letter,
        "registered_letter": letter_ok & ~contacts.opt_out_letter,
    }
    parts = [
        contacts.filter(condition).select(customer_id=contacts._cid, channel=ibis.literal(channel))
        for channel, condition in available.items()
    ]
    return ibis.union(*parts, distinct=True)


def _customer_profile(entity_id: int) -> ir.Table:
    customers = _raw(
        Customer, {"id": "int64", "entity": "int64", "credit_limit": "decimal(18, 4)", "currency": "string"}
    )
    customers = customers.filter(customers[_column(Customer, "entity")] == entity_id)
    return customers.select(
        customer_id=customers[_column(Customer, "id")],
        risk=ibis.literal(""),
        credit_limit=customers[_column(Customer, "credit_limit")],
        currency=customers[_column(Customer, "currency")],
    )


def _customer_calendar(entity_id: int) -> ir.Table:
    """Each customer's time zone and country, else its entity's (empty text: none)."""
    customers = _raw(Customer, {"id": "int64", "entity": "int64", "timezone": "string", "country": "string"})
    customers = customers.filter(customers[_column(Customer, "entity")] == entity_id)
    entities = _raw(Entity, {"id": "int64", "timezone": "string", "country": "string"})
    entities = entities.filter(entities[_column(Entity, "id")] == entity_id).select(
        _e_zone=entities.timezone, _e_country=entities.country, _e_one=ibis.literal(1)
    )
    left = customers.mutate(_one=ibis.literal(1))
    joined = left.left_join(entities, left._one == entities._e_one)
    return joined.select(
        customer_id=joined[_column(Customer, "id")],
        timezone=ibis.ifelse(joined.timezone == "", joined._e_zone, joined.timezone),
        country=ibis.ifelse(joined.country == "", joined._e_country, joined.country),
    )


def _contact_history(entity_id: int) -> ir.Table:
    actions = _raw(
        DunningAction,
        {
            "entity": "int64",
            "customer": "int64",
            "on": "date",
            "step_key": "string",
            "channel": "string",
            "is_contact": "boolean",
            "status": "string",
        },
    )
    actions = actions.filter(
        (actions[_column(DunningAction, "entity")] == entity_id) & ~actions.status.isin(NOT_A_CONTACT)
    )
    from_runs = actions.select(
        customer_id=actions[_column(DunningAction, "customer")],
        date=actions[_column(DunningAction, "on")],
        step_key=actions.step_key,
        channel=ibis.ifelse(actions.channel == "", ibis.null("string"), actions.channel),
        is_contact=actions.is_contact,
    )
    logs = _raw(
        ContactLog, {"id": "int64", "entity": "int64", "customer": "int64", "on": "date", "channel": "string"}
    )
    logs = logs.filter(logs[_column(ContactLog, "entity")] == entity_id)
    by_hand = logs.select(
        customer_id=logs[_column(ContactLog, "customer")],
        date=logs[_column(ContactLog, "on")],
        step_key=ibis.literal("manual"),
        channel=logs.channel,
        is_contact=ibis.literal(True),
    )
    return ibis.union(from_runs, by_hand)


def dunning_tables(*, entity: Entity, ledger: Any) -> DunningTables:
    """The contract's tables for ``entity`` over the app database (``ledger``: ``app_ledger()``)."""
    entity_id = entity.pk

    def of_entity(table: ir.Table) -> ir.Table:
        return table.filter(table.entity_id == entity_id)

    base = ledger.tables
    installments = _raw(
        Installment,
        {
            "plan": "int64",
            "sequence": "int64",
            "due_date": "date",
            "amount": "decimal(18, 4)",
            "paid_on": "date",
        },
    )
    plans_of_entity = _raw(PaymentPlan, {"id": "int64", "entity": "int64"})
    plans_of_entity = plans_of_entity.filter(plans_of_entity[_column(PaymentPlan, "entity")] == entity_id)
    installments = installments.join(
        plans_of_entity,
        installments[_column(Installment, "plan")] == plans_of_entity[_column(PaymentPlan, "id")],
    ).select(
        plan_id=installments[_column(Installment, "plan")],
        sequence=installments.sequence,
        due_date=installments.due_date,
        amount=installments.amount,
        paid_on=installments.paid_on,
    )
    return DunningTables(
        invoices=of_entity(base.invoices),
        credit_notes=of_entity(base.credit_notes),
        payments=of_entity(base.payments),
        allocations=of_entity(base.allocations),
        customers=of_entity(base.customers),
        promises=_source(
            Promise,
            "promises",
            {
                "promise_id": "id",
                "customer_id": "customer",
                "created_on": "created_on",
                "promised_date": "promised_date",
                "amount": "amount",
                "status": "status",
            },
            entity_id=entity_id,
        ),
        promise_invoices=_m2m(
            Promise, "invoices", "promise_invoices", {"promise_id": "promise", "invoice_id": "invoice"}
        ),
        disputes=_source(
            Dispute,
            "disputes",
            {
                "dispute_id": "id",
                "invoice_id": "invoice",
                "customer_id": "customer",
                "amount": "amount",
                "reason_code": "reason_code",
                "opened_on": "opened_on",
                "resolved_on": "resolved_on",
            },
            entity_id=entity_id,
        ),
        plans=_source(
            PaymentPlan,
            "plans",
            {
                "plan_id": "id",
                "customer_id": "customer",
                "starts_on": "starts_on",
                "status": "status",
                "currency": "currency",
            },
            entity_id=entity_id,
        ),
        plan_installments=installments,
        holds=_source(
            CustomerHold,
            "holds",
            {
                "customer_id": "customer",
                "kind": "kind",
                "reason": "reason",
                "starts_on": "starts_on",
                "ends_on": "ends_on",
            },
            entity_id=entity_id,
        ),
        customer_channels=_customer_channels(entity_id),
        contact_history=_contact_history(entity_id),
        invoice_steps=_source(
            InvoiceStep,
            "invoice_steps",
            {
                "invoice_id": "invoice",
                "step_key": "step_key",
                "step_index": "step_index",
                "reached_on": "reached_on",
            },
            entity_id=entity_id,
        ),
        customer_policy=_customer_policy(entity_id),
        customer_profile=_customer_profile(entity_id),
        customer_calendar=_customer_calendar(entity_id),
        customer_attributes=_source(
            CustomerAttribute,
            "customer_attributes",
            {"customer_id": "customer", "name": "name", "value": "value"},
            entity_id=entity_id,
        ),
        orders=_source(
            Order,
            "orders",
            {
                "order_id": "id",
                "entity_id": "entity",
                "customer_id": "customer",
                "currency": "currency",
                "order_date": "order_date",
                "amount": "amount",
                "status": "status",
            },
            entity_id=entity_id,
        ),
        exchange_rates=_source(
            ExchangeRate,
            "exchange_rates",
            {
                "rate_date": "rate_date",
                "base_currency": "base_currency",
                "quote_currency": "quote_currency",
                "rate": "rate",
            },
            entity_id=entity_id,
        ),
        returned_payments=_returned_payments(entity_id),
        **{name: maker(entity_id) for name, maker in OPTIONAL_MAKERS.items()},
    )


def _returned_payments(entity_id: int) -> ir.Table:
    """Payments returned unpaid (``Payment.returned_on`` set), on the day they were returned."""
    payments = _raw(
        Payment,
        {"customer": "int64", "entity": "int64", "returned_on": "date", "amount": "decimal(18, 4)"},
    )
    returned = payments.filter(
        payments[_column(Payment, "entity")] == entity_id, payments[_column(Payment, "returned_on")].notnull()
    )
    return returned.select(
        customer_id=returned[_column(Payment, "customer")],
        returned_on=returned[_column(Payment, "returned_on")],
        amount=returned[_column(Payment, "amount")],
    )


def _keep_transaction_open(backend: Any) -> Any:
    """Make Ibis's SQLite ``begin()`` leave the transaction alone.

    Ibis wraps its writes (a temporary table the engine caches, an in-memory table) in
    ``begin()``, which on SQLite COMMITs the connection: on Django's connection that would
    commit the run's transaction halfway (releasing its lock) and break Django's savepoints.
    Here ``begin()`` only hands out a cursor; an error propagates to the run's ``atomic``,
    which rolls everything back. PostgreSQL's ``begin()`` opens a savepoint and is fine.
    """
    if getattr(backend, "name", "") != "sqlite":
        return backend
    connection = backend.con

    @contextlib.contextmanager
    def begin() -> Iterator[Any]:
        cursor = connection.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    backend.begin = begin
    return backend


def app_dunning_tables(*, entity: Entity, using: str = "default") -> tuple[Any, DunningTables]:
    """The Ibis backend on Django's connection ``using`` and the entity's ``DunningTables``."""
    ledger = app_ledger(using=using)
    return _keep_transaction_open(ledger.backend), dunning_tables(entity=entity, ledger=ledger)
