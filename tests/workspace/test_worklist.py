"""The worklist: whose customers, in which order, with the factors; snooze, reassign, bulk actions."""

from __future__ import annotations

import re
from datetime import timedelta

from django.urls import reverse

from relance.audit.models import AuditEvent
from relance.delivery.models import OutboundMessage


def _names(html: str, *names: str) -> list[str]:
    """The customers listed (as links), in page order."""
    return sorted(
        (name for name in names if f"{name}</a>" in html), key=lambda name: html.index(f"{name}</a>")
    )


NAMES = ("Late Payer GmbH", "Second Buyer SARL", "Other Account SA", "Globex Buyer LLC")


def test_collector_sees_own_customers_by_priority_with_factors(ws, client_for):
    html = client_for(ws.ana).get(reverse("workspace:worklist")).content.decode()
    assert _names(html, *NAMES) == ["Late Payer GmbH", "Second Buyer SARL"]
    row = html.split("Late Payer GmbH</a>")[1].split("</tr>")[0]
    assert (
        "€4,500.00 overdue <b>45.0</b>" in row
        and "40 days past due <b>20.0</b>" in row
        and "1 broken promise <b>10.0</b>" in row
    )
    assert "<b></b>" not in html and "_" not in row.split('class="factors"')[1]  # words, and points


def test_credit_manager_sees_all_and_filters_by_collector(ws, client_for):
    manager = client_for(ws.manager)
    html = manager.get(reverse("workspace:worklist")).content.decode()
    assert _names(html, *NAMES) == ["Late Payer GmbH", "Second Buyer SARL", "Other Account SA"]
    html = manager.get(reverse("workspace:worklist"), {"collector": ws.bob.pk}).content.decode()
    assert _names(html, *NAMES) == ["Other Account SA"]
    html = manager.get(reverse("workspace:worklist"), {"collector": 0}).content.decode()
    assert _names(html, *NAMES) == []


def test_snooze_hides_for_that_user_only_until_the_date(ws, client_for):
    ana = client_for(ws.ana)
    response = ana.post(
        reverse("workspace:worklist_snooze", args=[ws.late.pk]), {"until": ws.today.isoformat()}
    )
    assert response.status_code == 302
    assert "Late Payer GmbH" not in _names(ana.get(reverse("workspace:worklist")).content.decode(), *NAMES)
    assert "Late Payer GmbH</a>" in client_for(ws.manager).get(reverse("workspace:worklist")).content.decode()
    # back the day after
    from relance.workspace.selectors import worklist_for_user

    _, rows = worklist_for_user(user=ws.ana, entity=ws.acme, today=ws.today + timedelta(days=1))
    assert [row.customer_ref for row in rows][0] == "C-LATE"


