"""CSV export of the back-office lists: formula-safe cells, plain decimals, the page's filters and
scoping, streamed (relance/common/csv_export.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import cast

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from relance.common.csv_export import csv_lines, money, safe_cell
from relance.core.actors import SYSTEM
from relance.core.csvsafe import FORMULA_TRIGGERS
from tests.workspace.conftest import Workspace

pytestmark = pytest.mark.django_db

INJECTIONS = ['=HYPERLINK("http://evil.test","x")', "+1+1", "-2+3", "@SUM(A1)", "\tpad", "\rcmd"]


@pytest.mark.parametrize("text", INJECTIONS)
def test_a_cell_a_spreadsheet_would_run_is_neutralised(text):
    assert safe_cell(text) == "'" + text


@given(st.text())
def test_no_text_cell_ever_starts_a_formula(text):
    cell = str(safe_cell(text))
    assert not cell.startswith(FORMULA_TRIGGERS)
    assert cell.replace("'", "") == text.replace("'", "")  # only apostrophes were added


def test_numbers_stay_numbers_and_money_is_a_plain_decimal():
    assert safe_cell(Decimal("-12.50")) == "-12.50"  # a negative amount is not a formula
    assert safe_cell(7) == 7
    assert safe_cell(date(2024, 6, 30)) == "2024-06-30"
    assert safe_cell(None) == ""
    assert money(Decimal("1234.5000")) == Decimal("1234.50")
    assert str(money(Decimal("0.1234"))) == "0.1234"  # the ledger's 4 decimals are never rounded away
    assert "".join(csv_lines(["amount"], [[money(Decimal("1234.5"))]])).splitlines()[1] == "1234.50"


def _rows(response) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)  # streamed: never the whole list in memory
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    return list(
        csv.DictReader(
            io.StringIO(b"".join(cast(Iterator[bytes], response.streaming_content)).decode("utf-8-sig"))
        )
    )


def test_ledger_text_is_neutralised_in_the_customers_and_invoices_files(ws: Workspace, client_for):
    ws.late.name = '=HYPERLINK("http://evil.test","Late")'
    ws.late.segment = "@risk"
    ws.late.save()
    ws.late.invoices.filter(external_ref="INV-L1").update(po_number="+cmd|'/C calc'!A0")
    client = client_for(ws.manager)

    customers = _rows(client.get(reverse("web:customer_export")))
    late = next(row for row in customers if row["customer_ref"] == "C-LATE")
    assert late["name"] == "'" + ws.late.name and late["segment"] == "'@risk"
    assert late["open_balance"] == "4500.00" and late["currency"] == "EUR"

    invoices = _rows(client.get(reverse("web:invoice_export")))
    l1 = next(row for row in invoices if row["invoice_ref"] == "INV-L1")
    assert l1["po_number"] == "'+cmd|'/C calc'!A0" and l1["customer_name"].startswith("'=")
    assert (l1["currency"], l1["amount"], l1["open_amount"], l1["days_past_due"]) == (
        "EUR",
        "4200.00",
        "4200.00",
        "40",
    )


def test_a_file_has_what_the_page_lists_with_its_filters(ws: Workspace, client_for):
    client = client_for(ws.manager)
    rows = _rows(client.get(reverse("web:invoice_export"), {"q": "INV-L"}))
    assert sorted(row["invoice_ref"] for row in rows) == ["INV-L1", "INV-L2"]  # INV-L0 is paid
    paid = _rows(client.get(reverse("web:invoice_export"), {"state": "paid"}))
    assert [row["invoice_ref"] for row in paid] == ["INV-L0"]
    overdue = _rows(client.get(reverse("web:customer_export"), {"overdue": "1", "currency": "EUR"}))
    assert sum(Decimal(row["overdue_balance"]) for row in overdue) == Decimal("4200") + Decimal(
        "300"
    ) + Decimal("1234.56") + Decimal("900")


def test_a_file_has_only_what_the_user_may_see(ws: Workspace, client_for, sales):
    sam, _, _ = sales
    mine = _rows(client_for(sam).get(reverse("web:customer_export")))
    assert {row["customer_ref"] for row in mine} == {"C-LATE", "C-AHEAD", "C-PAID"}
    invoices = _rows(client_for(sam).get(reverse("web:invoice_export"), {"state": "all"}))
    assert {row["customer_ref"] for row in invoices} == {"C-LATE", "C-AHEAD"}
    globex = _rows(client_for(ws.globex_manager).get(reverse("web:invoice_export")))
    assert {row["invoice_ref"] for row in globex} == {"INV-G1"}  # never another entity's
    assert client_for(sam).get(reverse("delivery:outbox_export")).status_code == 403  # no outbox for sales


def test_worklist_and_queue_files_are_the_user_s(ws: Workspace, client_for):
    from relance.cases.services import dispute_open, promise_add

    promise_add(
        actor=SYSTEM,
        customer=ws.late,
        promised_date=ws.today,
        on=ws.today - timedelta(days=2),
        amount=Decimal("300"),
    )
    promise_add(
        actor=SYSTEM,
        customer=ws.other,
        promised_date=ws.today,
        on=ws.today - timedelta(days=2),
        amount=Decimal("50"),
    )
    dispute_open(
        actor=SYSTEM,
        invoice=ws.other.invoices.get(),
        reason_code="quantity",
        on=ws.today,
        amount=Decimal("120"),
    )

    ana = client_for(ws.ana)
    worklist = _rows(ana.get(reverse("workspace:worklist_export")))
    assert [row["customer_ref"] for row in worklist] == ["C-LATE", "C-SECOND"]  # ana's, by priority
    assert worklist[0]["overdue_amount"] == "4500.00" and "days past due" in worklist[0]["why"]

    manager = client_for(ws.manager)
    assert len(_rows(manager.get(reverse("workspace:worklist_export")))) == 3
    owned = _rows(manager.get(reverse("workspace:worklist_export"), {"collector": ws.bob.pk}))
    assert [row["customer_ref"] for row in owned] == ["C-OTHER"]
    promises = _rows(manager.get(reverse("workspace:promises_export")))
    assert sorted((row["customer_ref"], row["amount"]) for row in promises) == [
        ("C-LATE", "300.00"),
        ("C-OTHER", "50.00"),
    ]
    bobs = _rows(manager.get(reverse("workspace:promises_export"), {"owner": ws.bob.pk}))
    assert [row["customer_ref"] for row in bobs] == ["C-OTHER"]
    disputes = _rows(manager.get(reverse("workspace:disputes_export")))
    assert [(row["invoice_ref"], row["amount"]) for row in disputes] == [("INV-O1", "120.00")]
    assert _rows(manager.get(reverse("workspace:plans_export"))) == []
    globex = _rows(client_for(ws.globex_manager).get(reverse("workspace:promises_export")))
    assert globex == []


def test_the_outbox_file_lists_the_entities_the_user_sees(ws: Workspace, client_for):
    from django.utils import timezone

    from relance.delivery.models import OutboundMessage

    for customer, subject in ((ws.late, "=1+2 reminder"), (ws.globex_customer, "globex")):
        OutboundMessage.objects.create(
            entity=customer.entity,
            customer=customer,
            channel="email",
            template_key="overdue_firm",
            idempotency_key=f"k-{customer.pk}",
            recipient="ap@example.test",
            subject=subject,
            amount_due=Decimal("4500"),
            currency="EUR",
            queued_at=timezone.now(),
            next_attempt_at=timezone.now(),
        )
    rows = _rows(client_for(ws.manager).get(reverse("delivery:outbox_export")))
    assert [(row["customer_ref"], row["subject"], row["amount_due"]) for row in rows] == [
        ("C-LATE", "'=1+2 reminder", "4500.00")
    ]


@pytest.mark.parametrize(
    ("page", "export"),
    [
        ("web:customer_list", "web:customer_export"),
        ("web:invoice_list", "web:invoice_export"),
        ("workspace:worklist", "workspace:worklist_export"),
        ("workspace:promises", "workspace:promises_export"),
        ("workspace:disputes", "workspace:disputes_export"),
        ("workspace:plans", "workspace:plans_export"),
        ("delivery:outbox", "delivery:outbox_export"),
    ],
)
def test_each_list_links_its_file_with_the_current_filters(ws: Workspace, client_for, page, export):
    html = client_for(ws.manager).get(reverse(page), {"q": "late", "page": "1"}).content.decode()
    assert f'href="{reverse(export)}?q=late"' in html and "Download CSV" in html
