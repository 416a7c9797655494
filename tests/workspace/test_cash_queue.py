"""The exception queue of cash application (/w/cash/): what it lists and counts, its filters and
paging, who sees it, and that another entity's line is a 404."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.workspace.cash_scene import bank_line, build_cash_lines

QUEUE = "/w/cash/"


@pytest.fixture
def cash(ws):
    return build_cash_lines(ws)


def _ids(response) -> list[str]:
    import re

    return re.findall(r'<section class="card cash-line[^"]*" id="line-(\d+)"', response.content.decode())


def test_the_queue_lists_unmatched_and_suggested_lines_oldest_first(ws, cash, client_for):
    response = client_for(ws.ana).get(QUEUE)
    assert response.status_code == 200
    # the USD line (40 days), the unmatched (10), the suggested (3); not the applied, debit, reversal
    assert _ids(response) == [str(cash.usd.pk), str(cash.unmatched.pk), str(cash.suggested.pk)]
    text = response.content.decode()
    assert "SECOND BUYER" in text and "Payment invoice S1 thank you" in text
    assert "€1,234.56" in text
    assert "87 %" in text  # the best candidate's confidence
    assert "Second Buyer SARL" in text  # its customer, by name
    assert "the amount equals the open amount of INV-S1" in text
    assert "no open invoice matches the reference, the amount or the payer" in text
    assert "Bank fees debit" not in text and "Reversed booking" not in text
    assert 'data-key="a"' in text  # the top candidate's accept button answers the key a


def test_counts_per_status_follow_the_other_filters(ws, cash, client_for):
    from relance.cashapp.queue import QueueFilters, queue_counts

    counts = queue_counts(entity=ws.acme, filters=QueueFilters(), today=ws.today)
    assert counts == {"unmatched": 2, "suggested": 1, "applied": 1, "open": 3}
    eur = queue_counts(entity=ws.acme, filters=QueueFilters(currency="EUR", status="applied"), today=ws.today)
    assert eur == {"unmatched": 1, "suggested": 1, "applied": 1, "open": 2}
    text = client_for(ws.ana).get(QUEUE + "?currency=EUR").content.decode()
    assert 'Applied <span class="count">1</span>' in text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=applied", ["applied"]),
        ("status=suggested", ["suggested"]),
        ("status=unmatched", ["usd", "unmatched"]),
        ("currency=USD", ["usd"]),
        ("min_amount=100&max_amount=1000", ["unmatched"]),
        ("min_age=5", ["usd", "unmatched"]),
        ("max_age=5", ["suggested"]),
        ("min_age=5&max_age=20", ["unmatched"]),
        ("min_amount=abc", ["usd", "unmatched", "suggested"]),  # not a number: left out
    ],
)
def test_filters(ws, cash, client_for, query, expected):
    response = client_for(ws.manager).get(f"{QUEUE}?{query}")
    assert response.status_code == 200
    assert _ids(response) == [str(getattr(cash, name).pk) for name in expected]


def test_filter_by_account(ws, cash, client_for):
    response = client_for(ws.manager).get(f"{QUEUE}?account={cash.account.pk}")
    assert _ids(response) == [str(cash.unmatched.pk), str(cash.suggested.pk)]


def test_applied_lines_show_what_they_paid_and_the_unapply_form(ws, cash, client_for):
    text = client_for(ws.manager).get(QUEUE + "?status=applied").content.decode()
    assert "Other Account SA" in text and "INV-O1" in text and "by cli:match" in text
    assert reverse("workspace:cash_line_unapply", args=[cash.applied.pk]) in text


def test_paging_25_a_page(ws, cash, client_for):
    from relance.cashapp.models import BankStatement

    statement = BankStatement.objects.get(statement_id="S-1")
    for n in range(30):
        bank_line(statement, f"P-{n}", "10.00", days_ago=0, counterparty_name=f"Payer {n}")
    client = client_for(ws.ana)
    first = client.get(QUEUE)
    assert len(_ids(first)) == 25 and "Page 1 of 2" in first.content.decode()
    second = client.get(QUEUE + "?page=2")
    assert len(_ids(second)) == 8
    assert 'To work (unmatched and suggested) <span class="count">33</span>' in second.content.decode()


def test_the_workspace_navigation_links_the_queue(ws, cash, client_for):
    text = client_for(ws.ana).get("/w/worklist/").content.decode()
    assert f'href="{QUEUE}"' in text and "Cash to apply" in text
    queue = client_for(ws.ana).get(QUEUE).content.decode()
    assert f'<a href="{QUEUE}" aria-current="page">Cash to apply</a>' in queue


def test_another_entitys_lines_are_never_seen_and_a_404(ws, cash, client_for):
    text = client_for(ws.manager).get(QUEUE).content.decode()
    assert "Globex Buyer LLC" not in text
    client = client_for(ws.manager)
    for action in ("accept", "split", "assign", "unapply"):
        url = reverse(f"workspace:cash_line_{action}", args=[cash.globex_line.pk])
        assert client.post(url, {"reason": "x", "customer": "G-1"}).status_code == 404, action
    # a debit, or no line at all, is the same 404
    from relance.cashapp.models import BankLine

    debit = BankLine.objects.get(bank_ref="D-1")
    assert client.post(reverse("workspace:cash_line_accept", args=[debit.pk])).status_code == 404
    assert client.post(reverse("workspace:cash_line_accept", args=[999999])).status_code == 404
    # globex's credit manager sees globex's line only
    globex = client_for(ws.globex_manager).get(QUEUE)
    assert _ids(globex) == [str(cash.globex_line.pk)]


def test_read_only_roles_read_without_forms_and_sales_owners_are_refused(ws, cash, client_for, sales):
    auditor = client_for(ws.auditor)
    response = auditor.get(QUEUE)
    assert response.status_code == 200
    text = response.content.decode()
    assert 'id="read-only"' in text and "<details" not in text and 'data-key="a"' not in text
    url = reverse("workspace:cash_line_unapply", args=[cash.applied.pk])
    assert auditor.post(url, {"reason": "no"}).status_code == 403
    sam = sales[0]
    assert client_for(sam).get(QUEUE).status_code == 403
    assert client_for(sam).post(url, {"reason": "no"}).status_code == 403


def test_a_split_over_the_line_is_refused_with_what_was_typed(ws, cash, client_for):
    url = reverse("workspace:cash_line_split", args=[cash.suggested.pk])
    response = client_for(ws.ana).post(
        url,
        {
            "invoice_0": "INV-S1",
            "amount_0": "1000",
            "invoice_1": "INV-L2",
            "amount_1": "300",
            "back": "currency=EUR",
        },
    )
    assert response.status_code == 400
    text = response.content.decode()
    assert "The amounts add up to €1,300.00, more than the line&#x27;s €1,234.56." in text
    assert 'value="INV-L2"' in text and 'value="300"' in text
    assert f'id="line-{cash.suggested.pk}"' in text
    assert _ids(response) == [str(cash.unmatched.pk), str(cash.suggested.pk)]  # the filters kept


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"invoice_0": "INV-S1"}, "Enter the amount paid on INV-S1."),
        ({"amount_0": "10"}, "Enter the invoice this amount pays."),
        ({}, "Enter at least one invoice and the amount it gets."),
        ({"invoice_0": "INV-S1", "amount_0": "-4"}, "Enter an amount above zero."),
    ],
)
def test_a_split_form_in_error_says_so_by_the_field(ws, cash, client_for, data, field_error):
    url = reverse("workspace:cash_line_split", args=[cash.suggested.pk])
    response = client_for(ws.ana).post(url, data)
    assert response.status_code == 400
    assert field_error in response.content.decode()
    assert 'aria-invalid="true"' in response.content.decode()


def test_assign_needs_one_customer(ws, cash, client_for):
    url = reverse("workspace:cash_line_assign", args=[cash.unmatched.pk])
    client = client_for(ws.ana)
    nothing = client.post(url, {"customer": "nobody at all"})
    assert nothing.status_code == 400
    assert "No customer&#x27;s name or reference has “nobody at all”." in nothing.content.decode()
    several = client.post(url, {"customer": "a"})  # every acme customer has an a
    assert several.status_code == 400
    assert "Several customers match" in several.content.decode()
    globex = client.post(url, {"customer": "G-1"})  # another entity's customer is no customer
    assert globex.status_code == 400


def test_unapply_needs_a_reason(ws, cash, client_for):
    url = reverse("workspace:cash_line_unapply", args=[cash.applied.pk])
    response = client_for(ws.manager).post(url, {"reason": "  ", "back": "status=applied"})
    assert response.status_code == 400
    assert "Say why the line is unapplied" in response.content.decode()


def test_customer_matches_reads_references_and_names(ws):
    from relance.cashapp.queue import customer_matches
    from relance.ledger.models import Customer

    customers = Customer.objects.filter(entity=ws.acme)
    assert customer_matches(customers, "c-second") == [ws.second]
    assert customer_matches(customers, "second buyer") == [ws.second]
    assert customer_matches(customers, "GMBH") == [ws.late]
    assert customer_matches(customers, "Globex") == []
    assert customer_matches(customers, " ") == []


def test_age_is_days_since_booking(ws, cash):
    from relance.cashapp.queue import QueueFilters, queue_lines, queue_page_lines

    lines = queue_lines(entity=ws.acme, filters=QueueFilters(), today=ws.today + timedelta(days=1))
    items = queue_page_lines(lines, entity=ws.acme, today=ws.today + timedelta(days=1))
    assert [item.age for item in items] == [41, 11, 4]
    suggested = items[2]
    assert [c.customer for c in suggested.candidates] == [ws.second, ws.late]
    assert suggested.candidates[0].allocations == (("INV-S1", Decimal("1234.56")),)


# --------------------------------------------------------------------------- the actions (relance.cashapp.decisions)


def _allocations(line) -> dict[str, Decimal]:
    from relance.ledger.models import Allocation

    return dict(
        Allocation.objects.filter(payment__bank_applications__line=line, payment__isnull=False).values_list(
            "invoice__external_ref", "amount"
        )
    )


def test_accept_a_candidate_in_one_click(ws, cash, client_for):
    url = reverse("workspace:cash_line_accept", args=[cash.suggested.pk])
    client = client_for(ws.ana)
    response = client.post(url, {"suggestion": "0", "back": "currency=EUR"})
    assert response.status_code == 302
    assert response["Location"] == f"{QUEUE}?currency=EUR"
    cash.suggested.refresh_from_db()
    assert cash.suggested.status == "applied"
    assert _allocations(cash.suggested) == {"INV-S1": Decimal("1234.56")}
    text = client.get(response["Location"]).content.decode()
    assert "SECOND BUYER: €1,234.56 applied." in text


def test_accept_the_second_candidate(ws, cash, client_for):
    url = reverse("workspace:cash_line_accept", args=[cash.suggested.pk])
    client_for(ws.manager).post(url, {"suggestion": "1"})
    cash.suggested.refresh_from_db()
    assert cash.suggested.status == "applied"
    assert _allocations(cash.suggested) == {"INV-L2": Decimal("300.00")}


def test_accept_refused_by_the_service_says_why(ws, cash, client_for):
    url = reverse("workspace:cash_line_accept", args=[cash.unmatched.pk])  # no suggestion to accept
    response = client_for(ws.ana).post(url, {"suggestion": "0"}, follow=True)
    assert "nothing was applied" in response.content.decode()
    cash.unmatched.refresh_from_db()
    assert cash.unmatched.status == "unmatched"


def test_split_a_line_across_invoices(ws, cash, client_for):
    url = reverse("workspace:cash_line_split", args=[cash.unmatched.pk])
    client = client_for(ws.ana)
    response = client.post(
        url, {"invoice_0": "INV-L1", "amount_0": "100", "invoice_1": "INV-L2", "amount_1": "30.00"}
    )
    assert response.status_code == 302
    cash.unmatched.refresh_from_db()
    assert cash.unmatched.status == "applied"
    assert _allocations(cash.unmatched) == {"INV-L1": Decimal("100"), "INV-L2": Decimal("30")}
    text = client.get(QUEUE).content.decode()
    assert "split across INV-L1, INV-L2; €20.00 kept as unapplied cash" in text


def test_a_split_the_service_refuses_comes_back_by_its_line(ws, cash, client_for):
    url = reverse("workspace:cash_line_split", args=[cash.unmatched.pk])
    response = client_for(ws.ana).post(url, {"invoice_0": "INV-NOPE", "amount_0": "10"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Nothing was done" in text and "INV-NOPE" in text
    cash.unmatched.refresh_from_db()
    assert cash.unmatched.status == "unmatched"


def test_assign_a_line_to_a_customer_by_name(ws, cash, client_for):
    url = reverse("workspace:cash_line_assign", args=[cash.unmatched.pk])
    response = client_for(ws.ana).post(url, {"customer": "second buyer"}, follow=True)
    assert response.status_code == 200
    assert "Unknown Trading Ltd: assigned to Second Buyer SARL (C-SECOND)" in response.content.decode()
    cash.unmatched.refresh_from_db()
    # no open invoice of Second Buyer fits 150.00: applied with no invoice, unapplied cash of theirs
    assert cash.unmatched.status == "applied"
    assert cash.unmatched.applications.get(unapplied_at__isnull=True).customer == ws.second
    assert _allocations(cash.unmatched) == {}


def test_unapply_an_applied_line_with_a_reason(ws, cash, client_for):
    from relance.audit.models import AuditEvent
    from relance.cashapp.models import BankLineApplication

    url = reverse("workspace:cash_line_unapply", args=[cash.applied.pk])
    response = client_for(ws.manager).post(url, {"reason": "paid INV-O1 twice", "back": "status=applied"})
    assert response.status_code == 302
    cash.applied.refresh_from_db()
    assert cash.applied.status in ("suggested", "unmatched")
    application = BankLineApplication.objects.get(line=cash.applied)
    assert application.unapplied_at is not None and application.unapplied_reason == "paid INV-O1 twice"
    assert AuditEvent.objects.filter(object_type="cashapp.bankline", action__contains="unapply").exists()
    assert ws.other.invoices.get(external_ref="INV-O1").allocations.count() == 0


def test_the_page_reads_the_same_number_of_queries_for_3_or_25_lines(ws, cash, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from relance.cashapp.models import BankStatement

    client = client_for(ws.ana)
    client.get(QUEUE)  # the session and entity settled

    def queries(query: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(QUEUE + query).status_code == 200
        return len(captured.captured_queries)

    few, applied = queries(""), queries("?status=applied")
    statement = BankStatement.objects.get(statement_id="S-1")
    for n in range(22):
        bank_line(
            statement,
            f"Q-{n}",
            "10.00",
            status="suggested",
            suggestions=[
                {"allocations": [{"invoice_ref": "INV-L2", "amount": "10.00"}], "customer_ref": "C-LATE"}
            ],
        )
    assert queries("") == few
    assert queries("?status=applied") == applied
