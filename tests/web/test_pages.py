"""Back-office pages: signed-in only, scoped to the user's entities, showing the ledger as of a date."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from relance.ledger import services
from relance.ledger.models import Customer, Invoice

AS_OF = date(2024, 6, 30)


@pytest.fixture
def admin_client(client, db):
    user = get_user_model().objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def ledger(entity, make_customer, make_invoice, make_payment):
    late = make_customer("C-LATE", name="Late Payer GmbH", segment="standard")
    prompt = make_customer("C-OK", name="Prompt SA", segment="key account")
    make_invoice(late, "INV-1", "1000.00", date(2024, 3, 1), date(2024, 3, 31))  # 91 days past due
    make_invoice(late, "INV-2", "500.00", date(2024, 6, 1), date(2024, 7, 1))  # current
    paid = make_invoice(prompt, "INV-3", "200.00", date(2024, 5, 1), date(2024, 5, 31))
    payment = make_payment(prompt, "PAY-1", "200.00", date(2024, 5, 30))
    services.allocation_create(invoice=paid, payment=payment, amount=Decimal("200.00"), on=date(2024, 5, 30))
    return {"late": late, "prompt": prompt}


def test_pages_need_a_login(client, db):
    for name in ["web:dashboard", "web:customer_list", "web:invoice_list"]:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("web:login"))


def test_dashboard_shows_aging_and_kpis(admin_client, ledger):
    response = admin_client.get(reverse("web:dashboard"), {"as_of": AS_OF.isoformat()})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html and "Aging of open invoices on 2024-06-30" in html
    assert "€1,500.00" in html  # open receivables: 1,000 overdue + 500 current
    assert "Late Payer GmbH" in html  # most overdue customers
    assert "Prompt SA" not in html.split("Most overdue customers")[1]


def test_the_old_customer_address_redirects_to_the_customer_360(admin_client, ledger):
    """One customer page: /customers/<id>/ (linked from old bookmarks and e-mails) goes to the 360."""
    late = ledger["late"].pk
    response = admin_client.get(reverse("web:customer_detail", args=[late]), {"as_of": AS_OF.isoformat()})
    assert response.status_code == 302
    assert response["Location"] == reverse("workspace:customer", args=[late])
    html = admin_client.get(response["Location"]).content.decode()
    assert "INV-1" in html and "INV-2" in html


def test_every_back_office_list_links_the_customer_360(admin_client, ledger):
    the_360 = f'href="{reverse("workspace:customer", args=[ledger["late"].pk])}"'
    old = f'href="{reverse("web:customer_detail", args=[ledger["late"].pk])}"'
    for name in ["web:dashboard", "web:customer_list", "web:invoice_list"]:
        html = admin_client.get(reverse(name), {"as_of": AS_OF.isoformat()}).content.decode()
        assert the_360 in html and old not in html, name


def test_a_customer_of_another_entity_is_not_found(client, ledger, make_customer):
    from relance.accounts.services import user_create

    other, _ = services.entity_create_or_update(name="other", currency="EUR")
    stranger = Customer.objects.create(entity=other, external_ref="X", name="Stranger Ltd", currency="EUR")
    client.force_login(user_create(email="cm@acme.test", role="credit_manager", entity_names=["acme"]))
    response = client.get(reverse("web:customer_detail", args=[stranger.pk]), {"entity": "acme"})
    assert response.status_code == 404  # not a redirect that would say the customer exists
    assert client.get(reverse("web:customer_detail", args=[ledger["late"].pk])).status_code == 302


def test_a_user_without_access_sees_no_entity(client, ledger):
    user = get_user_model().objects.create_user("nobody", password="pw")
    client.force_login(user)
    assert client.get(reverse("web:dashboard")).status_code == 404
    assert client.get(reverse("web:customer_detail", args=[ledger["late"].pk])).status_code == 404


def test_invoice_list_filters_by_state(admin_client, ledger):
    def refs(state):
        response = admin_client.get(reverse("web:invoice_list"), {"state": state, "as_of": AS_OF.isoformat()})
        return {ref for ref in ("INV-1", "INV-2", "INV-3") if ref in response.content.decode()}

    assert refs("open") == {"INV-1", "INV-2"}
    assert refs("overdue") == {"INV-1"}
    assert refs("paid") == {"INV-3"}
    assert refs("all") == {"INV-1", "INV-2", "INV-3"}


def test_customer_list_orders_by_overdue_and_searches(admin_client, ledger):
    html = admin_client.get(reverse("web:customer_list"), {"as_of": AS_OF.isoformat()}).content.decode()
    assert html.index("Late Payer GmbH") < html.index("Prompt SA")
    html = admin_client.get(reverse("web:customer_list"), {"q": "prompt"}).content.decode()
    assert "Prompt SA" in html and "Late Payer GmbH" not in html


def test_as_of_in_the_past_ignores_later_payments(admin_client, ledger):
    before_payment = (date(2024, 5, 29)).isoformat()
    html = admin_client.get(
        reverse("web:invoice_list"), {"state": "open", "as_of": before_payment}
    ).content.decode()
    assert "INV-3" in html
    assert Invoice.objects.count() == 3


def test_dashboard_never_mixes_currencies(admin_client, ledger, make_customer, make_invoice):
    dollars = make_customer("C-USD", name="Yankee Corp", currency="USD")
    make_invoice(dollars, "INV-USD", "999.00", date(2024, 1, 1), date(2024, 1, 31))
    html = admin_client.get(reverse("web:dashboard"), {"as_of": AS_OF.isoformat()}).content.decode()
    assert "€1,500.00" in html and "Yankee Corp" not in html and "USD</a>" in html
    html = admin_client.get(
        reverse("web:dashboard"), {"as_of": AS_OF.isoformat(), "currency": "usd"}
    ).content.decode()
    assert "$999.00" in html and "Yankee Corp" in html and "Late Payer GmbH" not in html


def test_customer_balances_never_add_currencies(admin_client, ledger, make_invoice):
    make_invoice(ledger["late"], "INV-USD", "50.00", date(2024, 6, 1), date(2024, 6, 15), currency="USD")
    html = admin_client.get(reverse("web:customer_list"), {"as_of": AS_OF.isoformat()}).content.decode()
    assert "€1,500.00" in html and "€1,550.00" not in html
    html = admin_client.get(reverse("workspace:customer", args=[ledger["late"].pk])).content.decode()
    assert "€1,500.00" in html and "$50.00" in html and "€1,550.00" not in html


def test_chart_axis_labels_fit_the_margin():
    from relance.web.charts import Series, axis_number, line_chart

    assert [axis_number(value) for value in (0, 18.25, 1250, 12_500, 890_246, 1_090_246)] == [
        "0",
        "18",
        "1,250",
        "12.5k",
        "890k",
        "1.09M",
    ]
    svg = line_chart(["Jan", "Feb"], [Series("Collected", [890_246.0, 1_090_246.0], "#000")], title="t")
    ticks = re.findall(r'text-anchor="end" class="axis">([^<]*)</text>', svg)
    assert ticks and all(len(tick) <= 5 for tick in ticks) and any(tick.endswith("M") for tick in ticks)
