"""The worklist: whose customers, in which order, with the factors; snooze, reassign, bulk actions."""

from __future__ import annotations

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
        "overdue_amount <b>45.0</b>" in row
        and "days_past_due <b>20.0</b>" in row
        and "broken_promises <b>10.0</b>" in row
    )


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
        reverse("workspace:worklist_snooze", args=[ws.late.pk]), {"until": yesterday.isoformat()}, follow=True
    )
    assert "expected today" in response.content.decode()
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
