"""Right when it leaves: the morning run decides, the facts change, then the message is sent.

Each test goes through the real pieces: ``relance run`` (the engine decides and the outbox is
filled with rendered messages), a change made the way a collector or an import makes it
(payment, promise, dispute, plan), then the delivery worker's pass to a real SMTP server on
loopback; then we read what arrived (or that nothing did) and what the outbox, the action and
the next run say.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from relance.delivery import worker
from relance.delivery.models import DeliveryEvent, MessageStatus, OutboundMessage
from relance.dunning.models import DunningAction, InvoiceStep
from tests.delivery.conftest import smtp_server, smtp_settings  # noqa: F401 (fixtures)
from tests.dunning.conftest import command, decided

pytestmark = pytest.mark.django_db

# The run is today's, and messages leave now: the facts are read on the entity's today.
TODAY = datetime.now(UTC).date()
RUN_DAY = TODAY.isoformat()
DUE = (TODAY - timedelta(days=1)).isoformat()
LATER = (TODAY + timedelta(days=9)).isoformat()
NEXT_DAYS = ((TODAY + timedelta(days=1)).isoformat(),)


@pytest.fixture(autouse=True)
def any_hour(entity):
    """Contact rules that allow every hour and weekday: these tests are about what is true."""
    from relance.compliance.selectors import caches_clear
    from relance.compliance.services import compliance_settings_update

    compliance_settings_update(entity=entity, quiet_hours_channels=[], allowed_weekdays=list(range(7)))
    caches_clear()


@pytest.fixture
def queued(scenario, smtp_settings):  # noqa: F811
    """C1 owes 1,000.00 EUR on F1, one day past due: the run queues reminder_1 by e-mail."""
    scenario.customer("C1")
    scenario.invoice("C1", "F1", "1000.00", due=DUE)
    assert decided(scenario.run(RUN_DAY)) == [("C1", "message", "reminder_1", "email", "F1", "1000")]
    message = OutboundMessage.objects.get()
    assert message.status == MessageStatus.QUEUED and message.amount_due == Decimal("1000")
    return scenario


def send() -> worker.PassReport:
    return worker.send_pass(worker_id="test")


def only_message() -> OutboundMessage:
    return OutboundMessage.objects.get()


def assert_cancelled(smtp_server, code: str, words: str) -> OutboundMessage:  # noqa: F811
    report = send()
    message = only_message()
    assert report.cancelled == 1 and report.sent == 0
    assert smtp_server.received == []
    assert message.status == MessageStatus.CANCELLED and words in message.last_error
    event = DeliveryEvent.objects.filter(message=message, kind="cancelled").get()
    assert event.detail["code"] == code and words in event.detail["reason"]
    assert message.action_id is not None
    action = DunningAction.objects.get(pk=message.action_id)
    assert action.status == "cancelled"
    assert not InvoiceStep.objects.filter(action=action).exists()  # the step was never reached
    return message


def test_unchanged_facts_send_the_message_and_the_action_becomes_sent(queued, smtp_server):  # noqa: F811
    assert send().sent == 1
    [received] = smtp_server.received
    assert "1,000.00" in received.email.get_body(("plain",)).get_content()
    assert DunningAction.objects.get().status == "sent"


def test_a_payment_imported_after_the_run_cancels_the_reminder(queued, smtp_server):  # noqa: F811
    queued.pay("C1", "P1", "F1", "1000.00", on=RUN_DAY)
    message = assert_cancelled(smtp_server, "paid", "paid or settled")
    out = command("outbox", "show", str(message.pk))
    assert "cancelled" in out and "paid or settled" in out


def test_a_part_payment_re_renders_the_message_with_what_is_owed_now(queued, smtp_server):  # noqa: F811
    queued.pay("C1", "P1", "F1", "300.00", on=RUN_DAY)
    report = send()
    assert report.sent == 1 and report.rerendered == 1
    message = only_message()
    assert message.amount_due == Decimal("700")
    text = smtp_server.received[0].email.get_body(("plain",)).get_content()
    assert "700.00" in text and "1,000.00" not in text
    assert DeliveryEvent.objects.filter(message=message, kind="rerendered").exists()


def test_a_promise_recorded_after_the_run_cancels_the_reminder(queued, smtp_server):  # noqa: F811
    command("promise", "add", "--customer", "C1", "--date", LATER, "--on", RUN_DAY)
    assert_cancelled(smtp_server, "promise_active", "promise to pay")


def test_a_dispute_of_everything_cancels_the_reminder(queued, smtp_server):  # noqa: F811
    command("dispute", "open", "--invoice", "F1", "--amount", "1000", "--reason", "quality", "--on", RUN_DAY)
    assert_cancelled(smtp_server, "disputed", "under dispute")


def test_a_partial_dispute_leaves_only_the_undisputed_part_in_the_message(queued, smtp_server):  # noqa: F811
    command("dispute", "open", "--invoice", "F1", "--amount", "400", "--reason", "quality", "--on", RUN_DAY)
    assert send().sent == 1
    message = only_message()
    assert message.amount_due == Decimal("600")
    text = smtp_server.received[0].email.get_body(("plain",)).get_content()
    assert "600.00" in text and "1,000.00" not in text


def test_a_payment_plan_agreed_after_the_run_cancels_the_reminder(queued, smtp_server):  # noqa: F811
    command("plan", "create", "--customer", "C1", "--installments", "2", "--first", LATER, "--on", RUN_DAY)
    assert_cancelled(smtp_server, "payment_plan", "payment plan")


def test_a_cancelled_message_is_no_contact_for_the_next_run(queued, smtp_server):  # noqa: F811
    """The dispute is rejected the next day: the customer never got reminder_1, so the next
    run decides it again instead of waiting out the cadence of a message that never left."""
    command("dispute", "open", "--invoice", "F1", "--amount", "1000", "--reason", "quality", "--on", RUN_DAY)
    assert_cancelled(smtp_server, "disputed", "under dispute")
    dispute_id = command("dispute", "list", "--json")
    import json

    [dispute] = json.loads(dispute_id)
    command("dispute", "resolve", str(dispute["id"]), "--resolution", "rejected", "--on", NEXT_DAYS[0])
    assert decided(queued.run(NEXT_DAYS[0])) == [("C1", "message", "reminder_1", "email", "F1", "1000")]


def test_a_contact_who_prefers_letters_gets_a_letter(scenario, smtp_settings, smtp_server):  # noqa: F811
    customer = scenario.customer("C2")
    customer.contacts.update(preferred_channel="letter")
    scenario.invoice("C2", "F2", "500.00", due=DUE)
    scenario.run(RUN_DAY)
    message = OutboundMessage.objects.get()
    assert message.channel == "letter"
    action = DunningAction.objects.get()
    assert any(reason.get("code") == "channel_preference" for reason in action.reasons)


def test_the_first_overdue_contact_never_claims_earlier_reminders(scenario, smtp_settings, smtp_server):  # noqa: F811
    """A ledger loaded late: the first run catches up to the final notice, which must not say
    'despite our reminders' (none were sent)."""
    scenario.customer("C3")
    scenario.invoice("C3", "F3", "800.00", due=(TODAY - timedelta(days=70)).isoformat())
    [row] = decided(scenario.run(RUN_DAY))
    assert row[2] == "collector_call" or row[2] == "final_notice"
    message = OutboundMessage.objects.filter(channel__in=("email", "letter")).first()
    if message is not None:
        assert "despite" not in message.body_text.lower()


def test_the_compliance_check_answers_with_the_send_time_rule(queued):
    """`relance compliance check` for a customer whose open amount is all disputed: not due."""
    command("dispute", "open", "--invoice", "F1", "--amount", "1000", "--reason", "quality", "--on", RUN_DAY)
    out = command("compliance", "check", "--customer", "C1", "--channel", "email")
    assert "under dispute" in out and "Allowed now" not in out


def test_the_send_day_is_never_before_the_run(queued):
    from relance.delivery.compliance import send_day

    message = only_message()
    assert send_day(message, datetime.now(UTC) - timedelta(days=20)) == TODAY


def test_the_customer_page_says_nothing_will_be_sent_when_the_worker_would_cancel(queued, admin_client):
    customer = queued.customers["C1"]
    page = admin_client.get(f"/w/customers/{customer.pk}/").content.decode()
    assert 'data-testid="not-due"' not in page
    command("dispute", "open", "--invoice", "F1", "--amount", "1000", "--reason", "quality", "--on", RUN_DAY)
    page = admin_client.get(f"/w/customers/{customer.pk}/").content.decode()
    assert 'data-testid="not-due"' in page and "under dispute" in page


def test_no_reachable_channel_cancels_the_action_and_gives_the_collector_a_task(scenario, smtp_settings):  # noqa: F811
    from relance.delivery.models import CallTask
    from relance.delivery.services import outbox_enqueue_run
    from relance.dunning.models import DunningRun

    customer = scenario.customer("C4")
    scenario.invoice("C4", "F4", "300.00", due=DUE)
    result = scenario.run(RUN_DAY, "--no-queue")
    assert decided(result) == [("C4", "message", "reminder_1", "email", "F4", "300")]
    customer.contacts.update(opt_out_email=True, opt_out_letter=True)  # since the decision
    run = DunningRun.objects.get()
    report = outbox_enqueue_run(run=run)
    assert report.created == 0 and len(report.skipped) == 1
    action = DunningAction.objects.get()
    assert action.status == "cancelled" and any(r.get("code") == "no_channel" for r in action.reasons)
    task = CallTask.objects.get(customer=customer)
    assert "reminder_1" in task.script and "opted out" in task.script
    assert outbox_enqueue_run(run=run).created == 0 and CallTask.objects.count() == 1  # idempotent


def test_a_refused_mailbox_fails_the_message_and_the_letter_fallback_makes_the_action_sent(
    queued,
    smtp_server,  # noqa: F811
):
    """The action follows its messages: the e-mail bounces, the step's letter goes out (in the
    same pass), and the action takes the letter's state."""
    smtp_server.refuse.add("ap@example.com")
    report = send()
    assert report.bounced == 1 and report.sent + report.delivered == 1
    email = OutboundMessage.objects.get(channel="email")
    letter = OutboundMessage.objects.get(channel="letter")
    assert email.status == "bounced" and letter.status in ("sent", "delivered")
    assert DunningAction.objects.get().status == letter.status


def test_a_message_that_fails_for_good_fails_its_action(scenario, smtp_settings, smtp_server):  # noqa: F811
    """No other channel to fall back to: the action is failed, and it is no contact."""
    scenario.customer("C5", address="")
    scenario.invoice("C5", "F5", "300.00", due=DUE)
    scenario.run(RUN_DAY)
    smtp_server.refuse.add("ap@example.com")
    send()
    action = DunningAction.objects.get()
    assert OutboundMessage.objects.get().status == "bounced" and action.status == "failed"
    assert not InvoiceStep.objects.filter(action=action).exists()
