"""The dunning engine's contract: its extra input tables, its output, and ``decide``'s signature.

Bindings (the Django app, Parquet, …) hand ``decide`` a ``DunningTables``: the ledger tables of
``relance.engine.schema`` plus the tables below, all on one Ibis backend, with exactly these
columns (cast where the storage differs; ``conform_dunning`` does it). Empty tables are fine.

Conventions:

* ids are int64; every table keyed by customer uses the ledger's ``customers.customer_id``;
* dates are business dates (``date``), as in the ledger; money is ``decimal(18, 4)`` in the
  currency of the invoices concerned;
* "active at A" for a dated row means ``start <= A`` and (``end`` is null or ``A <= end``).

Stable after its first commit: changes are additive only, announced in a commit message
starting "dunning contract:".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from relance.engine.schema import SCHEMAS as LEDGER_SCHEMAS
from relance.engine.schema import LedgerTables

if TYPE_CHECKING:
    from ibis.backends import BaseBackend

    from relance.engine.dunning.policy import Policy

# A promise to pay: pauses the customer's dunning until promised_date + the policy's grace.
# status: "open" (the engine decides active / kept / broken), "kept" or "cancelled" (set by the
# app; both end the promise), or "broken" (set by the app once the date plus grace passed
# unpaid; the engine reads it as broken: dunning resumes flagged, the worklist counts it).
# Kept / broken / active: the one promise rule, relance.core.promises (docs/dunning.md).
PROMISES = ibis.schema(
    {
        "promise_id": "int64",
        "customer_id": "int64",
        "created_on": "date",
        "promised_date": "date",
        "amount": "decimal(18, 4)",
        "status": "string",
    }
)
PROMISE_INVOICES = ibis.schema({"promise_id": "int64", "invoice_id": "int64"})

# A disputed amount of one invoice is not chased while the dispute is open at A
# (opened_on <= A and (resolved_on is null or A < resolved_on)); the rest of the invoice is.
DISPUTES = ibis.schema(
    {
        "dispute_id": "int64",
        "invoice_id": "int64",
        "customer_id": "int64",
        "amount": "decimal(18, 4)",
        "reason_code": "string",
        "opened_on": "date",
        "resolved_on": "date",
    }
)

# An active payment plan (status "active", starts_on <= A) replaces the customer's dunning by
# reminders of its unpaid installments. status: "active", "completed", "cancelled".
PLANS = ibis.schema(
    {
        "plan_id": "int64",
        "customer_id": "int64",
        "starts_on": "date",
        "status": "string",
        "currency": "string",
    }
)
# An installment is paid when paid_on is set and paid_on <= A.
PLAN_INSTALLMENTS = ibis.schema(
    {
        "plan_id": "int64",
        "sequence": "int64",
        "due_date": "date",
        "amount": "decimal(18, 4)",
        "paid_on": "date",
    }
)

# kind: "hold", "legal" or "do_not_contact"; each stops every action for the customer while
# active (starts_on <= A and (ends_on is null or A <= ends_on)).
HOLDS = ibis.schema(
    {
        "customer_id": "int64",
        "kind": "string",
        "reason": "string",
        "starts_on": "date",
        "ends_on": "date",
    }
)

# The channels each customer can be reached on today (after opt-outs and invalid addresses):
# one row per (customer, channel); a step uses the first of its channels present here.
CUSTOMER_CHANNELS = ibis.schema({"customer_id": "int64", "channel": "string"})

# Past actions (what earlier runs did or a collector logged). is_contact: the customer was
# contacted (a message or a call), as opposed to internal actions (owner notified, hold).
CONTACT_HISTORY = ibis.schema(
    {
        "customer_id": "int64",
        "date": "date",
        "step_key": "string",
        "channel": "string",
        "is_contact": "boolean",
    }
)

# Each invoice's reached steps (a full history works as well as one row per invoice). The
# engine matches ``step_key`` against the steps of the customer's *current* policy and takes
# the most advanced one: an invoice keeps the step key it reached when a policy is edited, and
# a key the policy no longer has is ignored. ``step_index`` is the index in the policy version
# the step was decided with (informational; the engine does not read it).
INVOICE_STEPS = ibis.schema(
    {
        "invoice_id": "int64",
        "step_key": "string",
        "step_index": "int64",
        "reached_on": "date",
    }
)

# The policy of each customer, resolved by the app (segment mapping, entity default). A
# customer without a row is not dunned (reported in ``Decisions.suppressed``, reason
# "no_policy").
CUSTOMER_POLICY = ibis.schema({"customer_id": "int64", "policy_key": "string"})

# Optional per-customer facts for conditions and the worklist: risk "low"/"medium"/"high"/"";
# credit_limit null when none. A customer without a row has risk "" and no limit.
# currency: the customer's (its credit limit's) currency, which credit exposure is converted into;
# null when unknown (exposure then takes the first of the customer's open items' currencies).
# Added for issue 15: a producer written before may leave it out (read as null).
CUSTOMER_PROFILE = ibis.schema(
    {
        "customer_id": "int64",
        "risk": "string",
        "credit_limit": "decimal(18, 4)",
        "currency": "string",
    }
)

# Optional: each customer's time zone (IANA name) and country (ISO 3166 alpha-2), resolved by
# the app (the customer's, else its entity's). Read only by policies with ``business_days`` or
# ``send_window``; a customer without a row (or an unknown zone) is on UTC with no holidays.
CUSTOMER_CALENDAR = ibis.schema({"customer_id": "int64", "timezone": "string", "country": "string"})

# Optional: free customer attributes (the ERP's custom fields) as text, one row per (customer,
# name); step conditions read them as ``custom.NAME``. A customer without the row has "".
CUSTOMER_ATTRIBUTES = ibis.schema({"customer_id": "int64", "name": "string", "value": "string"})

DUNNING_SCHEMAS = {
    "promises": PROMISES,
    "promise_invoices": PROMISE_INVOICES,
    "disputes": DISPUTES,
    "plans": PLANS,
    "plan_installments": PLAN_INSTALLMENTS,
    "holds": HOLDS,
    "customer_channels": CUSTOMER_CHANNELS,
    "contact_history": CONTACT_HISTORY,
    "invoice_steps": INVOICE_STEPS,
    "customer_policy": CUSTOMER_POLICY,
    "customer_profile": CUSTOMER_PROFILE,
    "customer_calendar": CUSTOMER_CALENDAR,
    "customer_attributes": CUSTOMER_ATTRIBUTES,
}
# Tables a binding may leave out (``DunningTables`` then holds None: read as empty).
OPTIONAL_TABLES = ("customer_calendar", "customer_attributes")
ALL_SCHEMAS = {**LEDGER_SCHEMAS, **DUNNING_SCHEMAS}
# Columns added after a table's first release: a producer may leave them out (read as null).
OPTIONAL_COLUMNS = {"customer_profile": ("currency",)}

# --- Credit management's inputs (issue 15). All optional: None (the default) = no rows.

# Orders the ERP sends: ``open`` (ordered, not delivered) and ``delivered`` (not yet invoiced:
# unbilled) count in credit exposure; ``invoiced`` and ``cancelled`` do not.
ORDERS = ibis.schema(
    {
        "order_id": "int64",
        "entity_id": "int64",
        "customer_id": "int64",
        "currency": "string",
        "order_date": "date",
        "amount": "decimal(18, 4)",
        "status": "string",
    }
)
# 1 base = rate quote. The rule (relance.core.rates; in SQL: relance.engine.credit.exposure): the
# latest rate on or before the date, the inverse of a stored pair when only that exists, 1 for
# the same currency, otherwise missing (never a guess).
EXCHANGE_RATES = ibis.schema(
    {
        "rate_date": "date",
        "base_currency": "string",
        "quote_currency": "string",
        "rate": "decimal(18, 8)",
    }
)
# A credit bureau's report: bureau_score 0-100 (higher is safer), recommended_limit in the
# customer's currency (null: none recommended), derogatory_events counted by the bureau.
BUREAU_REPORTS = ibis.schema(
    {
        "customer_id": "int64",
        "reported_on": "date",
        "bureau_score": "float64",
        "recommended_limit": "decimal(18, 4)",
        "derogatory_events": "int64",
    }
)
# A payment returned unpaid (NSF, chargeback), on the day it was returned.
RETURNED_PAYMENTS = ibis.schema(
    {
        "customer_id": "int64",
        "returned_on": "date",
        "amount": "decimal(18, 4)",
    }
)
CREDIT_SCHEMAS = {
    "orders": ORDERS,
    "exchange_rates": EXCHANGE_RATES,
    "bureau_reports": BUREAU_REPORTS,
    "returned_payments": RETURNED_PAYMENTS,
}

# --- Predictions (issue 16). Optional: None = no prediction, and a ``p_late`` condition is false.

# The stored predictions of open invoices, one row per invoice and as-of date (``relance predict``):
# the engine reads, per invoice, the latest as of the run's date, never a later one.
INVOICE_PREDICTIONS = ibis.schema({"invoice_id": "int64", "as_of": "date", "p_late": "float64"})
PREDICTION_SCHEMAS = {"invoice_predictions": INVOICE_PREDICTIONS}
# Every table ``DunningTables`` may hold. ``ALL_SCHEMAS`` lists those every binding produces;
# the credit tables are bound by the credit app when it has them, the predictions by the predict app.
CONTRACT_SCHEMAS = {**ALL_SCHEMAS, **CREDIT_SCHEMAS, **PREDICTION_SCHEMAS}


@dataclass(frozen=True)
class DunningTables:
    """The ledger and the dunning inputs as Ibis tables on one backend."""

    invoices: ir.Table
    credit_notes: ir.Table
    payments: ir.Table
    allocations: ir.Table
    customers: ir.Table
    promises: ir.Table
    promise_invoices: ir.Table
    disputes: ir.Table
    plans: ir.Table
    plan_installments: ir.Table
    holds: ir.Table
    customer_channels: ir.Table
    contact_history: ir.Table
    invoice_steps: ir.Table
    customer_policy: ir.Table
    customer_profile: ir.Table
    customer_calendar: ir.Table | None = None
    customer_attributes: ir.Table | None = None
    orders: ir.Table | None = None
    exchange_rates: ir.Table | None = None
    bureau_reports: ir.Table | None = None
    returned_payments: ir.Table | None = None
    invoice_predictions: ir.Table | None = None

    @property
    def ledger(self) -> LedgerTables:
        return LedgerTables(
            invoices=self.invoices,
            credit_notes=self.credit_notes,
            payments=self.payments,
            allocations=self.allocations,
            customers=self.customers,
        )

    @classmethod
    def unbound(cls) -> DunningTables:
        return cls(**{name: ibis.table(schema, name=name) for name, schema in CONTRACT_SCHEMAS.items()})


# The nested types of the outputs. Lists and records are typed at the boundary, whatever the
# backend (the outputs are built by Arrow once the candidates are fetched): a consumer reads
# ``row["invoice_ids"]`` as a list of ints and ``row["reasons"]`` as a list of dicts, never
# parses text.
REASON = pa.struct([("code", pa.string()), ("detail", pa.string())])  # code: REASON_CODES


def _factor(value: pa.DataType) -> pa.DataType:
    return pa.struct([("value", value), ("points", pa.float64())])


# The worklist priority's factors, in display order: each one's value and the points it adds.
FACTORS = pa.struct(
    [
        ("overdue_amount", _factor(pa.decimal128(18, 4))),
        ("days_past_due", _factor(pa.int64())),
        ("risk", _factor(pa.string())),
        ("broken_promises", _factor(pa.int64())),
        ("days_since_contact", _factor(pa.int64())),  # value null when never contacted
    ]
)

# One row per decision: one action for one customer, covering one or more invoices (grouping:
# at most one "upcoming" and one "overdue" message per customer per run). Returned as a pyarrow
# Table with exactly these columns, in this order, whatever the backend.
DECISION_COLUMNS: dict[str, pa.DataType] = {
    "decision_id": pa.int64(),  # 1.. within this result, ordered by customer then kind
    "customer_id": pa.int64(),
    "entity_id": pa.int64(),
    "currency": pa.string(),
    "policy_key": pa.string(),
    "kind": pa.string(),  # "upcoming", "overdue", "installment" or "internal"
    "step_key": pa.string(),  # the most advanced step now due among the invoices covered
    "step_index": pa.int64(),
    "offset_days": pa.int64(),  # that step's offset (days after due; negative = before due)
    "action": pa.string(),  # message, task, notify_owner, credit_hold, external_collection
    "channel": pa.string(),  # null for internal actions
    # the step's channels in the policy's order of preference (``channel`` is the first the
    # customer can be reached on); installments: email, sms, letter; internal actions: []
    "channels": pa.list_(pa.string()),
    "tone": pa.string(),
    "template_key": pa.string(),
    "invoice_ids": pa.list_(pa.int64()),  # ascending invoice ids ([] for installments)
    "invoice_count": pa.int64(),
    "amount_due": pa.decimal128(18, 4),  # open amount of the invoices covered, disputes excluded
    "max_days_past_due": pa.int64(),
    "broken_promise": pa.bool_(),  # dunning resumed after a broken promise
    "catch_up": pa.bool_(),  # earlier steps were due but skipped (after a gap)
    "reasons": pa.list_(REASON),  # why, in order: step_due first
}

# Per invoice whose step advances in this result: what the app records as the reached step.
INVOICE_STEP_COLUMNS: dict[str, pa.DataType] = {
    "invoice_id": pa.int64(),
    "decision_id": pa.int64(),
    "step_key": pa.string(),
    "step_index": pa.int64(),
    "reached_on": pa.date32(),
}

# Why an invoice or a customer that was due something got nothing today (invoice_id null for
# customer-wide reasons). Codes: see ``relance.engine.dunning.decide.REASON_CODES``.
SUPPRESSED_COLUMNS: dict[str, pa.DataType] = {
    "customer_id": pa.int64(),
    "invoice_id": pa.int64(),
    "reason": pa.string(),
    "detail": pa.string(),
}

# One row per customer with an open overdue amount, highest priority first.
WORKLIST_COLUMNS: dict[str, pa.DataType] = {
    "customer_id": pa.int64(),
    "currency": pa.string(),
    "priority": pa.float64(),
    "overdue_amount": pa.decimal128(18, 4),
    "max_days_past_due": pa.int64(),
    "risk": pa.string(),
    "broken_promises": pa.int64(),
    "days_since_contact": pa.int64(),  # null when never contacted
    "factors": FACTORS,  # each factor's value and its points (they add up to ``priority``)
}


def empty(columns: Mapping[str, pa.DataType]) -> pa.Table:
    return pa.schema(list(columns.items())).empty_table()


@dataclass(frozen=True)
class Decisions:
    """What ``decide`` returns: pyarrow tables with the columns above."""

    as_of: date
    decisions: pa.Table
    invoice_steps: pa.Table
    suppressed: pa.Table
    worklist: pa.Table


class DecideFunction(Protocol):
    def __call__(
        self,
        tables: DunningTables,
        policies: Mapping[str, Policy],
        *,
        as_of: date,
        backend: BaseBackend | None = None,
        run_at: datetime | None = None,
    ) -> Decisions: ...


def conform_dunning(table: ir.Table, name: str) -> ir.Table:
    """``table`` with exactly the contract's columns for ``name``, cast where types differ."""
    schema = CONTRACT_SCHEMAS[name]
    optional = OPTIONAL_COLUMNS.get(name, ())
    missing = [column for column in schema.names if column not in table.columns and column not in optional]
    if missing:
        raise ValueError(f"table {name!r} has no column {missing[0]!r}")
    return table.select(
        *[
            (
                ibis.null(dtype)
                if column not in table.columns
                else table[column]
                if table[column].type() == dtype
                else table[column].cast(dtype)
            ).name(column)
            for column, dtype in schema.items()
        ]
    )
