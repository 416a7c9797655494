"""The rows written in Python (relance.workspace.rendering) are the markup the templates wrote."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relance.workspace.rendering import open_items_html, worklist_rows_html
from relance.workspace.selectors import OpenItem, WorklistRow

# The worklist row and the open item row as the templates had them (before rendering.py).
WORKLIST_ROW = """{% load relance %}{% for r in rows %}
  <tr data-href="{% url 'workspace:customer' r.customer_id %}" tabindex="-1">
    <td><input type="checkbox" name="customer" value="{{ r.customer_id }}" aria-label="select {{ r.customer_name }}"></td>
    <td class="num"><strong>{{ r.priority }}</strong></td>
    <td><a href="{% url 'workspace:customer' r.customer_id %}">{{ r.customer_name }}</a> <small>{{ r.customer_ref }}</small></td>
    <td>{{ r.collector|default:"—" }}</td>
    <td class="num">{{ r.overdue_amount|money:r.currency }}</td>
    <td class="num late">{{ r.max_days_past_due }}</td>
    <td class="num">{{ r.days_since_contact|default_if_none:"never" }}</td>
    <td class="num">{{ r.broken_promises }}</td>
    <td>{{ r.risk|default:"—" }}</td>
    <td class="factors">{% for name, points in r.factors.items %}<span class="factor">{{ name }} <b>{{ points|floatformat:1 }}</b></span>{% endfor %}</td>
  </tr>{% endfor %}"""
OPEN_ITEM_ROW = """{% load relance %}{% for i in items %}<tr><td>{{ i.external_ref }}</td><td>{{ i.issue_date|date:'Y-m-d' }}</td><td>{{ i.due_date|date:'Y-m-d' }}</td><td class="num {% if i.days_past_due > 0 %}late{% endif %}">{{ i.days_past_due }}</td><td>{{ i.bucket }}</td><td class="num">{{ i.amount|money:i.currency }}</td><td class="num">{{ i.open_amount|money:i.currency }}</td></tr>
{% endfor %}"""
OPTIONS = """{% load relance %}{% for i in items %}<option value="{{ i.pk }}">{{ i.external_ref }} · {{ i.open_amount|money:i.currency }}</option>{% endfor %}"""


def _same(html: str) -> str:
    return re.sub(r">\s+<", "><", html.strip())


text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
money = st.decimals(min_value=Decimal("-99999"), max_value=Decimal("9999999"), places=4)
rows = st.builds(
    WorklistRow,
    customer_id=st.integers(1, 10**9),
    customer_ref=text,
    customer_name=text,
    collector=text,
    priority=st.floats(-1000, 1000, allow_nan=False).map(lambda v: round(v, 2)),
    currency=st.sampled_from(["EUR", "USD", "JPY", "GBP"]),
    overdue_amount=money,
    max_days_past_due=st.integers(-30, 4000),
    risk=st.sampled_from(["", "low", "high", "<b>"]),
    broken_promises=st.integers(0, 9),
    days_since_contact=st.none() | st.integers(0, 999),
    factors=st.just({}),  # the factors in words: rendering.factor_reasons, tested in test_worklist.py
)
items = st.builds(
    OpenItem,
    pk=st.integers(1, 10**9),
    external_ref=text,
    issue_date=st.dates(date(2000, 1, 1), date(2030, 1, 1)),
    due_date=st.dates(date(2000, 1, 1), date(2030, 1, 1)),
    currency=st.sampled_from(["EUR", "USD", "JPY"]),
    amount=money,
    open_amount=money,
    days_past_due=st.integers(-60, 3000),
    bucket=st.sampled_from(["current", "1-30", "> 90 & more"]),
)


@pytest.mark.parametrize("language", ["en", "fr", "de"])
@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sample=st.lists(rows, max_size=4))
def test_worklist_rows_are_the_template_markup(language, sample):
    with translation.override(language):
        expected = Template(WORKLIST_ROW).render(Context({"rows": sample}))
        assert _same(worklist_rows_html(sample)) == _same(expected)


@pytest.mark.parametrize("language", ["en", "fr"])
@settings(max_examples=40)
@given(sample=st.lists(items, max_size=4))
def test_open_item_rows_and_options_are_the_template_markup(language, sample):
    with translation.override(language):
        rows_html, options = open_items_html(sample)
        assert _same(rows_html) == _same(Template(OPEN_ITEM_ROW).render(Context({"items": sample})))
        assert options == Template(OPTIONS).render(Context({"items": sample}))


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sample=st.lists(rows, min_size=1, max_size=3))
def test_worklist_rows_group_thousands_when_the_setting_says_so(sample):
    from django.test import override_settings

    with override_settings(USE_THOUSAND_SEPARATOR=True), translation.override("en"):
        expected = Template(WORKLIST_ROW).render(Context({"rows": sample}))
        assert _same(worklist_rows_html(sample)) == _same(expected)
