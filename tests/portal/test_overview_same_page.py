"""The overview read with fixed SQL (``selectors.portal_overview_lists``, ``owed_overview``'s fixed
statements) is byte for byte the page the querysets and the former template gave: a plan with its
installments, promises and disputes beyond the five shown, a child account, two currencies, cash
not yet matched, in two languages; and another customer's link sees none of it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.template import engines

from relance.portal import selectors

pytestmark = pytest.mark.django_db

# relance/portal/templates/portal/overview.html as it was before the fixed SQL (main at 971e0e9):
# the plan's installments read through the ORM, the dispute's invoice through its relation.
FORMER_OVERVIEW = """{% extends "portal/base.html" %}{% load i18n l10n portal_format %}
{% block content %}
<h1>{% translate "Your account" %}</h1>
{% for b in balances %}
<section class="tiles" aria-label="{% blocktranslate with currency=b.currency %}Balance in {{ currency }}{% endblocktranslate %}">
  <div class="tile"><span class="label">{% translate "Balance" %}</span><span class="value">{{ b.balance|money:b.currency }}</span><span class="sub">{% blocktranslate count counter=b.open_count %}{{ counter }} open invoice{% plural %}{{ counter }} open invoices{% endblocktranslate %}</span></div>
  <div class="tile {% if b.overdue %}alert{% endif %}"><span class="label">{% translate "Overdue" %}</span><span class="value">{{ b.overdue|money:b.currency }}</span><span class="sub">{% blocktranslate count counter=b.overdue_count %}{{ counter }} invoice{% plural %}{{ counter }} invoices{% endblocktranslate %}</span></div>
  {% if b.disputed %}<div class="tile"><span class="label">{% translate "Under review" %}</span><span class="value">{{ b.disputed|money:b.currency }}</span><span class="sub">{% translate "not included above" %}</span></div>{% endif %}
  {% if b.unapplied %}<div class="tile"><span class="label">{% translate "Received, not yet matched" %}</span><span class="value">{{ b.unapplied|money:b.currency }}</span><span class="sub">{% translate "already taken off the balance" %}</span></div>{% endif %}
  <div class="tile"><span class="label">{% translate "Next due" %}</span>{% if b.next_due %}<span class="value">{{ b.next_due_amount|money:b.currency }}</span><span class="sub">{{ b.next_due|date:"SHORT_DATE_FORMAT" }}</span>{% else %}<span class="value">—</span>{% endif %}</div>
  {% if b.available_credit is not None %}<div class="tile"><span class="label">{% translate "Available credit" %}</span><span class="value">{{ b.available_credit|money:b.currency }}</span></div>{% endif %}
</section>
{% empty %}
<p class="card">{% translate "Nothing is open on your account. Thank you!" %}</p>
{% endfor %}
{% if balances %}
<div class="actions">
  <a class="button primary" href="{% url 'portal:pay' token %}">{% translate "Pay now" %}</a>
  <a class="button" href="{% url 'portal:promise' token %}">{% translate "Promise a payment date" %}</a>
  <a class="button" href="{% url 'portal:plan' token %}">{% translate "Ask for a payment plan" %}</a>
