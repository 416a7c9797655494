"""Customer 360: what is shown, outcomes in two clicks through the owning services, notes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.urls import reverse

from relance.cases.models import ContactLog, Dispute, Promise
from relance.core.actors import SYSTEM, Actor
from relance.ledger.models import Contact


def test_customer_page_shows_everything(ws, client_for):
    from relance.cases.services import promise_add
    from relance.workspace.services import customer_note_add

    Contact.objects.filter(customer=ws.late).update(email_status="bouncing", opt_out_sms=True)
    customer_note_add(actor=Actor.user(ws.ana), customer=ws.late, text="Spoke to AP, invoice approved")
    promise_add(
        actor=SYSTEM,
        customer=ws.late,
        promised_date=ws.today + timedelta(days=3),
        on=ws.today,
        amount=Decimal("100"),
    )
    html = client_for(ws.ana).get(reverse("workspace:customer", args=[ws.late.pk])).content.decode()
    assert "e-mail bouncing" in html and "opted out of sms" in html
    assert "€4,500.00" in html  # open: 4,200 + 300
    assert "90 % used" in html  # 4,500 / 5,000
    assert (
        "INV-L1" in html
        and "INV-L2" in html
        and "INV-L0" not in html.split("Open items")[1].split("</table>")[0]
    )
    assert "<svg" in html and "INV-L0: paid" in html  # the paid invoice in the payment history chart
    timeline = html.split("Timeline")[1]
    assert "Spoke to AP, invoice approved" in timeline and "promise to pay €100.00" in timeline
    assert "Next steps of the policy" in html and "Standard" in html


def test_next_steps_follow_the_policy_offsets(ws):
    from relance.engine.dunning.defaults import default_policies
    from relance.ledger.selectors import customer_open_items
    from relance.workspace.selectors import next_steps

    items = customer_open_items(customer=ws.second, as_of=ws.today)
    policy = default_policies()["standard"]
    # INV-S1 is 20 days past due and has reached no step: the most advanced step due by now, today
    due = [s for s in policy.steps if items[0].due_date + timedelta(days=s.offset_days) <= ws.today]
    steps = next_steps(customer=ws.second, open_items=items, today=ws.today)
    assert (steps[0].step_key, steps[0].on) == (due[-1].key, ws.today)
    # a month earlier nothing was due yet: the first step, on its date
    earlier = items[0].due_date - timedelta(days=30)
    steps = next_steps(customer=ws.second, open_items=items, today=earlier)
    first = policy.steps[0]
    assert (steps[0].step_key, steps[0].on) == (
        first.key,
        items[0].due_date + timedelta(days=first.offset_days),
    )


def test_promise_in_two_clicks_then_next(ws, client_for):
    ana = client_for(ws.ana)
    promised = ws.today + timedelta(days=10)
    response = ana.post(
        reverse("workspace:customer_outcome", args=[ws.late.pk]),
        {"outcome": "promise", "promised_date": promised.isoformat(), "amount": "1000", "then": "next"},
    )
    assert response["Location"] == reverse("workspace:customer_next", args=[ws.late.pk])
    promise = Promise.objects.get(customer=ws.late)
    assert (promise.promised_date, promise.amount, promise.created_by) == (promised, Decimal("1000"), ws.ana)
    log = ContactLog.objects.get(customer=ws.late)
    assert (log.channel, log.on, log.note) == ("call", ws.today, "Promise")


def test_promise_in_the_past_is_refused_and_nothing_is_recorded(ws, client_for):
    response = client_for(ws.ana).post(
        reverse("workspace:customer_outcome", args=[ws.late.pk]),
        {"outcome": "promise", "promised_date": (ws.today - timedelta(days=1)).isoformat(), "note": "typed"},
    )
    assert response.status_code == 400
    assert not Promise.objects.exists() and not ContactLog.objects.exists()
    html = response.content.decode()
    assert "Enter a promised date from today on." in html
    assert f'value="{(ws.today - timedelta(days=1)).isoformat()}"' in html and 'value="typed"' in html


def test_dispute_outcome_opens_a_dispute(ws, client_for):
    invoice = ws.late.invoices.get(external_ref="INV-L1")
    client_for(ws.ana).post(
        reverse("workspace:customer_outcome", args=[ws.late.pk]),
        {"outcome": "dispute", "invoice": invoice.pk, "reason_code": "pricing", "amount": "200"},
    )
    dispute = Dispute.objects.get()
    assert (dispute.invoice, dispute.amount, dispute.reason_code) == (invoice, Decimal("200"), "pricing")


def test_wrong_number_marks_the_phone_invalid(ws, client_for):
    client_for(ws.ana).post(
        reverse("workspace:customer_outcome", args=[ws.late.pk]), {"outcome": "wrong_number"}
    )
    from relance.delivery.models import CallTask

    assert Contact.objects.get(customer=ws.late).phone_status == "invalid"
    assert not ContactLog.objects.exists()  # an attempt: nobody was spoken to, not a contact
    attempt = CallTask.objects.get(customer=ws.late)
    assert (attempt.status, attempt.outcome, attempt.message) == ("done", "wrong_number", None)


def test_call_back_snoozes_until_the_day_before(ws, client_for):
    from relance.workspace.selectors import worklist_for_user

    call_back = ws.today + timedelta(days=3)
    client_for(ws.ana).post(
        reverse("workspace:customer_outcome", args=[ws.late.pk]),
        {"outcome": "call_back", "call_back_on": call_back.isoformat()},
    )
    refs = lambda day: [r.customer_ref for r in worklist_for_user(user=ws.ana, entity=ws.acme, today=day)[1]]  # noqa: E731
    assert "C-LATE" not in refs(ws.today + timedelta(days=2))
    assert "C-LATE" in refs(call_back)
    assert ContactLog.objects.get().note == f"Call back on {call_back}"


def test_outcome_closes_open_call_tasks(ws, client_for):
    from relance.delivery.models import CallTask

    task = CallTask.objects.create(entity=ws.acme, customer=ws.late, due_on=ws.today, assigned_to=ws.ana)
    client_for(ws.ana).post(
        reverse("workspace:customer_outcome", args=[ws.late.pk]), {"outcome": "no_answer"}
    )
    task.refresh_from_db()
    assert (task.status, task.outcome) == ("done", "no_answer") and task.completed_at is not None


def test_behaviour_fragment_has_the_engine_evidence(ws, client_for):
    html = client_for(ws.ana).get(reverse("workspace:customer_behaviour", args=[ws.late.pk])).content.decode()
    assert "new" in html  # one paid invoice: fewer than 3
    assert "invoice" in html.split('class="evidence"')[1]
