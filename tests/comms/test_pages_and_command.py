"""The preview page (entity-scoped), the admin's template check, and ``relance message``."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from relance.comms.models import MessageTemplate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_statement(monkeypatch):
    from relance.comms import services

    monkeypatch.setattr(services, "_statement", lambda *args: None)


@pytest.fixture
def viewer(ledger, django_user_model):
    from relance.accounts.models import EntityAccess

    user = django_user_model.objects.create_user("viewer", password="x")
    EntityAccess.objects.create(user=user, entity=ledger.entity)
    return user


def test_preview_page_shows_subject_sandboxed_html_and_text(client, ledger, viewer):
    client.force_login(viewer)
    response = client.get(
        "/comms/preview/",
        {"customer": "C-100", "template": "overdue_firm", "lang": "de", "as_of": "2026-11-23"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Mahnung: 1.574,40" in page
    assert 'sandbox=""' in page and "srcdoc=" in page
    assert "&lt;!DOCTYPE html&gt;" in page  # the e-mail's HTML is escaped inside srcdoc, never inline
    assert "INV-2026-001" in page
    frame = client.get("/comms/preview/frame/", {"customer": "C-100", "template": "overdue_firm"})
    assert frame.status_code == 200
    assert (
        "script-src" not in frame["Content-Security-Policy"]
        and "default-src 'none'" in frame["Content-Security-Policy"]
    )


def test_preview_of_another_entitys_customer_is_a_404(client, ledger, viewer):
    from relance.ledger.models import Customer
    from relance.ledger.services import entity_create_or_update

    other, _ = entity_create_or_update(name="other", currency="EUR", language="en")
    Customer.objects.create(entity=other, external_ref="SECRET-1", name="Hidden", currency="EUR")
    client.force_login(viewer)
    assert client.get("/comms/preview/", {"customer": "SECRET-1"}).status_code == 404
    assert client.get("/comms/preview/", {"customer": "SECRET-1", "entity": "other"}).status_code == 404
    assert client.get("/comms/preview/frame/", {"customer": "SECRET-1"}).status_code == 404


def test_preview_needs_login(client, ledger):
    response = client.get("/comms/preview/", {"customer": "C-100"})
    assert response.status_code == 302


def test_preview_shows_a_template_error(client, ledger, viewer):
    MessageTemplate.objects.create(
        entity=ledger.entity,
        key="overdue_firm",
        channel="email",
        language="fr",
        subject="x",
        body_text="{{ nope }}",
    )
    client.force_login(viewer)
    page = client.get("/comms/preview/", {"customer": "C-100", "template": "overdue_firm"}).content.decode()
    assert "line 1" in page and "nope" in page


def test_admin_refuses_a_template_that_does_not_compile(client, ledger, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    client.force_login(admin_user)
    form = {
        "entity": ledger.entity.pk,
        "key": "overdue_firm",
        "channel": "email",
        "language": "fr",
        "subject": "Rappel",
        "body_text": "Bonjour\n{% for x in %}\n",
        "body_html": "",
    }
    response = client.post("/admin/comms/messagetemplate/add/", form)
    assert response.status_code == 200
    assert "line 2" in response.content.decode()
    assert not MessageTemplate.objects.exists()
    form["body_text"] = "Bonjour {{ contact.name }}"
    response = client.post("/admin/comms/messagetemplate/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = MessageTemplate.objects.get()
    assert saved.updated_by == admin_user


def test_command_preview_text_and_json(ledger):
    out = StringIO()
    call_command(
        "message",
        "preview",
        "--customer",
        "C-100",
        "--template",
        "final_notice",
        "--as-of",
        "2026-11-23",
        stdout=out,
    )
    text = out.getvalue()
    assert text.startswith("Subject: Mise en demeure de payer : 1\u202f574,40\xa0€")
    assert "INV-2026-002" in text
    out = StringIO()
    call_command(
        "message",
        "preview",
        "--customer",
        "C-100",
        "--template",
        "overdue_friendly",
        "--channel",
        "sms",
        "--lang",
        "it",
        "--as-of",
        "2026-11-23",
        "--message-key",
        "k1",
        "--json",
        stdout=out,
    )
    data = json.loads(out.getvalue())
    assert data["language"] == "it" and data["channel"] == "sms" and data["recipient"] == "+33612345678"
    assert data["amount_due"] == "1574.4000" and data["rf_reference"].startswith("RF")
    with pytest.raises(CommandError, match="no template 'nope'"):
        call_command("message", "preview", "--customer", "C-100", "--template", "nope")
    with pytest.raises(CommandError):
        call_command("message", "preview", "--customer", "NOBODY", "--template", "overdue_firm")


def test_command_templates_lists_keys_and_overrides(ledger):
    MessageTemplate.objects.create(
        entity=ledger.entity, key="overdue_firm", channel="sms", language="fr", body_text="x"
    )
    out = StringIO()
    call_command("message", "templates", "--json", stdout=out)
    rows = {(row["key"], row["channel"]): row for row in json.loads(out.getvalue())}
    assert rows[("overdue_firm", "sms")]["overridden"] == ["fr"]
    assert rows[("final_notice", "letter")]["shipped"] == ["en", "fr", "de", "es", "it", "zh-hans"]
    out = StringIO()
    call_command("message", "templates", "--show", "overdue_firm", "--lang", "de", stdout=out)
    assert '{% extends "email.txt" %}' in out.getvalue() and "Mahnung" in out.getvalue()


def test_preview_of_an_unsaved_edit(client, ledger, viewer):
    client.force_login(viewer)
    query = "?customer=C-100&template=overdue_friendly&channel=email&lang=en&as_of=2026-11-23"
    page = client.get("/comms/preview/" + query).content.decode()
    assert "{% extends &quot;email.txt&quot; %}" in page  # the current source, to edit
    response = client.post(
        "/comms/preview/" + query,
        {
            "subject": "Draft for {{ customer.name }}",
            "body_text": "Owed: {{ amount_due|money(currency) }}",
            "body_html": "",
        },
    )
    page = response.content.decode()
    assert "Draft for Globex Industries" in page and "Owed: €1,574.40" in page
    assert not MessageTemplate.objects.exists()
    broken = client.post(
        "/comms/preview/" + query, {"subject": "x", "body_text": "a\n{{ oops }}", "body_html": ""}
    )
    assert "draft overdue_friendly [email, en] text, line 2" in broken.content.decode()


def test_admin_add_form_starts_from_the_shipped_default(client, ledger, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root2", "root2@example.com", "x")
    client.force_login(admin_user)
    page = client.get(
        "/admin/comms/messagetemplate/add/", {"key": "final_notice", "channel": "letter", "language": "it"}
    ).content.decode()
    assert "Diffida ad adempiere" in page and "{% extends &quot;letter.html&quot; %}" in page
