"""What the send-time check costs: a delivery pass reads each dunning message's action and
invoices with the due rows, and the policies once per pass, not once per message; a policy
changed between two passes counts from the next pass on (docs/benchmarks.md, "Outbox with the
send-time check").
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from relance.delivery import worker
from relance.delivery.models import DeliveryEvent, MessageStatus, OutboundMessage
from relance.dunning.services import policy_import_yaml
from relance.engine.dunning.defaults import POLICY_DIRECTORY
from tests.delivery.conftest import smtp_server, smtp_settings  # noqa: F401 (fixtures)
from tests.dunning.test_right_when_it_leaves import DUE, RUN_DAY

pytestmark = pytest.mark.django_db


@pytest.fixture
def three_queued(scenario, smtp_settings):  # noqa: F811
    """Three customers owe 1,000.00 EUR each, one day past due: the run queues three reminders."""
    from relance.compliance.selectors import caches_clear
    from relance.compliance.services import compliance_settings_update

    compliance_settings_update(
        entity=scenario.entity, quiet_hours_channels=[], allowed_weekdays=list(range(7))
    )
    caches_clear()
    for number in (1, 2, 3):
        scenario.customer(f"C{number}", email=f"ap{number}@example.com")
        scenario.invoice(f"C{number}", f"F{number}", "1000.00", due=DUE)
    scenario.run(RUN_DAY)
    assert OutboundMessage.objects.filter(status=MessageStatus.QUEUED, action__isnull=False).count() == 3
    return scenario


def test_a_pass_reads_policies_once_and_actions_with_their_invoices_alongside_the_due_rows(
    three_queued,
    smtp_server,  # noqa: F811
):
    with CaptureQueriesContext(connection) as captured:
        report = worker.send_pass(worker_id="test")
    assert report.sent == 3 and len(smtp_server.received) == 3

    def reads(fragment: str) -> int:
        return sum(fragment in query["sql"] for query in captured.captured_queries)

    assert reads('FROM "dunning_segmentpolicy"') == 1  # the policy the customers follow
    assert reads('FROM "dunning_policy"') == 2  # its cadence, its send window (compliance)
    assert reads('INNER JOIN "dunning_action_invoice"') == 1  # prefetched with the due rows
    assert reads('FROM "dunning_dunningaction"') == 0  # read with the due rows
    assert reads('FROM "ledger_entity"') == 0  # the customer's entity too


def test_a_policy_changed_between_two_passes_counts_from_the_next_pass(three_queued, smtp_server):  # noqa: F811
    assert worker.send_pass(worker_id="test", limit=1).sent == 1
    standard = (POLICY_DIRECTORY / "standard.yaml").read_text(encoding="utf-8")
    assert "small_balance: 10\n" in standard
    policy_import_yaml(
        entity=three_queued.entity, text=standard.replace("small_balance: 10\n", "small_balance: 5000\n")
    )

    report = worker.send_pass(worker_id="test")

    assert report.cancelled == 2 and report.sent == 0 and len(smtp_server.received) == 1
    codes = [event.detail["code"] for event in DeliveryEvent.objects.filter(kind="cancelled")]
    assert codes == ["small_balance", "small_balance"]


def test_a_pass_reads_holds_and_cap_history_once_per_batch(three_queued, smtp_server):  # noqa: F811
    with CaptureQueriesContext(connection) as captured:
        report = worker.send_pass(worker_id="test")
    assert report.sent == 3

    def reads(fragment: str) -> int:
        return sum(fragment in query["sql"] for query in captured.captured_queries)

    assert reads('FROM "dunning_customerhold"') == 1
    assert reads('COALESCE("delivery_outboundmessage"."sent_at"') == 1  # the three customers' cap history


def test_a_hold_placed_before_the_pass_stops_the_batch_message(three_queued, smtp_server):  # noqa: F811
    from relance.cases.models import CustomerHold
    from relance.ledger.models import Customer

    customer = Customer.objects.get(external_ref="C2")
    CustomerHold.objects.create(
        entity=customer.entity, customer=customer, kind="legal", reason="with our lawyers", starts_on=RUN_DAY
    )
    report = worker.send_pass(worker_id="test")
    assert report.sent == 2 and report.blocked == 1
    held = OutboundMessage.objects.get(customer=customer)
    assert held.status == MessageStatus.BLOCKED and "with our lawyers" in held.last_error


def test_a_customers_second_message_in_the_batch_sees_the_first_for_the_cap(three_queued, smtp_server):  # noqa: F811
    """Two queued reminders for one customer in one batch, at most one message per week: the first
    goes, the second waits a week — the batch's cap history is read live for such customers."""
    from relance.compliance.selectors import caches_clear
    from relance.compliance.services import compliance_settings_update

    compliance_settings_update(entity=three_queued.entity, customer_cap=1, customer_cap_days=7)
    caches_clear()
    first = OutboundMessage.objects.get(customer__external_ref="C1")
    second = OutboundMessage.objects.get(pk=first.pk)
    second.pk = None
    second.idempotency_key = f"{first.idempotency_key}:again"
    second.save()

    report = worker.send_pass(worker_id="test")

    assert report.sent == 3 and report.deferred == 1
    statuses = sorted(
        OutboundMessage.objects.filter(customer__external_ref="C1").values_list("status", flat=True)
    )
    assert statuses == ["queued", "sent"]


def test_a_message_another_worker_sent_counts_for_the_cap(three_queued, smtp_server):  # noqa: F811
    """A customer with a message queued outside the batch (another worker may send it meanwhile)
    has its cap history read live, message by message."""
    from django.utils import timezone

    from relance.compliance.selectors import (
        caches_clear,
        message_facts,
        message_facts_batch,
        message_facts_load,
    )
    from relance.compliance.services import compliance_settings_update

    compliance_settings_update(entity=three_queued.entity, customer_cap=1, customer_cap_days=7)
    caches_clear()
    mine = OutboundMessage.objects.select_related("customer__entity", "action").get(
        customer__external_ref="C1"
    )
    theirs = OutboundMessage.objects.get(pk=mine.pk)
    theirs.pk = None
    theirs.idempotency_key = f"{mine.idempotency_key}:other-worker"
    theirs.save()
    now = timezone.now()
    with message_facts_batch():
        message_facts_load(messages=[(mine.pk, mine.customer_id, mine.customer.entity_id)], now=now)
        OutboundMessage.objects.filter(pk=theirs.pk).update(status="sent", sent_at=now)  # the other worker
        facts = message_facts(
            customer=mine.customer, channel="email", now=now, action=mine.action, exclude_message_id=mine.pk
        )
    assert len(facts.sent_to_customer) == 1
