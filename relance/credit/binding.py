"""The engine's tables over the app database for credit: the dunning binding plus bureau reports.

Bureau reports are the credit app's, so they are bound here (the dunning binding, a layer below,
binds the ledger's orders, rates and returned payments). A recommended limit is compared only
when the bureau gave it in the customer's currency: converting it would need the day's rate,
and a guessed limit ratio is worse than an unknown one (the factor's ``missing`` band).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import ibis
import ibis.expr.types as ir

from relance.credit.models import BureauReport
from relance.engine.dunning.contract import DunningTables
from relance.ledger.models import Customer, Entity


def _bureau_reports(entity_id: int) -> ir.Table:
    reports = ibis.table(
        {
            "entity_id": "int64",
            "customer_id": "int64",
            "reported_on": "date",
            "bureau_score": "float64",
            "recommended_limit": "decimal(18, 4)",
            "recommended_currency": "string",
            "derogatory_events": "int64",
        },
        name=BureauReport._meta.db_table,
    )
    customers = ibis.table({"id": "int64", "currency": "string"}, name=Customer._meta.db_table)
    mine = reports.filter(reports.entity_id == entity_id)
    joined = mine.join(customers, mine.customer_id == customers.id)
    same_currency = joined.recommended_currency == joined.currency
    return joined.select(
        customer_id=joined.customer_id,
        reported_on=joined.reported_on,
        bureau_score=joined.bureau_score,
        recommended_limit=ibis.ifelse(same_currency, joined.recommended_limit, ibis.null("decimal(18, 4)")),
        derogatory_events=joined.derogatory_events,
    )


def app_credit_tables(*, entity: Entity) -> tuple[Any, DunningTables]:
    """The Ibis backend on Django's connection and the entity's tables, bureau reports included."""
    from relance.dunning.binding import app_dunning_tables

    backend, tables = app_dunning_tables(entity=entity)
    return backend, dataclasses.replace(tables, bureau_reports=_bureau_reports(entity.pk))
