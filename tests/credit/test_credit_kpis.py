"""Credit KPIs, golden: the numbers of docs/kpis.md's worked example ("Credit KPIs"), by hand."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from relance.credit.models import CreditScore
from relance.credit.selectors.kpis import credit_kpis
from relance.engine.credit.kpis import is_write_off, migration_matrix, utilisation_bucket
from relance.ledger.models import Allocation, CreditNote

AS_OF = date(2026, 9, 30)


def test_buckets_at_their_bounds() -> None:
    assert [utilisation_bucket(Decimal(v)) for v in ("0", "49.99", "50", "79.99", "80", "100", "100.01")] == [
        "0-50",
        "0-50",
        "50-80",
        "50-80",
        "80-100",
        "80-100",
        ">100",
    ]
    assert utilisation_bucket(None) == "none"


def test_what_a_write_off_is() -> None:
    assert is_write_off("Bad debt written off")
    assert is_write_off("WRITE-OFF after insolvency")
    assert is_write_off("Créance irrécouvrable")
    assert not is_write_off("price correction")
    assert not is_write_off("")


def test_the_migration_matrix_counts_new_and_gone() -> None:
    matrix = migration_matrix({1: "A", 2: "C"}, {1: "B", 3: "A"})
    assert matrix["A"]["B"] == 1
    assert matrix["new"]["A"] == 1
    assert matrix["C"]["gone"] == 1
    assert sum(sum(row.values()) for row in matrix.values()) == 3


def _score(entity, customer, day, risk_class, utilisation):
    value = None if utilisation is None else str(utilisation)
    CreditScore.objects.create(
        entity=entity,
        customer=customer,
        as_of=day,
        scorecard_key="standard",
        scorecard_version=1,
        score=50,
        risk_class=risk_class,
        reasons=[{"factor": "utilisation", "value": value, "points": 0, "text": ""}],
    )


@pytest.fixture
def ledger(entity, make_customer, make_invoice, make_payment):
    limit = Decimal("1000")
    a = make_customer("A", credit_limit=limit)
    b = make_customer("B", credit_limit=limit)
    c = make_customer("C", credit_limit=limit)
    d = make_customer("D")
    e = make_customer("E", credit_limit=Decimal("500"))
    f = make_customer("F", credit_limit=limit)  # not scored on the latest day
    g = make_customer("G", credit_limit=limit)  # scored a month before only
    make_invoice(a, "A1", "300", date(2026, 9, 1), date(2026, 10, 1))
    make_invoice(b, "B1", "600", date(2026, 8, 15), date(2026, 9, 14))
    make_invoice(c, "C1", "1000", date(2026, 7, 10), date(2026, 8, 9))
    make_invoice(d, "D1", "2000", date(2026, 9, 10), date(2026, 10, 10))
    make_invoice(e, "E1", "750", date(2026, 8, 1), date(2026, 8, 31))
    make_invoice(f, "F1", "350", date(2026, 6, 20), date(2026, 7, 20))  # open, issued before the period
    paid = make_invoice(g, "G1", "1350", date(2026, 7, 5), date(2026, 8, 4))
    payment = make_payment(g, "PG", "1350", date(2026, 8, 4))
    Allocation.objects.create(
        entity=entity, invoice=paid, payment=payment, date=date(2026, 8, 4), amount=1350
    )
    make_invoice(a, "USD1", "999", date(2026, 9, 1), date(2026, 10, 1), currency="USD")  # another currency
    for ref, day, amount, reason in (
        ("CN1", date(2026, 9, 20), "90", "Bad debt written off"),
        ("CN2", date(2026, 9, 5), "50", "price correction"),
        ("CN3", date(2026, 6, 30), "30", "write-off"),  # before the period
    ):
        CreditNote.objects.create(
            entity=entity,
            customer=e,
            external_ref=ref,
            date=day,
            currency="EUR",
            amount=Decimal(amount),
            reason=reason,
        )
    latest = {a: ("A", 30), b: ("B", 60), c: ("C", 100), d: ("D", None), e: ("E", 150)}
    month_before = {a: ("A", 20), b: ("A", 40), c: ("C", 90), d: ("B", None), e: ("D", 95), g: ("C", 10)}
    mid_month = {a: ("E", 99)}  # the scoring of 15 September: not the migration's start
    for day, scores in ((AS_OF, latest), (date(2026, 8, 31), month_before), (date(2026, 9, 15), mid_month)):
        for customer, (risk_class, utilisation) in scores.items():
            _score(entity, customer, day, risk_class, utilisation)
    return entity


@pytest.mark.django_db
def test_golden_credit_kpis(ledger) -> None:
    kpis = credit_kpis(entity=ledger, as_of=AS_OF)
    data = kpis.to_json()
    # AR: 300 + 600 + 1,000 + 2,000 + 750 + 350 (F, not scored) = 5,000; over the limit: E's 750.
    assert (data["ar_total"], data["ar_over_limit"], data["customers_over_limit"]) == ("5000.00", "750.00", 1)
    assert data["ar_over_limit_share"] == "15.00"
    assert [(row["bucket"], row["customers"], row["ar"]) for row in data["utilisation_distribution"]] == [
        ("0-50", 1, "300.00"),
        ("50-80", 1, "600.00"),
        ("80-100", 1, "1000.00"),  # exactly 100 %: at the limit, not over
        (">100", 1, "750.00"),
        ("none", 1, "2000.00"),
    ]
    assert data["score_distribution"] == {"A": 1, "B": 1, "C": 1, "D": 1, "E": 1}
    assert data["migration_from"] == "2026-08-31"  # 30 days before, not the 15th
    matrix = data["migration"]
    assert (matrix["A"]["A"], matrix["A"]["B"], matrix["C"]["C"], matrix["B"]["D"], matrix["D"]["E"]) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert matrix["C"]["gone"] == 1  # G
    assert data["migration_summary"] == {"downgraded": 3, "upgraded": 0, "unchanged": 2}
    # Period 1 July – 30 September: invoices 300 + 600 + 1,000 + 2,000 + 750 + 1,350 = 6,000;
    # write-offs: CN1 (90); CN2 is a price correction, CN3 before the period.
    assert (data["period_start"], data["credit_sales"], data["write_offs"]) == (
        "2026-07-01",
        "6000.00",
        "90.00",
    )
    assert data["bad_debt_ratio"] == "1.50"


@pytest.mark.django_db
def test_no_scoring_no_sales(entity) -> None:
    data = credit_kpis(entity=entity, as_of=AS_OF).to_json()
    assert (data["scoring_day"], data["ar_over_limit_share"], data["bad_debt_ratio"]) == (None, None, None)
    assert data["migration_summary"] == {"downgraded": 0, "upgraded": 0, "unchanged": 0}


@pytest.mark.django_db
def test_relance_kpi_credit(ledger) -> None:
    out = StringIO()
    call_command("kpi", "credit", "--as-of", "2026-09-30", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert (data["ar_over_limit_share"], data["bad_debt_ratio"]) == ("15.00", "1.50")
    out = StringIO()
    call_command("kpi", "credit", "--as-of", "2026-09-30", stdout=out)
    text = out.getvalue()
    assert "Share of AR over limit" in text and "15.00 %" in text
    assert "Bad-debt ratio" in text and "1.50 %" in text
    assert "over 100 %" in text


@pytest.mark.django_db
def test_the_dashboard_shows_the_credit_section_with_its_tables(ledger, client) -> None:
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("boss", password="x")
    client.force_login(admin)
    page = client.get("/", {"as_of": "2026-09-30"}).content.decode()
    assert 'id="credit-kpis"' in page
    assert 'id="credit-ar-over-limit">15.00 %' in page
    assert 'id="credit-bad-debt">1.50 %' in page
    assert "Open receivables by utilisation of the credit limit" in page
    assert "<caption>Customers per risk class, scoring of 2026-09-30</caption>" in page  # the chart's table
    assert 'id="credit-migration"' in page
    assert "<script" not in page.split('id="credit-kpis"')[1]


@pytest.mark.django_db
def test_no_credit_section_before_any_scoring(entity, client) -> None:
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("boss", password="x")
    client.force_login(admin)
    page = client.get("/", {"as_of": "2026-09-30"}).content.decode()
    assert 'id="credit-kpis"' not in page


@pytest.mark.django_db
def test_a_large_ledgers_page_shows_what_the_command_cached(ledger, client, settings) -> None:
    from django.contrib.auth import get_user_model
    from django.core.cache import cache

    cache.clear()
    settings.RELANCE_DASHBOARD_LIVE_LIMIT = 1
    admin = get_user_model().objects.create_superuser("boss", password="x")
    client.force_login(admin)
    page = client.get("/", {"as_of": "2026-09-30"}).content.decode()
    assert "Run <code>relance kpi credit</code>" in page
    call_command("kpi", "credit", "--as-of", "2026-09-30", stdout=StringIO())
    page = client.get("/", {"as_of": "2026-09-30"}).content.decode()
    assert 'id="credit-ar-over-limit">15.00 %' in page
