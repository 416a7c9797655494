"""The credit manager's dashboard: KPI snapshots per ledger version, stale notes, filters, scoping."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from relance.core.actors import SYSTEM
from relance.ledger import services
from relance.ledger.models import Customer
from relance.reports import selectors
from relance.reports.models import KpiSnapshot

pytestmark = pytest.mark.django_db
AS_OF = date(2024, 6, 30)
STALE_NOTE = "the ledger changed since"


@pytest.fixture
def manager(entity):
    from relance.accounts.services import user_create

    user = user_create(
        email="cm@example.com", role="credit_manager", entity_names=[entity.name], password="pw pw pw 123"
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def ledger(entity, make_customer, make_invoice, make_payment):
    alice = get_user_model().objects.create_user("alice")
    late = make_customer("C-LATE", name="Late Payer GmbH", segment="standard", collector=alice)
    prompt = make_customer("C-OK", name="Prompt SA", segment="key account")
    make_invoice(late, "INV-1", "1000.00", date(2024, 3, 1), date(2024, 3, 31))
    make_invoice(late, "INV-2", "500.00", date(2024, 6, 1), date(2024, 7, 1))
    make_invoice(prompt, "INV-4", "700.00", date(2024, 5, 1), date(2024, 6, 15))
    paid = make_invoice(prompt, "INV-3", "200.00", date(2024, 5, 1), date(2024, 5, 31))
    payment = make_payment(prompt, "PAY-1", "200.00", date(2024, 6, 3))
    services.allocation_create(invoice=paid, payment=payment, amount=Decimal("200.00"), on=date(2024, 6, 3))
    return {"late": late, "prompt": prompt}


def _page(client: Client, **params: str) -> str:
    response = client.get(reverse("web:dashboard"), {"as_of": AS_OF.isoformat(), **params})
    assert response.status_code == 200
    return response.content.decode()


def test_a_second_load_runs_no_engine(manager, ledger, engine_calls):
    html = _page(manager)
    assert len(engine_calls) == 12  # small ledger: computed live, once per trend point
    assert "€2,200.00" in html  # 1,000 + 500 + 700 open
    again = _page(manager)
    assert len(engine_calls) == 12
    assert again.count("<svg") == html.count("<svg") >= 5
    assert STALE_NOTE not in again


def test_an_added_invoice_invalidates_the_snapshots(manager, ledger, engine_calls, make_invoice):
    _page(manager)
    make_invoice(ledger["prompt"], "INV-9", "50.00", date(2024, 6, 20), date(2024, 7, 20))
    html = _page(manager)
    # Dated June 20: only the as-of point (June 30) is recomputed; the month-ends before it are
    # kept (ADR 0006, "Refinement").
    assert [params.as_of for params in engine_calls[12:]] == [AS_OF]
    assert "€2,250.00" in html and STALE_NOTE not in html


def test_a_large_ledger_shows_the_stale_snapshot_with_a_note(
    manager, ledger, engine_calls, make_invoice, settings
):
    _page(manager)
    settings.RELANCE_DASHBOARD_LIVE_LIMIT = 1  # now "large": the page must not run the engine
    make_invoice(ledger["prompt"], "INV-9", "50.00", date(2024, 6, 20), date(2024, 7, 20))
    html = _page(manager)
    assert len(engine_calls) == 12
    assert "€2,200.00" in html  # the previous snapshot's numbers
    assert STALE_NOTE in html and "relance kpi snapshot" in html
    call_command("kpi", "snapshot", "--as-of", AS_OF.isoformat(), "--quiet")
    fresh = _page(manager)
    assert "€2,250.00" in fresh and STALE_NOTE not in fresh


def test_a_large_ledger_without_snapshots_says_so(manager, ledger, engine_calls, settings):
    settings.RELANCE_DASHBOARD_LIVE_LIMIT = 1
    html = _page(manager)
    assert engine_calls == []
    assert "No figures yet" in html and "relance kpi snapshot" in html


def test_the_numbers_are_relance_kpis(manager, ledger):
    """One definition: the page's snapshot for a date holds exactly what ``relance kpi --json`` prints."""
    _page(manager)
    for day in (AS_OF, date(2024, 5, 31)):
        out = StringIO()
        call_command("kpi", "--as-of", day.isoformat(), "--json", stdout=out)
        cli = json.loads(out.getvalue())
        cli.pop("other_currencies")
        assert KpiSnapshot.objects.get(as_of=day, key=selectors.snapshot_key()).payload == cli


def test_filters_by_segment_and_collector(manager, ledger):
    html = _page(manager, segment="key account")
    assert "segment key account" in html
    assert "€700.00" in html.split("Open receivables")[1][:200]
    assert "Prompt SA" in html.split("Most overdue customers")[1]
    assert "Late Payer GmbH" not in html.split("Most overdue customers")[1]
    by_alice = _page(manager, collector="alice")
    assert "€1,500.00" in by_alice.split("Open receivables")[1][:200]
    nobody = _page(manager, collector="-")
    assert "€700.00" in nobody.split("Open receivables")[1][:200]
    unknown = _page(manager, segment="no such segment")  # ignored: the whole entity
    assert "€2,200.00" in unknown.split("Open receivables")[1][:200]


