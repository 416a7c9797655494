"""Opt-out links (page and RFC 8058 one-click) and inbound SMS keywords."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from relance.compliance import links
from relance.compliance.models import ContactPreferenceEvent
from relance.compliance.services import contact_preference_set, inbound_sms_keyword, sms_keyword
from relance.core.errors import ValidationFailed


@pytest.fixture
def contact(make_customer, make_contact):
    return make_contact(make_customer("C1"))


@pytest.fixture
def client():
    return Client(enforce_csrf_checks=True)


def test_the_token_names_the_contact_and_channel_and_cannot_be_forged(contact):
    token = links.opt_out_token(contact, "email")
    assert links.opt_out_token_read(token) == (contact.pk, "email")
    assert links.opt_out_token_read(links.opt_out_token(contact, "call")) == (contact.pk, "call")
    # A link signed before the one channel vocabulary names "phone": it still works, as a call.
    legacy = signing.Signer(salt=links.OPT_OUT_SALT).sign_object({"c": contact.pk, "ch": "phone"})
    assert links.opt_out_token_read(legacy) == (contact.pk, "call")
    with pytest.raises(signing.BadSignature):
        links.opt_out_token_read(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    # A hold token is signed with another salt: it is no opt-out token.
    with pytest.raises(signing.BadSignature):
        links.opt_out_token_read(signing.dumps({"c": contact.pk, "ch": "email"}, salt=links.HOLD_SALT))
    with pytest.raises(ValueError):
        links.opt_out_token(contact, "portal")
    url = links.opt_out_url(contact, "sms")
    assert url.startswith("http://testserver/compliance/opt-out/") and url.endswith("/")
    assert reverse("compliance:opt_out", args=[links.opt_out_token(contact, "sms")]) in url


def test_get_shows_a_confirm_button_and_changes_nothing(client, contact):
    response = client.get(links.opt_out_path(contact, "email"))
    assert response.status_code == 200
    body = response.content.decode()
    assert (
        "Stop these messages" in body and "Email</strong> · jane@example.com" in body and "ACME SAS" in body
    )
    contact.refresh_from_db()
    assert not contact.opt_out_email and not ContactPreferenceEvent.objects.exists()


def test_confirming_records_the_opt_out(client, contact):
    path = links.opt_out_path(contact, "email")
    page = client.get(path)
    token = page.cookies["csrftoken"].value
    response = client.post(path, {"csrfmiddlewaretoken": token})
    assert response.status_code == 200 and b"will no longer contact you" in response.content
    contact.refresh_from_db()
    assert contact.opt_out_email and not contact.opt_out_sms
    event = ContactPreferenceEvent.objects.get()
    assert (event.channel, event.opted_out, event.source, event.address) == (
        "email",
        True,
        "link",
        "jane@example.com",
    )
    assert client.get(path).content.count(b"already opted out") == 1


def test_a_plain_post_without_csrf_token_is_refused(client, contact):
    response = client.post(links.opt_out_path(contact, "email"), {"confirm": "1"})
    assert response.status_code == 403
    contact.refresh_from_db()
    assert not contact.opt_out_email


def test_rfc_8058_one_click_post_needs_no_csrf_token(client, contact):
    response = client.post(
        links.opt_out_path(contact, "email"),
        "List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.opt_out_email
    assert ContactPreferenceEvent.objects.get().source == "one_click"


def test_one_click_with_anything_else_in_the_body_is_not_exempt(client, contact):
    response = client.post(
        links.opt_out_path(contact, "email"),
        "List-Unsubscribe=One-Click&x=1",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 403
    contact.refresh_from_db()
    assert not contact.opt_out_email


def test_a_bad_token_is_a_404_page(client, contact):
    assert client.get("/compliance/opt-out/nonsense/").status_code == 404
    token = links.opt_out_token(cast(Any, SimpleNamespace(pk=contact.pk + 1000)), "email")  # no such contact
    assert client.get(f"/compliance/opt-out/{token}/").status_code == 404


def test_the_service_validates_its_source_and_channel(contact):
    with pytest.raises(ValidationFailed):
        contact_preference_set(contact=contact, channel="email", opted_out=True, source="rumour")
    with pytest.raises(ValidationFailed):
        contact_preference_set(contact=contact, channel="portal", opted_out=True, source="admin")
    contact_preference_set(contact=contact, channel="call", opted_out=True, source="admin")
    contact_preference_set(contact=contact, channel="phone", opted_out=True, source="api")  # the legacy name
    contact.refresh_from_db()
    assert contact.opt_out_phone
    events = ContactPreferenceEvent.objects.filter(contact=contact)
    assert [event.channel for event in events] == ["call", "call"]  # each request is evidence


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP", "opt_out"),
        ("  stop. ", "opt_out"),
        ("Please stop texting me", "opt_out"),
        ("Unsubscribe", "opt_out"),
        ("quit", "opt_out"),
        ("ARRÊT", "opt_out"),
        ("arret svp", "opt_out"),
        ("END", "opt_out"),
        ("Cancel", "opt_out"),
        ("退订", "opt_out"),
        ("I will pay at the end of the month", "none"),
        ("Cancel my order and send a credit note", "none"),
        ("Paid yesterday, thanks", "none"),
        ("START", "opt_in"),
        ("unstop", "opt_in"),
    ],
)
def test_sms_keywords(body, expected):
    assert sms_keyword(body)[0] == expected


def test_an_inbound_stop_opts_out_every_contact_with_that_number(make_customer, make_contact):
    first = make_contact(make_customer("C1"), phone="+33612345678")
    second = make_contact(make_customer("C2"), phone="+33612345678")
    other = make_contact(make_customer("C3"), phone="+33699999999")
    outcome = inbound_sms_keyword("+33 6 12 34 56 78", "Stop")
    assert outcome.action == "opt_out" and {c.pk for c in outcome.contacts} == {first.pk, second.pk}
    for contact, expected in ((first, True), (second, True), (other, False)):
        contact.refresh_from_db()
        assert contact.opt_out_sms is expected
    event = ContactPreferenceEvent.objects.filter(contact=first).get()
    assert event.source == "sms_stop" and "Stop" in event.detail
    assert inbound_sms_keyword("+33612345678", "start").action == "opt_in"
    first.refresh_from_db()
    assert not first.opt_out_sms
    assert inbound_sms_keyword("+33612345678", "when is it due?").contacts == ()
    assert inbound_sms_keyword("not a number", "STOP").contacts == ()


def test_the_page_speaks_the_customers_language(client, make_customer, make_contact):
    customer = make_customer("FR1", language="fr-CA")
    contact = make_contact(customer)
    body = client.get(links.opt_out_path(contact, "sms")).content.decode()
    assert "Ne plus recevoir ces messages" in body and "<strong>SMS</strong>" in body and 'lang="fr"' in body
    chinese = make_contact(make_customer("CN1", language="zh-Hans"))
    assert "停止接收这些消息" in client.get(links.opt_out_path(chinese, "email")).content.decode()
