"""Every workspace form refused: the page again (400) with what was typed and the error, in a
sentence, next to its field; nothing written."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse

from relance.cases.models import ContactLog, Dispute, Promise
from relance.workspace.models import CustomerNote, DisputeComment, WorklistSnooze

SENTENCE = re.compile(r'<(?:span|p) class="field-error"[^>]*>([^<]*)</(?:span|p)>')


def _errors(html: str) -> list[str]:
    return SENTENCE.findall(html)


def _assert_sentences(errors: list[str]) -> None:
    assert errors, "no error shown by a field"
    for error in errors:
        assert error[0].isupper() and error.endswith("."), f"not a sentence: {error!r}"
        assert "expected" not in error and "_" not in error, f"service wording: {error!r}"


def _outcome(client, ws, **data):
    return client.post(reverse("workspace:customer_outcome", args=[ws.late.pk]), data)


@pytest.mark.parametrize(
    "data,field,message",
    [
        (
            {"outcome": "promise", "promised_date": "", "amount": "100"},
            "promised_date",
            "Enter the date the customer promised to pay.",
        ),
        (
            {"outcome": "promise", "promised_date": "{tomorrow}", "amount": "-5"},
            "amount",
            "Enter an amount above zero.",
        ),
        (
            {"outcome": "promise", "promised_date": "{tomorrow}", "amount": "12abc"},
            "amount",
            "Enter the amount as a number, such as 1234.50.",
        ),
        (
            {"outcome": "promise", "promised_date": "31/31/2026", "amount": "100"},
            "promised_date",
            "Enter the promised date as a date, such as 2026-12-31.",
        ),
        (
            {"outcome": "dispute", "amount": "100", "reason_code": "pricing"},
            "invoice",
            "Choose the invoice the customer disputes.",
        ),
        ({"outcome": "call_back", "call_back_on": ""}, "call_back_on", "Enter the day to call back."),
        (
            {"outcome": "call_back", "call_back_on": "{yesterday}"},
            "call_back_on",
            "Enter a day to call back from today on.",
        ),
        (
            {"outcome": "call_back", "call_back_on": "{tomorrow}", "call_back_at": "25:99"},
            "call_back_at",
            "Enter the time to call back as hours and minutes, such as 14:30.",
        ),
    ],
)
def test_a_refused_outcome_keeps_what_was_typed(ws, client_for, data, field, message):
    days = {"tomorrow": ws.today + timedelta(days=1), "yesterday": ws.today - timedelta(days=1)}
    typed = {key: value.format(**{k: v.isoformat() for k, v in days.items()}) for key, value in data.items()}
    response = _outcome(client_for(ws.ana), ws, note="called the AP desk", **typed)
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="outcome-error-{field}">{message}</span>' in html
    assert f'aria-describedby="outcome-error-{field}"' in html
    for name, value in typed.items():
        if value and name != "reason_code":
            assert f'value="{value}"' in html, f"{name} typed {value!r} is not shown again"
    assert 'value="called the AP desk"' in html
    assert '<form method="post" action="/w/customers/' in html and "hidden novalidate" not in html
    _assert_sentences(_errors(html))
    assert not Promise.objects.exists() and not Dispute.objects.exists() and not ContactLog.objects.exists()


def test_another_customers_invoice_is_a_field_error(ws, client_for):
    other_invoice = ws.other.invoices.first()
    response = _outcome(client_for(ws.ana), ws, outcome="dispute", invoice=str(other_invoice.pk))
    assert response.status_code == 400
    assert "Choose one of this customer&#x27;s open invoices." in response.content.decode()
    assert f'data-selected="{other_invoice.pk}"' in response.content.decode()


def test_a_service_refusal_reads_as_a_sentence_by_its_field(ws, client_for):
    """The form passes, the service refuses (a disputed amount above the open amount): its words
    become a sentence on the amount field."""
    invoice = ws.late.invoices.get(external_ref="INV-L2")  # 300.00 open
    response = _outcome(
        client_for(ws.ana),
        ws,
        outcome="dispute",
        invoice=str(invoice.pk),
        amount="5000",
        reason_code="pricing",
    )
    assert response.status_code == 400
    errors = _errors(response.content.decode())
    _assert_sentences(errors)
    assert 'id="outcome-error-amount">Invoice INV-L2 has 300.00 open' in response.content.decode()


def test_an_empty_note_is_refused_by_its_field(ws, client_for):
    response = client_for(ws.ana).post(reverse("workspace:customer_note", args=[ws.late.pk]), {"text": "   "})
    assert response.status_code == 400
    assert '<span class="field-error" id="note-error">Write the note before adding it.</span>' in (
        response.content.decode()
    )
    assert not CustomerNote.objects.exists()


def test_a_too_long_note_comes_back_as_typed(ws, client_for):
    text = "word " * 1000
    response = client_for(ws.ana).post(reverse("workspace:customer_note", args=[ws.late.pk]), {"text": text})
    assert response.status_code == 400
    html = response.content.decode()
    assert text.strip() in html and "Keep the note under 4000 characters." in html


def test_bulk_without_a_selection_says_so_by_the_checkboxes(ws, client_for):
    response = client_for(ws.ana).post(reverse("workspace:worklist_bulk"), {"action": "snooze"})
    assert response.status_code == 400
    assert 'id="bulk-error-customer">Select at least one customer.</span>' in response.content.decode()


def test_bulk_snooze_in_the_past_keeps_the_selection_and_the_date(ws, client_for):
    yesterday = (ws.today - timedelta(days=1)).isoformat()
    response = client_for(ws.ana).post(
        reverse("workspace:worklist_bulk"),
        {"action": "snooze", "customer": [ws.late.pk], "until": yesterday},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="bulk-error-until">Enter a day from today on to snooze until.</span>' in html
    assert f'value="{yesterday}"' in html
    assert f'value="{ws.late.pk}" checked' in html and f'value="{ws.second.pk}" checked' not in html
    assert not WorklistSnooze.objects.exists()


def _dispute(ws):
    return Dispute.objects.create(
        entity=ws.acme,
        customer=ws.late,
        invoice=ws.late.invoices.get(external_ref="INV-L1"),
        amount=100,
        reason_code="pricing",
        opened_on=ws.today,
    )


def test_an_empty_dispute_comment_is_refused_by_its_field(ws, client_for):
    dispute = _dispute(ws)
    response = client_for(ws.ana).post(reverse("workspace:dispute_comment", args=[dispute.pk]), {"text": ""})
    assert response.status_code == 400
    assert 'id="comment-error">Write the comment before adding it.</span>' in response.content.decode()
    assert not DisputeComment.objects.exists()


def test_resolving_without_a_resolution_keeps_the_note(ws, client_for):
    dispute = _dispute(ws)
    response = client_for(ws.manager).post(
        reverse("workspace:dispute_resolve", args=[dispute.pk]), {"note": "credit note next week"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="resolve-error">Choose how the dispute is resolved.</span>' in html
    assert 'value="credit note next week"' in html


def test_every_form_message_is_a_sentence():
    """Each error a workspace form can show starts with a capital and ends with a full stop."""
    from django import forms as django_forms

    from relance.workspace import forms

    classes = [
        value
        for value in vars(forms).values()
        if isinstance(value, type) and issubclass(value, django_forms.Form) and value is not django_forms.Form
    ]
    assert len(classes) >= 7
    for form_class in classes:
        for name, field in form_class.base_fields.items():
            for key, message in field.error_messages.items():
                text = str(message)
                if (
                    "%(" in text
                ):  # Django's own messages with a limit filled in (not shown: ours replace them)
                    continue
                assert text[0].isupper() and text.endswith("."), (
                    f"{form_class.__name__}.{name} {key}: {text!r}"
                )
