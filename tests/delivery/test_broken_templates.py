"""A broken stored template never stops a run: refused when saved, ``failed`` when queued, an alert.

Through the real commands: ``relance run`` queues, ``relance send`` delivers to an SMTP server on
loopback (aiosmtpd), and the test reads what arrived.
"""

from __future__ import annotations

import pytest
from django.core import mail

from relance.comms.models import BrokenTemplatePolicy, CommsSettings, MessageTemplate
from relance.comms.rendering import TemplateError
from relance.comms.services import message_template_save
from relance.delivery.models import MessageStatus, OutboundMessage
from tests.dunning.conftest import command, command_json

pytestmark = pytest.mark.django_db

BROKEN_TEXT = "Hello {{ cusomer.name }},\n{{ amount_due|money(currency) }} is due."


@pytest.fixture
def three_customers(scenario, django_user_model):
    from django.contrib.auth.models import Group

    from relance.accounts.roles import ADMIN

    admin = django_user_model.objects.create_user(username="boss", email="boss@acme.example")
    admin.groups.add(Group.objects.get_or_create(name=ADMIN)[0])
    for ref, language in (("C1", "en"), ("C2", "de"), ("C3", "fr")):
        scenario.customer(ref, email=f"{ref.lower()}@example.com", language=language)
        scenario.invoice(ref, f"F-{ref}", "1000.00", due="2026-03-31")
    # The run's template key for these customers (the shipped standard policy's pre-due step).
    dry = command_json("run", "--as-of", "2026-03-26", "--dry-run")
    assert len(dry["decisions"]) == 3
    from relance.dunning.models import Policy

    spec = Policy.objects.get(entity=scenario.entity, key="standard").spec
    step = next(s for s in spec["steps"] if s["key"] == dry["decisions"][0]["step"])
    return scenario, step["template"]


def store_broken(entity, key, language="de"):
    """A template stored before templates were checked by rendering (compiles, fails to render)."""
    return MessageTemplate.objects.create(
        entity=entity, key=key, channel="email", language=language, subject="Reminder", body_text=BROKEN_TEXT
    )


def test_saving_a_template_that_only_fails_when_rendered_is_refused(entity, make_customer):
    make_customer("C1", language="de")
    with pytest.raises(TemplateError, match=r"text, line 1: unknown variable or attribute: 'cusomer'"):
        message_template_save(
            entity=entity,
            key="overdue_firm",
            channel="email",
            language="de",
            subject="Hi",
            body_text=BROKEN_TEXT,
        )
    assert not MessageTemplate.objects.exists()
    # A good one is saved, and the sample customer used to check it is not left behind.
    message_template_save(
        entity=entity,
        key="overdue_firm",
        channel="email",
        language="de",
        subject="{{ amount_due|money(currency) }}",
        body_text="Hallo {{ customer.name }}",
    )
    assert MessageTemplate.objects.count() == 1
    assert not entity.customers.filter(external_ref__startswith="SAMPLE-").exists()


def test_an_english_template_is_rendered_in_every_language_the_customers_use(entity, make_customer):
    make_customer("C1", language="zh-hans")
    # Fails only in Chinese: the label lookup of a language-dependent branch.
    text = "{% if language == 'zh-hans' %}{{ t.no_such_label }}{% endif %}ok"
    with pytest.raises(TemplateError, match="no_such_label"):
        message_template_save(
            entity=entity, key="overdue_firm", channel="email", language="en", subject="x", body_text=text
        )


def test_the_admin_form_refuses_it_with_the_line(entity):
    from relance.comms.admin import MessageTemplateForm

    form = MessageTemplateForm(
        data={
            "entity": entity.pk,
            "key": "overdue_firm",
            "channel": "email",
            "language": "en",
            "subject": "Reminder",
            "body_text": BROKEN_TEXT,
            "body_html": "",
        }
    )
    assert not form.is_valid()
    assert "line 1: unknown variable or attribute: 'cusomer'" in form.errors["body_text"][0]


