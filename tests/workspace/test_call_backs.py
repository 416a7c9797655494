"""Call outcomes: a call back is a dated task on the collector's list; "reached, no commitment"
is a contact; no answer is an attempt, not a contact; contacts can be called and written to."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse

from relance.cases.models import ContactLog
from relance.core.actors import SYSTEM
from relance.delivery.models import CallTask
from relance.dunning.contacts import last_contact_dates, outcome_is_contact


def _outcome(client, customer, **data):
    return client.post(reverse("workspace:customer_outcome", args=[customer.pk]), data)


def test_a_call_back_is_a_task_on_the_collectors_list_from_its_day(ws, client_for):
    ana = client_for(ws.ana)
    day = ws.today + timedelta(days=2)
    response = _outcome(
        ana,
        ws.late,
        outcome="call_back",
        call_back_on=day.isoformat(),
        call_back_at="14:30",
        note="ask for Marie",
    )
    assert response.status_code == 302
    task = CallTask.objects.get(status="open")
    assert (task.customer, task.assigned_to, task.due_on) == (ws.late, ws.ana, day)
    assert task.script == "Call back at 14:30 · ask for Marie" and task.phone == "+33612345678"
    worklist = lambda client: client.get(reverse("workspace:worklist")).content.decode()  # noqa: E731
    assert 'id="call-backs"' not in worklist(ana)  # not before its day


def test_a_call_back_due_or_overdue_shows_first_and_is_done_with_the_next_outcome(ws, client_for):
    from relance.workspace.services import call_back_task_create

    call_back_task_create(actor=SYSTEM, customer=ws.late, on=ws.today, note="ask for Marie", user=ws.ana)
    call_back_task_create(actor=SYSTEM, customer=ws.second, on=ws.today - timedelta(days=3), user=ws.ana)
    call_back_task_create(actor=SYSTEM, customer=ws.other, on=ws.today, user=ws.bob)  # bob's, not ana's
    ana = client_for(ws.ana)
    for page in ("workspace:worklist", "workspace:my_accounts"):
        html = ana.get(reverse(page)).content.decode()
        calls = html.split('id="call-backs"')[1].split("</section>")[0]
        assert "Late Payer GmbH" in calls and "due today" in calls and "ask for Marie" in calls
        assert (
            "Second Buyer SARL" in calls
            and f"overdue since {(ws.today - timedelta(days=3)).isoformat()}" in calls
        )
        assert calls.index("Second Buyer SARL") < calls.index("Late Payer GmbH")  # overdue first
        assert "Other Account SA" not in calls
        assert 'href="tel:+33612345678"' in calls

    _outcome(ana, ws.late, outcome="reached", note="will pay Friday")
    task = CallTask.objects.get(customer=ws.late)
    assert (task.status, task.outcome) == ("done", "reached")
    calls = ana.get(reverse("workspace:worklist")).content.decode().split('id="call-backs"')[1]
    assert "Late Payer GmbH" not in calls.split("</section>")[0]


def test_a_later_call_back_replaces_the_earlier_one(ws, client_for):
    ana = client_for(ws.ana)
    _outcome(ana, ws.late, outcome="call_back", call_back_on=(ws.today + timedelta(days=5)).isoformat())
    _outcome(ana, ws.late, outcome="call_back", call_back_on=(ws.today + timedelta(days=9)).isoformat())
    open_tasks = CallTask.objects.filter(customer=ws.late, status="open")
    assert [task.due_on for task in open_tasks] == [ws.today + timedelta(days=9)]


def test_reached_without_commitment_is_a_contact_and_no_answer_is_not(ws, client_for):
    from relance.compliance.selectors import _calls_and_conversations

    ana = client_for(ws.ana)
    _outcome(ana, ws.second, outcome="no_answer")
    assert last_contact_dates(customer_ids=[ws.second.pk]) == {}
    assert not ContactLog.objects.filter(customer=ws.second).exists()
    calls, conversations = _calls_and_conversations(customer=ws.second, contact=None, exclude_id=None)
    assert len(calls) == 1 and conversations == ()  # a call for the caps, not a conversation

    _outcome(ana, ws.late, outcome="reached", note="spoke to AP")
    assert last_contact_dates(customer_ids=[ws.late.pk, ws.second.pk]) == {ws.late.pk: ws.today}
    assert ContactLog.objects.get(customer=ws.late).note == "Reached, no commitment · spoke to AP"
    worklist = ana.get(reverse("workspace:worklist")).content.decode()
    late_row = worklist.split("Late Payer GmbH</a>")[1].split("</td>")[0]
    second_row = worklist.split("Second Buyer SARL</a>")[1].split("</td>")[0]
    assert "contacted today" in late_row and "contacted today" not in second_row
    page = ana.get(reverse("workspace:customer", args=[ws.late.pk])).content.decode()
    assert "contacted today" in page.split('id="last-contact"')[1].split("</dd>")[0]
    assert outcome_is_contact("reached") and outcome_is_contact("promise")
    assert not outcome_is_contact("no_answer") and not outcome_is_contact("wrong_number")


def test_reached_counts_for_the_engines_cadence(ws):
    """The engine reads the same contacts (the run's actions and the contact logs)."""
    from relance.dunning.binding import dunning_tables
    from relance.ledger.binding import app_ledger
    from relance.workspace.services import OutcomeInput, customer_outcome_record

    customer_outcome_record(
        actor=SYSTEM,
        customer=ws.late,
        data=OutcomeInput(outcome="reached", on=ws.today),
        user=ws.ana,
    )
    customer_outcome_record(
        actor=SYSTEM,
        customer=ws.second,
        data=OutcomeInput(outcome="no_answer", on=ws.today),
        user=ws.ana,
    )
    ledger = app_ledger()
    history = ledger.backend.execute(dunning_tables(entity=ws.acme, ledger=ledger).contact_history)
    by_hand = history[history.step_key == "manual"]
    assert list(by_hand.customer_id) == [ws.late.pk]


def test_contacts_can_be_called_and_written_to(ws, client_for):
    from relance.ledger.models import Contact

    Contact.objects.filter(customer=ws.late).update(phone="06 12 34 56 78")
    ws.late.country = "FR"
    ws.late.save(update_fields=["country"])
    html = client_for(ws.ana).get(reverse("workspace:customer", args=[ws.late.pk])).content.decode()
    contacts = html.split('class="contacts"')[1].split("</ul>")[0]
    assert '<a href="tel:+33612345678" class="contact-phone">+33 6 12 34 56 78</a>' in contacts
    assert '<a href="mailto:ap@c-late.test" class="contact-email">ap@c-late.test</a>' in contacts
