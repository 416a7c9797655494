"""cashapp 0003_decisions fills the new history of applications made before it: the payment's
ref and the allocations as applied (kept after an unapply deletes the payment)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from relance.cashapp import matching
from relance.cashapp.models import BankLineApplication
from relance.cashapp.services import bank_account_add, bank_statement_import
from relance.core.actors import Actor
from tests.cashapp.samples import Entry, Statement, camt


def _migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


@pytest.mark.django_db(transaction=True)
def test_applications_made_before_keep_their_payment_and_allocations(
    tmp_path: Path, entity, make_customer, make_invoice
) -> None:
    customer = make_customer("C1", name="Dupont SARL")
    make_invoice(customer, "INV-2026-0001", "1405.31", date(2026, 10, 1), date(2026, 10, 31))
    bank_account_add(entity=entity, account="NL77ABNA0574908765", currency="EUR")
    path = tmp_path / "s.xml"
    path.write_bytes(
        camt(
            2, Statement("S-1", entries=(Entry("1405.31", servicer_ref="A-1", unstructured="INV-2026-0001"),))
        )
    )
    bank_statement_import(entity=entity, path=path)
    matching.lines_match(entity=entity, actor=Actor.cli(), confirm=False)
    try:
        _migrate(("cashapp", "0002_applications"))
        _migrate(("cashapp", "0003_decisions"))
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes("cashapp")[0])
    application = BankLineApplication.objects.get()
    assert application.payment_ref == f"BANK-{application.line_id}"
    assert application.allocations == [{"invoice_ref": "INV-2026-0001", "amount": "1405.31"}]
    assert application.how == "match"
