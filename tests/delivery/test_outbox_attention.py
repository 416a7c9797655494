"""Uncertain and failed messages reach people: `outbox resolve`, the daily digest, the Outbox page
and the dashboard count."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError
from django.test import Client

from relance.audit.models import AuditEvent
from relance.delivery import services
from relance.delivery.models import DeliveryEventKind, MessageStatus, OutboundMessage
from tests.delivery.conftest import rendered
from tests.dunning.conftest import command

pytestmark = pytest.mark.django_db


def queued(customer, key: str, status: str = MessageStatus.QUEUED, error: str = "") -> OutboundMessage:
    message, _ = services.outbox_enqueue(
        rendered=rendered(subject=f"About {key}"),
        customer=customer,
        channel="email",
        recipient="ann@example.com",
        idempotency_key=key,
    )
    OutboundMessage.objects.filter(pk=message.pk).update(status=status, last_error=error)
    message.refresh_from_db()
    return message


def user(django_user_model, name: str, role: str, entity):
    from relance.accounts.services import user_create

    return user_create(email=f"{name}@acme.example", role=role, entity_names=[entity.name], password="x" * 20)


def client_for(person) -> Client:
    client = Client()
    client.force_login(person)
    return client


# ------------------------------------------------------------------------- outbox resolve


def test_resolve_sent_counts_it_as_sent_and_is_audited(customer):
    message = queued(customer, "k1", MessageStatus.UNCERTAIN)
    out = command("outbox", "resolve", str(message.pk), "--sent", "--note", "provider log shows 250")
    assert "resolved as sent" in out
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.sent_at is not None
    assert message.events.filter(kind=DeliveryEventKind.SENT).exists()
    event = AuditEvent.objects.get(action="outbox_resolve")
    assert event.after["resolution"] == "sent" and event.actor_label.startswith("cli")
    assert event.object_id == str(message.pk) and event.after["note"] == "provider log shows 250"


def test_resolve_not_sent_queues_it_again_and_send_delivers_it_once(customer, smtp_settings, smtp_server):
    message = queued(customer, "k1", MessageStatus.UNCERTAIN)
    assert "queued again" in command("outbox", "resolve", str(message.pk), "--not-sent")
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    command("send")
    assert [r.rcpt_tos for r in smtp_server.received] == [["ann@example.com"]]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert AuditEvent.objects.get(action="outbox_resolve").after["resolution"] == "not_sent"


def test_resolve_refuses_a_message_that_is_not_uncertain(customer):
    message = queued(customer, "k1", MessageStatus.SENT)
    with pytest.raises(CommandError, match=r"message \d+ is sent: only an uncertain message can be resolved"):
        command("outbox", "resolve", str(message.pk), "--not-sent")
    with pytest.raises(CommandError):
        command("outbox", "resolve", str(message.pk))  # --sent or --not-sent is required


# ------------------------------------------------------------------------- the daily digest


def test_the_daily_digest_tells_the_admins_and_credit_managers(
    entity, customer, smtp_settings, smtp_server, django_user_model, globex
):
    user(django_user_model, "boss", "admin", entity)
    user(django_user_model, "carla", "credit_manager", entity)
    user(django_user_model, "other", "credit_manager", globex)  # another entity's: not told
    user(django_user_model, "sam", "sales", entity)
    queued(customer, "k1", MessageStatus.UNCERTAIN)
    queued(customer, "k2", MessageStatus.FAILED, "550 mailbox unavailable")
    queued(customer, "k3", MessageStatus.SENT)
    assert "1 digest e-mail(s) sent" in command("outbox", "digest")
    [digest] = smtp_server.received
    assert sorted(digest.rcpt_tos) == ["boss@acme.example", "carla@acme.example"]
    body = digest.email.get_content()
    assert "1 failed, 1 uncertain" in body and "550 mailbox unavailable" in body and "outbox resolve" in body
    assert "k3" not in body and "need a decision" in digest.email["Subject"]


def test_no_digest_when_nothing_needs_a_decision(entity, customer, smtp_settings, smtp_server):
    queued(customer, "k1", MessageStatus.SENT)
    assert "no e-mail" in command("outbox", "digest")
    assert smtp_server.received == []


@pytest.fixture
def globex(db):
    from relance.ledger.services import entity_create_or_update

    return entity_create_or_update(name="globex", currency="USD", legal_name="Globex Inc")[0]


# ------------------------------------------------------------------------- the Outbox page


def test_the_page_lists_uncertain_and_failed_first_with_filters(entity, customer, django_user_model):
    sent = queued(customer, "k-sent", MessageStatus.SENT)
    failed = queued(customer, "k-failed", MessageStatus.FAILED, "template failed: boom")
    uncertain = queued(customer, "k-uncertain", MessageStatus.UNCERTAIN)
    page = client_for(user(django_user_model, "carla", "credit_manager", entity)).get("/delivery/outbox/")
    assert page.status_code == 200
    html = page.content.decode()
    order = [html.index(f'data-id="{m.pk}"') for m in (uncertain, failed, sent)]
    assert order == sorted(order)
    assert "1 uncertain, 1 failed" in html and "template failed: boom" in html
    assert "It was sent" in html and 'value="retry"' in html
    only_sent = client_for(user(django_user_model, "cm2", "credit_manager", entity)).get(
        "/delivery/outbox/", {"status": "sent", "customer": customer.external_ref, "channel": "email"}
    )
    assert f'data-id="{sent.pk}"' in only_sent.content.decode()
    assert f'data-id="{failed.pk}"' not in only_sent.content.decode()


def test_a_credit_manager_retries_cancels_and_resolves_from_the_page(entity, customer, django_user_model):
    failed = queued(customer, "k-failed", MessageStatus.FAILED)
    uncertain = queued(customer, "k-uncertain", MessageStatus.UNCERTAIN)
    other = queued(customer, "k-other", MessageStatus.FAILED)
    client = client_for(user(django_user_model, "carla", "credit_manager", entity))
    assert client.post(f"/delivery/outbox/{failed.pk}/act", {"action": "retry"}).status_code == 302
    assert client.post(f"/delivery/outbox/{uncertain.pk}/act", {"action": "resolve_sent"}).status_code == 302
    assert client.post(f"/delivery/outbox/{other.pk}/act", {"action": "cancel"}).status_code == 302
    statuses = {m.idempotency_key: m.status for m in OutboundMessage.objects.all()}
    assert statuses == {"k-failed": "queued", "k-uncertain": "sent", "k-other": "cancelled"}
    event = AuditEvent.objects.get(action="outbox_resolve")
    assert event.actor_user is not None and event.actor_user.username.startswith("carla")


@pytest.mark.parametrize("role", ["auditor", "support", "collector"])
def test_read_only_roles_see_the_page_without_buttons_and_cannot_act(
    role, entity, customer, django_user_model
):
    failed = queued(customer, "k-failed", MessageStatus.FAILED)
    client = client_for(user(django_user_model, "viewer", role, entity))
    page = client.get("/delivery/outbox/")
    assert page.status_code == 200 and f'data-id="{failed.pk}"' in page.content.decode()
    assert 'value="retry"' not in page.content.decode()
    assert client.post(f"/delivery/outbox/{failed.pk}/act", {"action": "retry"}).status_code == 403
    assert OutboundMessage.objects.get(pk=failed.pk).status == MessageStatus.FAILED


def test_sales_owners_do_not_see_the_outbox(entity, customer, django_user_model):
    failed = queued(customer, "k-failed", MessageStatus.FAILED)
    client = client_for(user(django_user_model, "sam", "sales", entity))
    assert client.get("/delivery/outbox/").status_code == 403
    assert client.post(f"/delivery/outbox/{failed.pk}/act", {"action": "cancel"}).status_code == 403


def test_another_entitys_messages_are_not_listed_nor_actionable(entity, customer, django_user_model, globex):
    failed = queued(customer, "k-failed", MessageStatus.FAILED)
    client = client_for(user(django_user_model, "carla", "credit_manager", globex))
    assert f'data-id="{failed.pk}"' not in client.get("/delivery/outbox/").content.decode()
    assert client.post(f"/delivery/outbox/{failed.pk}/act", {"action": "retry"}).status_code == 404


def test_the_dashboard_shows_the_count_and_links_to_the_outbox(entity, customer, django_user_model):
    queued(customer, "k1", MessageStatus.UNCERTAIN)
    queued(customer, "k2", MessageStatus.FAILED)
    queued(customer, "k3", MessageStatus.FAILED)
    html = client_for(user(django_user_model, "carla", "credit_manager", entity)).get("/").content.decode()
    assert 'id="outbox-attention" href="/delivery/outbox/">3</a>' in html
    assert "1 uncertain · 2 failed" in html
