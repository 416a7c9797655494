"""relance send / worker / outbox."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from relance.delivery.models import OutboundMessage
from tests.delivery.test_services import STEPS, enqueue, make_run

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_send_one_pass_json(customer, memory_outbox):
    from django.utils import timezone

    from relance.delivery import services
    from tests.delivery.conftest import rendered

    for key in ("a", "b"):
        services.outbox_enqueue(
            rendered=rendered(),
            customer=customer,
            channel="email",
            recipient="ann@example.com",
            idempotency_key=key,
            now=timezone.now(),
        )
    report = json.loads(run("send", "--json", "--worker-id", "t1"))
    assert (report["claimed"], report["delivered"], report["worker_id"]) == (2, 2, "t1")
    assert "0 claimed" in run("send")
    assert len(memory_outbox.outbox) == 2


def test_outbox_list_show_retry_cancel(customer):
    message, _ = enqueue(customer)
    OutboundMessage.objects.filter(pk=message.pk).update(status="failed", last_error="550 unknown user")
    rows = json.loads(run("outbox", "list", "--status", "failed", "--json"))
    assert [row["id"] for row in rows] == [message.pk] and rows[0]["last_error"] == "550 unknown user"
    assert "550 unknown user" in run("outbox", "list", "--customer", "C1")
    shown = json.loads(run("outbox", "show", str(message.pk), "--json"))
    assert [event["kind"] for event in shown["events"]] == ["queued"]
    assert json.loads(run("outbox", "retry", "--status", "failed", "--json")) == {"retried": [message.pk]}
    assert OutboundMessage.objects.get().status == "queued"
    assert "cancelled" in run("outbox", "cancel", str(message.pk))
    with pytest.raises(CommandError, match="only failed"):
        run("outbox", "retry", str(message.pk))
    with pytest.raises(CommandError, match="no message 999"):
        run("outbox", "show", "999")


def test_outbox_enqueue_a_run(entity, customer, fake_render):
    run_row, _ = make_run(entity, customer, steps=STEPS)
    report = json.loads(run("outbox", "enqueue", "--run-date", run_row.as_of.isoformat(), "--json"))
    assert (report["created"], report["by_channel"]) == (1, {"email": 1})
    assert "0 message(s) queued, 1 already queued" in run(
        "outbox", "enqueue", "--run-date", run_row.as_of.isoformat()
    )
    with pytest.raises(CommandError, match="no dunning run"):
        run("outbox", "enqueue", "--run-date", "2020-01-01")


def test_admin_lists_and_retries(admin_client, customer):
    message, _ = enqueue(customer)
    OutboundMessage.objects.filter(pk=message.pk).update(status="bounced", last_error="550 unknown user")
    page = admin_client.get("/admin/delivery/outboundmessage/?status__exact=bounced")
    assert page.status_code == 200 and b"550 unknown user" in page.content
    assert admin_client.get(f"/admin/delivery/outboundmessage/{message.pk}/change/").status_code == 200
    admin_client.post(
        "/admin/delivery/outboundmessage/", {"action": "retry_messages", "_selected_action": [message.pk]}
    )
    assert OutboundMessage.objects.get().status == "queued"
