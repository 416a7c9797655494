"""The `disputes` kind: through `relance import`, the cases app's services, all or nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from relance.audit.models import CaseEvent
from relance.cases.models import Dispute, DisputeReason, DisputeResolution
from relance.ingest.parsing import DISPUTE_REASONS, DISPUTE_RESOLUTIONS
from relance.ledger.selectors import data_versions

pytestmark = pytest.mark.django_db

# I1 (1200.00, issued 2026-01-05), I2 (300.50), I3 (999.99 GBP), I4 (50): tests/ingest/conftest.py
DISPUTES = """invoice_ref,opened_on,reason_code,amount,resolved_on,resolution,note
I1,2026-01-10,pricing,200.00,2026-02-01,credit_note,discount not applied
I2,2026-01-25,quality,,,,
I3,2026-01-12,not_received,999.99,2026-01-20,withdrawn,
"""


def disputes() -> set[tuple]:
    return {
        (d.invoice.external_ref, d.opened_on, d.reason_code, d.amount, d.status, d.resolved_on, d.resolution)
        for d in Dispute.objects.select_related("invoice")
    }


@pytest.fixture
def disputes_loaded(invoices_loaded, write, run_import):
    run = run_import("disputes", write("disputes.csv", DISPUTES))
    assert run.ok, run.stderr + run.error
    return run


def test_the_choices_are_the_cases_apps():
    assert tuple(DisputeReason.values) == DISPUTE_REASONS
    assert tuple(DisputeResolution.values) == DISPUTE_RESOLUTIONS


def test_a_disputes_file_opens_and_resolves_disputes_through_the_services(
    invoices_loaded, write, run_import, entity
):
    versions = data_versions(entity_id=entity.pk)
    run = run_import("disputes", write("disputes.csv", DISPUTES))
    assert run.ok, run.stderr + run.error
    assert run.outcome["created"] == 3
    assert disputes() == {
        ("I1", date(2026, 1, 10), "pricing", Decimal("200.00"), "resolved", date(2026, 2, 1), "credit_note"),
        # no amount: all that was open on the day
        ("I2", date(2026, 1, 25), "quality", Decimal("300.50"), "open", None, ""),
        (
            "I3",
            date(2026, 1, 12),
            "not_received",
            Decimal("999.99"),
            "resolved",
            date(2026, 1, 20),
            "withdrawn",
        ),
    }
    assert Dispute.objects.get(invoice__external_ref="I1").note == "discount not applied"
    # the services' case events (the customer's timeline, audited), as for a dispute opened on a page
    events = sorted(CaseEvent.objects.filter(kind__startswith="dispute").values_list("kind", "actor_label"))
    assert events == [("dispute_opened", "import")] * 3 + [("dispute_resolved", "import")] * 2
    after = data_versions(entity_id=entity.pk)
    # disputes are cases, not ledger rows: the KPI snapshots of the ledger stay valid
    assert after["ledger"] == versions["ledger"] and after["cases"] != versions.get("cases")


def test_reimporting_changes_nothing_and_a_resolution_resolves_the_open_dispute(
    disputes_loaded, write, run_import
):
    before = disputes()
    again = run_import("disputes", write("disputes.csv", DISPUTES))
    assert (again.outcome["created"], again.outcome["updated"], again.outcome["unchanged"]) == (0, 0, 3)
    assert disputes() == before
    resolved = DISPUTES.replace("I2,2026-01-25,quality,,,,", "I2,2026-01-25,quality,,2026-03-01,rejected,")
    run = run_import("disputes", write("disputes.csv", resolved))
    assert (run.outcome["created"], run.outcome["updated"], run.outcome["unchanged"]) == (0, 1, 2)
    i2 = Dispute.objects.get(invoice__external_ref="I2")
    assert (i2.status, i2.resolved_on, i2.resolution) == ("resolved", date(2026, 3, 1), "rejected")


def test_changing_a_recorded_dispute_by_import_is_refused_with_the_recorded_value(
    disputes_loaded, write, run_import
):
    before = disputes()
    path = write(
        "disputes.csv", DISPUTES.replace("I1,2026-01-10,pricing,200.00", "I1,2026-01-10,pricing,250.00")
    )
    run = run_import("disputes", path)
    assert not run.ok
    assert f"{path}:2: amount: expected the amount recorded for this dispute (200.0000)" in run.stderr, (
        run.stderr
    )
    assert disputes() == before


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "I9,2026-02-01,pricing,,,,",
            "invoice_ref: expected an invoice_ref already imported for this entity, found 'I9'",
        ),
        ("I4,2026-02-30,pricing,,,,", "opened_on: expected a date YYYY-MM-DD, found '2026-02-30'"),
        ("I4,2026-02-03,haggling,,,,", "reason_code: expected one of pricing, quantity, quality"),
        ("I4,2026-02-03,,,,,", "reason_code: expected a value (required)"),
        ("I4,2026-02-03,pricing,-5,,,", "amount: expected a positive amount"),
        (
            "I4,2026-02-03,pricing,,2026-02-01,rejected,",
            "resolved_on: expected a resolution date on or after opened_on 2026-02-03, found '2026-02-01'",
        ),
        (
            "I4,2026-02-03,pricing,,2026-02-05,,",
            "resolution: expected a value (required) when resolved_on is given",
        ),
        (
            "I4,2026-02-03,pricing,,,rejected,",
            "resolved_on: expected a value (required) when resolution is given",
        ),
        # the service's rule: no more than is open and not disputed on the day
        (
            "I4,2026-02-03,pricing,60.00,,,",
            "amount: expected invoice I4 has 50.0000 open and not already disputed on 2026-02-03; cannot dispute 60.00",
        ),
        (
            "I2,2026-01-25,quality,,,,",
            "invoice_ref: expected a ref used only once in the file (it is already on line 3)",
        ),
    ],
)
def test_a_bad_line_rejects_the_whole_file_naming_file_line_and_field(
    invoices_loaded, write, run_import, row, message
):
    path = write("disputes.csv", DISPUTES + row + "\n")
    run = run_import("disputes", path)
    assert not run.ok
    assert f"{path}:5: {message}" in run.stderr, run.stderr
    assert not Dispute.objects.exists()
    assert not CaseEvent.objects.filter(kind__startswith="dispute").exists()


def test_a_mapping_keeps_only_the_flagged_rows_of_a_file_of_every_invoice(invoices_loaded, write, run_import):
    source = write(
        "ar.csv",
        "Invoice,Date,Disputed,Settled\n"
        "I1,01/05/2026,No,02/04/2026\n"
        "I2,01/20/2026, yes ,03/01/2026\n"
        "I4,02/01/2026,Yes,\n",
    )
    mapping = write(
        "mapping.yaml",
        "date_format: '%m/%d/%Y'\n"
        "only_rows_where: {Disputed: 'Yes'}\n"
        "columns: {invoice_ref: Invoice, opened_on: Date}\n"
        "constants: {reason_code: other}\n",
    )
    run = run_import("disputes", source, "--mapping", str(mapping))
    assert run.ok, run.stderr + run.error
    assert run.outcome["skipped_rows"] == 1
    assert {(ref, on) for ref, on, *_ in disputes()} == {("I2", date(2026, 1, 20)), ("I4", date(2026, 2, 1))}