def test_collected_vs_due_promises_and_disputes(manager, ledger, entity):
    from relance.cases.services import dispute_open, promise_add
    from relance.portal.models import DisputeCase

    promise_add(actor=SYSTEM, customer=ledger["late"], promised_date=AS_OF, on=date(2024, 6, 20))
    dispute = dispute_open(
        actor=SYSTEM,
        invoice=ledger["late"].invoices.get(external_ref="INV-1"),
        reason_code="pricing",
        on=date(2024, 6, 1),
    )
    DisputeCase.objects.create(dispute=dispute, sla_due_on=date(2024, 6, 15))
    html = _page(manager)
    assert 'id="promises-due">1<' in html
    assert 'id="disputes-past-sla">1<' in html
    assert "Cash collected vs. amount that fell due, 2024-06-01 to 2024-06-30" in html
    assert "€200.00" in html and "€700.00" in html  # collected PAY-1; fell due INV-4
    assert "Cash forecast" in html


def test_another_entitys_dashboard_is_out_of_reach(manager, ledger, entity):
    other, _ = services.entity_create_or_update(name="globex", currency="EUR")
    secret = Customer.objects.create(entity=other, external_ref="G1", name="Globex Secret", currency="EUR")
    from relance.ledger.models import Invoice

    Invoice.objects.create(
        entity=other,
        customer=secret,
        external_ref="G-1",
        issue_date=date(2024, 1, 1),
        due_date=date(2024, 1, 31),
        currency="EUR",
        amount=Decimal("99999.00"),
    )
    call_command("kpi", "snapshot", "--entity", "globex", "--as-of", AS_OF.isoformat(), "--quiet")
    html = _page(manager, entity="globex")
    assert "Globex Secret" not in html and "99,999" not in html
    assert "ACME SAS" in html  # the manager's own entity instead
    stranger = get_user_model().objects.create_user("stranger", password="pw")
    client = Client()
    client.force_login(stranger)
    assert client.get(reverse("web:dashboard"), {"entity": "globex"}).status_code == 404


def test_a_large_ledgers_page_is_a_few_queries(
    manager, ledger, engine_calls, settings, django_assert_max_num_queries
):
    call_command("kpi", "snapshot", "--as-of", AS_OF.isoformat(), "--quiet")
    settings.RELANCE_DASHBOARD_LIVE_LIMIT = 1
    with django_assert_max_num_queries(
        23
    ):  # + 1: the credit section asks for the latest scoring; + 1: the latest prediction run;
        # + 1: the last data-quality check (the "Data quality" card)
        html = _page(manager)
    assert len(engine_calls) == 12  # the command's, none from the page
    assert "Late Payer GmbH" in html.split("Most overdue customers")[1]


def test_a_large_ledger_offers_the_currencies_it_has_snapshots_for(manager, ledger, make_invoice, settings):
    make_invoice(ledger["prompt"], "INV-USD", "70.00", date(2024, 6, 1), date(2024, 6, 2), currency="USD")
    call_command("kpi", "snapshot", "--as-of", AS_OF.isoformat(), "--months", "1", "--quiet")
    settings.RELANCE_DASHBOARD_LIVE_LIMIT = 1
    html = _page(manager)
    assert "currency=USD" in html  # offered, from the snapshots
    usd = _page(manager, currency="usd")
    assert "$70.00" in usd.split("Open receivables")[1][:200]


def test_the_cash_forecast_reads_the_stored_predictions_and_shows_what_came_in(manager, ledger, entity):
    from relance.ledger.models import Invoice
    from relance.predict.models import InvoicePrediction, PredictionRun

    assert "No predictions stored yet" in _page(manager)
    # Predictions made on May 31: INV-3 (200.00, paid on June 3 — a Monday) and INV-4 were open.
    run = PredictionRun.objects.create(
        entity=entity, as_of=date(2024, 5, 31), model="survival", trained_rows=9
    )
    for ref, expected in (("INV-3", date(2024, 6, 4)), ("INV-4", date(2024, 6, 20))):
        invoice = Invoice.objects.get(entity=entity, external_ref=ref)
        InvoicePrediction.objects.create(
            run=run,
            entity=entity,
            invoice=invoice,
            as_of=run.as_of,
            currency="EUR",
            open_amount=invoice.amount,
            p_late=0.4,
            expected_pay_date=expected,
            pay_date_p10=expected - (expected - run.as_of) / 2,
            pay_date_p90=expected + (expected - run.as_of),
            drivers=[],
        )
    html = _page(manager)
    assert 'class="chart band"' in html and "No predictions stored yet" not in html
    assert "From the predictions of 2024-05-31" in html
    # The week of June 3 is over on June 30: the 200.00 allocated to INV-3 that week came in.
    assert "Came in" in html and "€200.00" in html
