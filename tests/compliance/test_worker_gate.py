"""End to end: the delivery worker applies the compliance rules to every message it sends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

worker = pytest.importorskip("relance.delivery.worker", reason="the delivery worker is not in this tree")

MONDAY_NIGHT = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)  # 22:30 in Paris


@pytest.fixture
def memory():
    from relance.delivery.channels.memory import MemoryChannel

    MemoryChannel.reset()
    yield MemoryChannel
    MemoryChannel.reset()


def test_a_pass_sends_blocks_and_defers_by_the_rules(make_customer, make_contact, make_message, memory):
    from relance.delivery.models import OutboundMessage

    customer = make_customer("C1", timezone="Europe/Paris", country="FR")
    fine = make_contact(customer, email="fine@example.com", phone="+33611111111")
    gone = make_contact(customer, email="gone@example.com", phone="+33622222222", opt_out_email=True)
    email = make_message(customer, contact=fine)
    opted_out = make_message(customer, contact=gone)
    sms = make_message(customer, contact=fine, channel="sms")

    report = worker.send_pass(worker_id="w1", now=MONDAY_NIGHT)

    assert [m.pk for m in memory.outbox] == [email.pk]
    assert (report.sent + report.delivered >= 1, report.blocked, report.deferred) == (True, 1, 1)
    opted_out.refresh_from_db()
    assert opted_out.status == "blocked" and "opted out of email" in opted_out.last_error
    sms.refresh_from_db()
    assert sms.status == "queued"
    assert sms.next_attempt_at == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    # Nothing more goes before the window opens; then the SMS goes.
    worker.send_pass(worker_id="w1", now=datetime(2026, 3, 3, 6, 59, tzinfo=UTC))
    assert OutboundMessage.objects.get(pk=sms.pk).status == "queued"
    worker.send_pass(worker_id="w1", now=datetime(2026, 3, 3, 7, 0, tzinfo=UTC))
    assert [m.pk for m in memory.outbox] == [email.pk, sms.pk]