def test_snooze_in_the_past_is_refused(ws, client_for):
    ana = client_for(ws.ana)
    yesterday = ws.today - timedelta(days=1)
    response = ana.post(
        reverse("workspace:worklist_snooze", args=[ws.late.pk]), {"until": yesterday.isoformat()}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a day from today on to snooze until." in html and f'value="{yesterday.isoformat()}"' in html
    assert "Late Payer GmbH</a>" in ana.get(reverse("workspace:worklist")).content.decode()


def test_bulk_assign_changes_collector_and_records_audit(ws, client_for):
    manager = client_for(ws.manager)
    response = manager.post(
        reverse("workspace:worklist_bulk"),
        {"customer": [ws.late.pk, ws.second.pk], "action": "assign", "collector": ws.bob.pk},
    )
    assert response.status_code == 302
    ws.late.refresh_from_db()
    ws.second.refresh_from_db()
    assert ws.late.collector == ws.bob and ws.second.collector == ws.bob
    events = AuditEvent.objects.filter(action="reassign", object_type="ledger.customer")
    assert events.count() == 2
    event = events.get(object_id=str(ws.late.pk))
    assert event.before == {"collector": ws.ana.pk} and event.after == {"collector": ws.bob.pk}
    assert event.actor_user == ws.manager
    html = client_for(ws.ana).get(reverse("workspace:worklist")).content.decode()
    assert _names(html, *NAMES) == []


def test_bulk_statement_queues_one_email_per_customer_and_day(ws, client_for):
    ana = client_for(ws.ana)
    data = {"customer": [ws.late.pk, ws.second.pk], "action": "statement", "confirmed": "1"}
    ana.post(reverse("workspace:worklist_bulk"), data)
    ana.post(reverse("workspace:worklist_bulk"), data)
    messages = OutboundMessage.objects.order_by("customer__external_ref")
    assert [(m.customer.external_ref, m.channel, m.recipient) for m in messages] == [
        ("C-LATE", "email", "ap@c-late.test"),
        ("C-SECOND", "email", "ap@c-second.test"),
    ]
    late = messages[0]
    assert late.template_key == "statement" and "INV-L1" in late.body_text and late.status == "queued"


def test_next_customer_follows_the_worklist(ws, client_for):
    ana = client_for(ws.ana)
    response = ana.get(reverse("workspace:customer_next", args=[ws.late.pk]))
    assert response["Location"] == reverse("workspace:customer", args=[ws.second.pk])
    response = ana.get(reverse("workspace:customer_next", args=[ws.second.pk]))
    assert response["Location"] == reverse("workspace:worklist")


def test_the_engines_factors_read_as_words_with_their_points(ws_engine, client_for):
    """The real run's factors (``{"value", "points"}`` per factor): no snake_case, no empty points."""
    html = client_for(ws_engine.manager).get(reverse("workspace:worklist")).content.decode()
    row = html.split("Late Payer GmbH</a>")[1].split("</tr>")[0]
    factors = row.split('class="factors"')[1]
    assert "days past due <b>" in factors and "overdue <b>" in factors and "never contacted" in factors
    assert "<b></b>" not in factors and "days_past_due" not in factors


def _many(ws, count):
    from relance.dunning.models import WorklistEntry
    from relance.ledger.models import Customer

    run = WorklistEntry.objects.filter(run__entity=ws.acme).first().run
    made = Customer.objects.bulk_create(
        Customer(
            entity=ws.acme,
            external_ref=f"C-M{n:03d}",
            name=f"Many {n:03d}",
            currency="USD" if n % 10 == 0 else "EUR",
            segment="retail" if n % 2 else "",
        )
        for n in range(count)
    )
    WorklistEntry.objects.bulk_create(
        WorklistEntry(
            run=run,
            customer=customer,
            currency=customer.currency,
            priority=float(n),
            overdue_amount=n * 10,
            max_days_past_due=n,
            broken_promises=0,
            factors={"days_past_due": {"value": n, "points": float(n)}},
        )
        for n, customer in enumerate(made)
    )


def test_every_row_a_page_at_a_time(ws, client_for):
    _many(ws, 250)
    manager = client_for(ws.manager)
    first = manager.get(reverse("workspace:worklist")).content.decode()
    assert "253 customers" in first and "Page 1 of 3" in first
    third = manager.get(reverse("workspace:worklist"), {"page": 3}).content.decode()
    assert "Page 3 of 3" in third and "Many 000" in third  # the lowest priority, last


def test_sort_by_a_column_and_back(ws, client_for):
    _many(ws, 5)
    manager = client_for(ws.manager)
    by_name = manager.get(reverse("workspace:worklist"), {"sort": "customer"}).content.decode()
    assert _names(by_name, "Late Payer GmbH", "Many 000", "Other Account SA") == [
        "Late Payer GmbH",
        "Many 000",
        "Other Account SA",
    ]
    assert 'aria-sort="ascending"' in by_name and "sort=-customer" in by_name
    reversed_ = manager.get(reverse("workspace:worklist"), {"sort": "-customer"}).content.decode()
    assert _names(reversed_, "Late Payer GmbH", "Many 000", "Other Account SA") == [
        "Other Account SA",
        "Many 000",
        "Late Payer GmbH",
    ]
    by_days = manager.get(reverse("workspace:worklist"), {"sort": "days"}).content.decode()
    assert by_days.index("Late Payer GmbH") < by_days.index("Other Account SA") < by_days.index("Many 004")


def test_filter_by_segment_amount_days_and_currency(ws, client_for):
    _many(ws, 40)
    manager = client_for(ws.manager)

    def refs(**query):
        html = manager.get(reverse("workspace:worklist"), query).content.decode()
        return set(re.findall(r"<small>(C-[A-Z0-9]+)</small>", html))

    assert refs(segment="retail") == {f"C-M{n:03d}" for n in range(1, 40, 2)}
    assert refs(currency="USD") == {"C-M000", "C-M010", "C-M020", "C-M030"}
    assert refs(min_overdue="350", segment="-") == {"C-M036", "C-M038", "C-LATE", "C-SECOND", "C-OTHER"}
    assert refs(min_days="38") == {"C-M038", "C-M039", "C-LATE"}
    assert refs(min_days="38", collector=ws.ana.pk) == {"C-LATE"}
    empty = manager.get(reverse("workspace:worklist"), {"min_days": "9999"}).content.decode()
    assert "No customer matches these filters." in empty
