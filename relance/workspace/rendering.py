"""HTML of the workspace's long tables (worklist rows, open items), written in Python.

The Django template engine spends several microseconds on every variable, tag and filter: the
worklist's 100 rows with their factors (about 2,000 nodes, 200 ``{% url %}``) took about 20 ms of
CPU per page, more than everything else together. These functions write the same markup the
templates wrote, with the same formatting (the ``money`` filter, ``floatformat``, Django's
``localize`` for numbers, ``escape``); tests/workspace/test_performance_rendering.py renders the
former template markup and compares.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from html import escape
from typing import Any

from django.conf import settings
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.formats import localize
from django.utils.safestring import SafeString, mark_safe

from relance.core.formatting import code_label
from relance.web.templatetags.relance import money

_PLACEHOLDER = 987654321
CONTACTED_TODAY = ' <span class="status contacted">contacted today</span>'
ON_TIME = ' <span class="status on-time">likely to pay without a chase: skip</span>'


def customer_url_maker() -> Any:
    """``url(customer_id)`` for ``workspace:customer`` with one ``reverse`` instead of one per row."""
    prefix, suffix = reverse("workspace:customer", args=[_PLACEHOLDER]).split(str(_PLACEHOLDER))
    return lambda customer_id: f"{prefix}{int(customer_id)}{suffix}"


def _text(value: Any) -> str:
    """``{{ value }}`` in a template: localized, then escaped (text and plain integers directly:
    ``localize`` leaves them as they are unless thousands are grouped)."""
    if isinstance(value, str):
        return escape(value)
    if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
        return str(value)
    return escape(str(localize(value)))


def _or_dash(value: Any) -> str:
    """``{{ value|default:"—" }}``."""
    return _text(value) if value else "—"


def _factor_words(name: str, value: Any, currency: str) -> str:
    """One of the engine's priority factors (docs/dunning.md) in words."""
    if name == "overdue_amount":
        return f"{money(value, currency)} overdue"
    if name == "days_past_due":
        return f"{value} days past due"
    if name == "risk":
        return f"risk {value}" if value else "no risk rating"
    if name == "broken_promises":
        return f"{value} broken promise{'' if value == 1 else 's'}"
    if name == "days_since_contact":
        return "never contacted" if value is None else f"{value} days since the last contact"
    if name == "expected_late":
        return f"{money(value, currency)} expected late (predicted)"
    if name == "predicted_slip":
        return f"paid {value} days after due (predicted)"
    return code_label(name, capital=False)


def factor_reasons(factors: dict[str, Any], currency: str) -> list[tuple[str, Any]]:
    """``(reason in words, points)`` per factor of a worklist entry, most points first.

    The engine stores ``{name: {"value": …, "points": …}}``; a bare number is the points alone."""
    reasons = []
    for name, detail in factors.items():
        if isinstance(detail, dict):
            reasons.append((_factor_words(name, detail.get("value"), currency), detail.get("points")))
        else:
            reasons.append((code_label(name, capital=False), detail))
    return sorted(reasons, key=lambda reason: -float(reason[1] or 0))


def worklist_rows_html(
    rows: Iterable[Any],
    contacted_today: Collection[int] = (),
    selected: Collection[int] = (),
    predicted: Mapping[int, Any] | None = None,
) -> SafeString:
    """The ``<tr>`` of each ``selectors.WorklistRow`` (keyboard row, checkbox, factors); a
    "contacted today" marker on the customers in ``contacted_today``; the stored prediction's why
    in words (``predicted``: ``selectors.next_action.PredictedWhy`` by customer), with a "likely to
    pay on time" marker a collector may skip."""
    predicted = predicted or {}
    url = customer_url_maker()
    parts = []
    for row in rows:
        link = escape(url(row.customer_id))
        factors = "".join(
            f'<span class="factor">{escape(words)} <b>{floatformat(points, 1)}</b></span>'
            for words, points in factor_reasons(row.factors, row.currency)
        )
        since = "never" if row.days_since_contact is None else _text(row.days_since_contact)
        why = predicted.get(row.customer_id)
        marker = ON_TIME if why is not None and why.on_time else ""
        if why is not None:
            factors += f'<span class="why">{escape(why.text)}</span>'

        parts.append(
            f'<tr data-href="{link}" tabindex="-1">'
            f'<td><input type="checkbox" name="customer" value="{_text(row.customer_id)}" '
            f"{'checked ' if row.customer_id in selected else ''}"
            f'aria-label="select {_text(row.customer_name)}"></td>'
            f'<td class="num"><strong>{_text(row.priority)}</strong></td>'
            f'<td><a href="{link}">{_text(row.customer_name)}</a> <small>{_text(row.customer_ref)}</small>'
            f"{CONTACTED_TODAY if row.customer_id in contacted_today else ''}{marker}</td>"
            f"<td>{_or_dash(row.collector)}</td>"
            f'<td class="num">{escape(money(row.overdue_amount, row.currency))}</td>'
            f'<td class="num late">{_text(row.max_days_past_due)}</td>'
            f'<td class="num">{since}</td>'
            f'<td class="num">{_text(row.broken_promises)}</td>'
            f"<td>{_or_dash(row.risk)}</td>"
            f'<td class="factors">{factors}</td>'
            "</tr>\n"
        )
    return mark_safe("".join(parts))  # every value above is escaped


def open_items_html(items: Iterable[Any]) -> tuple[SafeString, SafeString]:
    """The open items' table rows and the outcome form's ``<option>`` per item (same items)."""
    rows, options = [], []
    for item in items:
        open_amount = escape(money(item.open_amount, item.currency))
        ref = _text(item.external_ref)
        late = "late" if item.days_past_due > 0 else ""
        rows.append(
            f"<tr><td>{ref}</td><td>{item.issue_date.isoformat()}</td><td>{item.due_date.isoformat()}</td>"
            f'<td class="num {late}">{_text(item.days_past_due)}</td><td>{_text(item.bucket)}</td>'
            f'<td class="num">{escape(money(item.amount, item.currency))}</td>'
            f'<td class="num">{open_amount}</td></tr>\n'
        )
        options.append(f'<option value="{_text(item.pk)}">{ref} · {open_amount}</option>')
    return mark_safe("".join(rows)), mark_safe("".join(options))  # escaped above