def test_a_run_with_one_broken_template_queues_everything_else_and_alerts(
    three_customers, smtp_settings, smtp_server
):
    world, key = three_customers
    store_broken(world.entity, key, "de")
    text = command("run", "--as-of", "2026-03-26")
    assert "Template failed for C2" in text and "queued as failed" in text and "cusomer" in text
    rows = {m.customer.external_ref: m for m in OutboundMessage.objects.select_related("customer")}
    assert {ref: row.status for ref, row in rows.items()} == {
        "C1": MessageStatus.QUEUED,
        "C2": MessageStatus.FAILED,
        "C3": MessageStatus.QUEUED,
    }
    assert "cusomer" in rows["C2"].last_error and rows["C2"].body_text == ""
    # Running the date again neither crashes nor queues anything twice.
    again = command_json("run", "--as-of", "2026-03-26")
    assert again["queued"]["created"] == 0 and again["queued"]["existing"] == 3
    # The alert reached the admin through the real SMTP server, and `relance send` delivers the rest.
    command("send")
    received = {r.rcpt_tos[0]: r.email for r in smtp_server.received}
    assert set(received) == {"boss@acme.example", "c1@example.com", "c3@example.com"}
    alert = received["boss@acme.example"]
    assert "not rendered" in alert["Subject"]
    assert "C2" in alert.get_content() and "cusomer" in alert.get_content()
    assert OutboundMessage.objects.get(pk=rows["C2"].pk).status == MessageStatus.FAILED


def test_fixing_the_template_then_retrying_sends_the_message(three_customers, smtp_settings, smtp_server):
    world, key = three_customers
    template = store_broken(world.entity, key, "de")
    command("run", "--as-of", "2026-03-26")
    failed = OutboundMessage.objects.get(status=MessageStatus.FAILED)
    with pytest.raises(Exception, match="the template still fails"):
        command("outbox", "retry", str(failed.pk))
    template.body_text = "Hallo {{ customer.name }}, {{ amount_due|money(currency) }} sind bald fällig."
    template.save()
    command("outbox", "retry", str(failed.pk))
    command("send")
    german = next(r.email for r in smtp_server.received if r.rcpt_tos == ["c2@example.com"])
    assert "1.000,00" in german.get_body(("plain",)).get_content()


def test_the_entity_may_choose_the_shipped_default_instead(three_customers, smtp_settings, smtp_server):
    world, key = three_customers
    store_broken(world.entity, key, "de")
    CommsSettings.objects.create(entity=world.entity, on_broken_template=BrokenTemplatePolicy.SHIPPED_DEFAULT)
    report = command_json("run", "--as-of", "2026-03-26")["queued"]
    [failure] = report["template_failures"]
    assert failure["customer_ref"] == "C2" and failure["used_shipped_default"] is True
    assert OutboundMessage.objects.filter(status=MessageStatus.QUEUED).count() == 3
    command("send")
    german = next(r.email for r in smtp_server.received if r.rcpt_tos == ["c2@example.com"])
    assert german["Content-Language"] == "de" and "1.000,00" in german.get_body(("plain",)).get_content()
    assert len(mail.outbox) == 0  # the alert went through SMTP, not the test backend


def test_retrying_every_failed_message_skips_those_whose_template_still_fails(three_customers):
    world, key = three_customers
    store_broken(world.entity, key, "de")
    command("run", "--as-of", "2026-03-26")
    failed = OutboundMessage.objects.get(status=MessageStatus.FAILED)
    other = OutboundMessage.objects.exclude(pk=failed.pk).first()
    OutboundMessage.objects.filter(pk=other.pk).update(status=MessageStatus.FAILED)
    out = command("outbox", "retry", "--status", "failed")
    assert "1 message(s) queued again." in out and f"not retried {failed.pk}: " in out and "cusomer" in out
    assert OutboundMessage.objects.get(pk=other.pk).status == MessageStatus.QUEUED