</div>
{% endif %}
{% if active_plan %}<section class="card"><h2>{% translate "Your payment plan" %}</h2><ul>{% for i in active_plan.installments.all %}<li>{{ i.due_date|date:"SHORT_DATE_FORMAT" }} · {{ i.amount|money:active_plan.currency }} {% if i.paid_on %}✓ {% translate "paid" %}{% endif %}</li>{% endfor %}</ul></section>{% endif %}
{% if open_promises %}<section class="card"><h2>{% translate "Your promises" %}</h2><ul>{% for p in open_promises %}<li>{{ p.amount|money:p.currency }} · {{ p.promised_date|date:"SHORT_DATE_FORMAT" }}</li>{% endfor %}</ul></section>{% endif %}
{% if open_disputes %}<section class="card"><h2>{% translate "Open disputes" %}</h2><ul>{% for d in open_disputes %}<li><a href="{% url 'portal:case' token d.pk %}">{{ d.invoice.external_ref }} · {{ d.amount|money:d.invoice.currency }}</a></li>{% endfor %}</ul></section>{% endif %}
{% if overdue_items %}
<section><h2>{% translate "Overdue invoices" %}</h2>
<ul class="list">{% for i in overdue_items %}<li><a href="{% url 'portal:invoice' token i.invoice_id %}">{{ i.ref }}</a> <span>{{ i.open_amount|money:i.currency }}</span> <span class="muted">{% translate "due" %} {{ i.due_date|date:"SHORT_DATE_FORMAT" }}</span></li>{% endfor %}</ul>
<p><a href="{% url 'portal:items' token %}?state=overdue">{% translate "All overdue invoices" %}</a></p>
</section>
{% endif %}
<p class="downloads"><a href="{% url 'portal:statement_csv' token %}" download>{% translate "Statement (CSV)" %}</a> · <a href="{% url 'portal:statement_pdf' token %}" download>{% translate "Statement (PDF)" %}</a></p>
{% endblock %}
"""


def _former_page(response, link, language: str) -> str:
    """The page as the former view rendered it: the same figures, the lists as querysets."""
    from django.utils import translation

    portal = response.wsgi_request.portal
    summary = selectors.portal_owed(link=link, as_of=portal.today)
    context = {
        "portal": portal,
        "entity": portal.entity,
        "customer": portal.customer,
        "token": portal.token,
        "today": portal.today,
        "languages": settings.LANGUAGES,
        "current_language": portal.language,
        "balances": selectors.portal_overview(link=link, as_of=portal.today, summary=summary),
        "overdue_items": selectors.portal_overdue(summary=summary),
        "active_plan": selectors.portal_active_plan(link=link),
        "open_disputes": selectors.portal_disputes(link=link).filter(status="open")[:5],
        "open_promises": selectors.portal_promises(link=link).filter(status="open")[:5],
    }
    with translation.override(language):
        return engines["django"].from_string(FORMER_OVERVIEW).render(context, request=response.wsgi_request)


@pytest.fixture
def busy_account(ledger, entity, make_invoice, make_payment, today):
    """The parent with a plan (one installment paid), seven open promises, six open disputes (one
    on the child's invoice, one in USD), a resolved one, unmatched cash and a USD invoice."""
    from relance.cases.models import Dispute, Installment, PaymentPlan, Promise

    parent, child = ledger["parent"], ledger["child"]
    day = timedelta(days=1)
    usd = make_invoice(parent, "INV-USD", "700.50", today - 20 * day, today - 2 * day)
    usd.currency = "USD"
    usd.save()
    plan = PaymentPlan.objects.create(
        entity=entity, customer=parent, starts_on=today - 3 * day, currency="EUR"
    )
    for sequence in (2, 1, 3):  # stored out of order: shown by sequence
        Installment.objects.create(
            plan=plan,
            sequence=sequence,
            due_date=today + sequence * 30 * day,
            amount=Decimal("400.0050") if sequence == 1 else Decimal("400"),
            paid_on=today - day if sequence == 1 else None,
        )
    PaymentPlan.objects.create(  # older: not the one shown
        entity=entity, customer=child, starts_on=today - 9 * day, currency="EUR"
    )
    for number in range(7):
        Promise.objects.create(
            entity=entity,
            customer=child if number == 3 else parent,
            created_on=today - (number % 3) * day,
            promised_date=today + (number + 1) * day,
            amount=Decimal("100.10") * (number + 1),
            currency="EUR",
        )
    invoices = [ledger["invoices"]["late"], ledger["invoices"]["soon"], ledger["invoices"]["child"], usd]
    for number in range(6):
        Dispute.objects.create(
            entity=entity,
            customer=invoices[number % 4].customer,
            invoice=invoices[number % 4],
            amount=Decimal("10.25") + number,
            reason_code="quality",
            opened_on=today - (number % 2) * day,
        )
    Dispute.objects.create(
        entity=entity,
        customer=parent,
        invoice=invoices[0],
        amount=Decimal("5"),
        reason_code="quality",
        opened_on=today - 9 * day,
        status="resolved",
        resolved_on=today - 2 * day,
    )
    make_payment(parent, "PAY-OPEN", "33.30", today - day)
    return ledger


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_overview_is_the_former_page(client, url, link, busy_account, language, settings):
    settings.RELANCE_PORTAL_PAGE_CACHE = False
    response = client.get(url(), {"lang": language})
    page = response.content.decode()
    assert page == _former_page(response, link, language)
    assert "✓" in page and "INV-USD" in page  # the lists are there: a paid installment, a USD dispute
    assert page.count("<li>") >= 3 + 5 + 5


def test_no_plan_promise_or_dispute_shows_no_list(client, url, settings):
    settings.RELANCE_PORTAL_PAGE_CACHE = False
    page = client.get(url()).content.decode()
    for heading in ("Your payment plan", "Your promises", "Open disputes"):
        assert heading not in page


def test_another_customers_link_sees_none_of_them(client, busy_account, stranger_link, settings):
    settings.RELANCE_PORTAL_PAGE_CACHE = False
    from django.urls import reverse

    from relance.portal.links import token_for

    page = client.get(reverse("portal:overview", args=[token_for(stranger_link)])).content.decode()
    for heading in ("Your payment plan", "Your promises", "Open disputes"):
        assert heading not in page
