"""message_render: template lookup and languages, references, links, context made of plain data."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from relance.comms.context import message_context
from relance.comms.models import MessageTemplate
from relance.comms.rendering import TemplateError
from relance.comms.selectors import language_candidates, template_resolve
from relance.comms.services import message_render, message_template_save
from relance.comms.types import Attachment
from tests.comms.conftest import AS_OF

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_statement(monkeypatch):
    from relance.comms import services

    monkeypatch.setattr(services, "_statement", lambda *args: None)


def test_language_comes_from_the_customer_then_falls_back(ledger):
    assert (
        message_render(
            customer=ledger.customer, template_key="overdue_friendly", channel="email", as_of=AS_OF
        ).language
        == "fr"
    )
    ledger.customer.language = "fr-ca"
    assert (
        message_render(
            customer=ledger.customer, template_key="overdue_friendly", channel="sms", as_of=AS_OF
        ).language
        == "fr"
    )
    ledger.customer.language = "pt"
    rendered = message_render(
        customer=ledger.customer, template_key="overdue_friendly", channel="sms", as_of=AS_OF
    )
    assert rendered.language == "en"
    assert language_candidates("zh-CN") == ["zh-cn", "zh-hans", "en"]
    assert language_candidates("") == ["en"]


def test_entity_template_overrides_the_default_and_can_extend_the_layout(ledger):
    message_template_save(
        entity=ledger.entity,
        key="overdue_friendly",
        channel="email",
        language="fr",
        subject="Petit rappel pour {{ customer.name }}",
        body_text="{% extends 'email.txt' %}{% block body %}Montant : {{ amount_due|money(currency) }}{% endblock %}",
        body_html="<p>{{ customer.name }} doit {{ amount_due|money(currency) }}</p>",
    )
    rendered = message_render(
        customer=ledger.customer, template_key="overdue_friendly", channel="email", as_of=AS_OF
    )
    assert rendered.subject == "Petit rappel pour Globex Industries"
    assert "Montant : 1\u202f574,40\xa0€" in rendered.text
    assert "INV-2026-001" in rendered.text  # the layout's invoice list
    assert rendered.html == "<p>Globex Industries doit 1\u202f574,40\xa0€</p>"
    # Other languages and channels keep the shipped default.
    assert (
        template_resolve(entity=ledger.entity, key="overdue_friendly", channel="email", language="de").origin
        == "default"
    )
    assert (
        template_resolve(entity=ledger.entity, key="overdue_friendly", channel="sms", language="fr").origin
        == "default"
    )


def test_an_entity_may_define_its_own_key(ledger):
    with pytest.raises(LookupError, match="no template 'welcome'"):
        message_render(customer=ledger.customer, template_key="welcome", channel="email", as_of=AS_OF)
    MessageTemplate.objects.create(
        entity=ledger.entity,
        key="welcome",
        channel="email",
        language="en",
        subject="Hi",
        body_text="Welcome {{ customer.name }}",
    )
    rendered = message_render(customer=ledger.customer, template_key="welcome", channel="email", as_of=AS_OF)
    assert rendered.language == "en" and rendered.text == "Welcome Globex Industries\n"


def test_a_broken_stored_template_is_reported_with_name_and_line(ledger):
    MessageTemplate.objects.create(
        entity=ledger.entity,
        key="overdue_neutral",
        channel="email",
        language="fr",
        subject="ok",
        body_text="ligne 1\nligne 2 {{ customer.nom_inconnu.x }}\n",
    )
    with pytest.raises(TemplateError) as caught:
        message_render(customer=ledger.customer, template_key="overdue_neutral", channel="email", as_of=AS_OF)
    assert caught.value.line == 2
    assert caught.value.template == "entity acme: overdue_neutral [email, fr] text"
    with pytest.raises(TemplateError, match="line 1"):
        message_template_save(
            entity=ledger.entity, key="k", channel="email", language="en", subject="{% if %}", body_text="x"
        )


def test_rf_reference_is_seeded_by_the_message_key(ledger):
    def render(key):
        return message_render(
            customer=ledger.customer, template_key="overdue_firm", channel="sms", as_of=AS_OF, message_key=key
        )

    first, again, other = (
        render("run-1/C-100/reminder_3/email"),
        render("run-1/C-100/reminder_3/email"),
        render("run-2"),
    )
    assert first.rf_reference == again.rf_reference != other.rf_reference
    email = message_render(
        customer=ledger.customer,
        template_key="overdue_firm",
        channel="email",
        as_of=AS_OF,
        message_key="run-1/C-100/reminder_3/email",
    )
    assert email.rf_reference == first.rf_reference


def test_invoices_and_action_narrow_the_message(ledger):
    overdue = ledger.invoices[0]
    rendered = message_render(
        customer=ledger.customer,
        template_key="overdue_firm",
        channel="email",
        as_of=AS_OF,
        invoices=[overdue],
        language="en",
    )
    assert rendered.amount_due == Decimal("1234.5000")
    assert "INV-2026-002" not in rendered.text
    assert "53 days overdue" in rendered.text
    # As of an earlier date, the part payment was not there yet: open amounts are dated.
    before = message_render(
        customer=ledger.customer,
        template_key="overdue_firm",
        channel="email",
        as_of=date(2026, 11, 1),
        language="en",
    )
    assert before.amount_due == Decimal("1744.5000")  # INV-000 still open, INV-003 not issued yet


def test_qr_code_only_for_euro_entities_with_an_iban(ledger):
    rendered = message_render(
        customer=ledger.customer, template_key="overdue_firm", channel="email", as_of=AS_OF
    )
    assert 'src="data:image/png;base64,iVBOR' in rendered.html
    letter = message_render(
        customer=ledger.customer, template_key="overdue_firm", channel="letter", as_of=AS_OF
    )
    assert "data:image/svg+xml;base64," in letter.html
    ledger.entity.iban = ""
    ledger.entity.save()
    ledger.customer.refresh_from_db()
    plain = message_render(
        customer=ledger.customer, template_key="overdue_firm", channel="email", as_of=AS_OF
    )
    assert "data:image" not in plain.html and "IBAN" not in plain.text
    assert plain.rf_reference  # the reference is still there, for the portal and the remittance


def test_messages_carry_a_revocable_portal_link_and_previews_one_that_opens_nothing(ledger, client):
    from relance.portal.links import link_revoke, link_verify
    from relance.portal.models import PortalLink

    rendered = message_render(
        customer=ledger.customer,
        template_key="overdue_friendly",
        channel="email",
        as_of=AS_OF,
        contact=ledger.contact,
    )
    portal = rendered.links["portal"]
    assert portal in rendered.text and rendered.links["pay"] in rendered.text
    assert rendered.links["pay"] == portal.rstrip("/") + "/pay/"
    assert "opt-out" in rendered.links["opt_out"]
    # One mechanism: the link is a PortalLink row of the portal app; it opens the portal…
    token = portal.rstrip("/").rsplit("/", 1)[1]
    link = link_verify(token)
    assert (link.customer_id, link.contact_id, link.source) == (
        ledger.customer.pk,
        ledger.contact.pk,
        "message",
    )
    assert client.get(portal.replace("http://testserver", "")).status_code == 200
    # …until it is revoked.
    link_revoke(link=link)
    assert client.get(portal.replace("http://testserver", "")).status_code != 200

    links_before = PortalLink.objects.count()
    preview = message_render(
        customer=ledger.customer,
        template_key="overdue_friendly",
        channel="email",
        as_of=AS_OF,
        contact=ledger.contact,
        preview=True,
    )
    placeholder = preview.links["portal"]
    assert PortalLink.objects.count() == links_before  # a preview issues no link
    assert len(placeholder) == len(portal)  # an SMS preview counts the real link's length
    assert client.get(placeholder.replace("http://testserver", "")).status_code != 200
    sms = message_render(
        customer=ledger.customer,
        template_key="overdue_friendly",
        channel="sms",
        as_of=AS_OF,
        contact=ledger.contact,
    )
    assert "STOP" in sms.text


def test_context_holds_plain_data_only(ledger):
    from django.db import models

    context = message_context(
        customer=ledger.customer,
        template_key="final_notice",
        channel="email",
        language="en",
        as_of=AS_OF,
        contact=ledger.contact,
        extra={"note": "x", "sneaky": ledger.customer},
    ).as_template_context()

    def walk(value, path):
        assert not isinstance(value, models.Model | models.QuerySet | models.Manager), path
        if dataclasses.is_dataclass(value):
            for item in dataclasses.fields(value):
                walk(getattr(value, item.name), f"{path}.{item.name}")
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                walk(item, f"{path}[{index}]")
        else:
            assert isinstance(value, str | int | bool | Decimal | date | type(None)), (path, type(value))

    walk(context, "context")
    assert context["extra"]["sneaky"] == str(ledger.customer)


def test_statement_is_attached_to_firm_and_final_notices_only(ledger, monkeypatch):
    from relance.comms import services

    monkeypatch.setattr(
        services,
        "_statement",
        lambda customer, as_of, language: Attachment("statement.pdf", "application/pdf", b"%PDF"),
    )
    firm = message_render(customer=ledger.customer, template_key="overdue_firm", channel="email", as_of=AS_OF)
    friendly = message_render(
        customer=ledger.customer, template_key="overdue_friendly", channel="email", as_of=AS_OF
    )
    sms = message_render(customer=ledger.customer, template_key="final_notice", channel="sms", as_of=AS_OF)
    assert [a.filename for a in firm.attachments] == ["statement.pdf"]
    assert friendly.attachments == () and sms.attachments == ()


def test_owner_notification_goes_to_the_sales_owner_with_a_hold_link(ledger):
    rendered = message_render(
        customer=ledger.customer, template_key="owner_before_hold", channel="email", as_of=AS_OF
    )
    assert rendered.text.startswith("Bonjour Sam,")
    assert "portal" not in rendered.links and "opt_out" not in rendered.links
    if "hold" in rendered.links:  # once the compliance app's route exists
        assert rendered.links["hold"] in rendered.text


def test_final_notice_shows_late_charges_when_the_entity_enabled_them(ledger):
    charges = pytest.importorskip("relance.charges.models")
    charges.EntityLateCharges.objects.create(entity=ledger.entity, enabled=True, jurisdiction="FR")
    letter = message_render(
        customer=ledger.customer, template_key="final_notice", channel="letter", as_of=AS_OF, language="en"
    )
    assert "Late payment charges" in letter.html and "Late payment charges apply" in letter.html
    assert "INV-2026-001" in letter.html.split("Late payment charges</strong>")[1]
    assert "€40.00" in letter.html  # the fixed compensation per late invoice
    email = message_render(
        customer=ledger.customer, template_key="final_notice", channel="email", as_of=AS_OF
    )
    assert "Pénalités de retard" in email.text and "Indemnité forfaitaire 40,00\xa0€" in email.text
    friendly = message_render(
        customer=ledger.customer, template_key="overdue_friendly", channel="email", as_of=AS_OF
    )
    assert "Pénalités" not in friendly.text
