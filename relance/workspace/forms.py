"""The workspace's forms: what a person typed, checked, with each error next to its field.

A form that fails is shown again with the values typed and each error in a sentence by its field
("Enter an amount above zero."), never a service's wording: the services check again (they are
also called by the API and the commands) and their rare refusals are turned into sentences by
``service_error``.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms

from relance.cases.models import DisputeReason, DisputeResolution
from relance.core.errors import ValidationFailed
from relance.core.money import parse_amount
from relance.core.text import sentence

NOTE_MAX = 1000
COMMENT_MAX = 4000

#: What a collector can record after a call; "reached" is a conversation without a commitment.
OUTCOME_CHOICES = (
    ("promise", "Promise to pay"),
    ("dispute", "Dispute"),
    ("reached", "Reached, no commitment"),
    ("no_answer", "No answer"),
    ("wrong_number", "Wrong number"),
    ("call_back", "Call back"),
)


# Words of a service's refusal that say which field it is about.
_FIELD_HINTS = (
    ("cannot dispute", "amount"),
    ("promised date", "promised_date"),
    ("promise:", "promised_date"),
    ("amount", "amount"),
    ("invoice", "invoice"),
    ("call back", "call_back_on"),
    ("snooze", "until"),
    ("reason", "reason"),
    ("days", "days"),
    ("note", "text"),
    ("grant", "collector"),
)


def service_error(form: forms.Form, exc: ValidationFailed) -> None:
    """Put a service's refusal on the field it is about (else on the form), as a sentence."""
    message = exc.message
    lowered = message.lower()
    field = next((name for hint, name in _FIELD_HINTS if hint in lowered and name in form.fields), None)
    message = re.sub(r"^[a-z_ ]+: (?=expected)", "", message)
    message = re.sub(r"\b(\d+\.\d\d)00\b", r"\1", message)  # stored amounts carry 4 decimals
    form.add_error(field, sentence(message))


class AmountField(forms.Field):
    """An amount typed as people type them (``1 234,56``, ``1,234.56``): a Decimal above zero."""

    def to_python(self, value: Any) -> Decimal | None:
        text = str(value or "").strip()
        if not text:
            return None
        if len(text) > 32:
            raise forms.ValidationError("Enter the amount as a number, such as 1234.50.")
        try:
            amount = parse_amount(text)
        except ValidationFailed:
            raise forms.ValidationError("Enter the amount as a number, such as 1234.50.") from None
        if amount <= 0:
            raise forms.ValidationError("Enter an amount above zero.")
        return amount


class OutcomeForm(forms.Form):
    """The outcome of a call on the customer 360 (the two-click form)."""

    outcome = forms.ChoiceField(
        choices=OUTCOME_CHOICES, error_messages={"required": "Choose the outcome of the call."}
    )
    promised_date = forms.DateField(
        required=False, error_messages={"invalid": "Enter the promised date as a date, such as 2026-12-31."}
    )
    amount = AmountField(required=False)
    invoice = forms.IntegerField(
        required=False, error_messages={"invalid": "Choose one of this customer's open invoices."}
    )
    reason_code = forms.ChoiceField(choices=DisputeReason.choices, required=False)
    call_back_on = forms.DateField(
        required=False,
        error_messages={"invalid": "Enter the day to call back as a date, such as 2026-12-31."},
    )
    call_back_at = forms.TimeField(
        required=False,
        error_messages={"invalid": "Enter the time to call back as hours and minutes, such as 14:30."},
    )
    note = forms.CharField(
        required=False,
        max_length=NOTE_MAX,
        error_messages={"max_length": f"Keep the note under {NOTE_MAX} characters."},
    )

    def __init__(self, *args: Any, customer: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.customer, self.today = customer, today

    def clean_invoice(self) -> Any:
        """The customer's invoice chosen (None: all open); another customer's is refused."""
        invoice_id = self.cleaned_data.get("invoice")
        if invoice_id is None:
            return None
        invoice = self.customer.invoices.filter(pk=invoice_id).first()
        if invoice is None:
            raise forms.ValidationError("Choose one of this customer's open invoices.")
        return invoice

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        outcome = data.get("outcome")
        if outcome == "promise":
            promised = data.get("promised_date")
            if promised is None and "promised_date" not in self.errors:
                self.add_error("promised_date", "Enter the date the customer promised to pay.")
            elif promised is not None and promised < self.today:
                self.add_error("promised_date", "Enter a promised date from today on.")
        if outcome == "dispute" and data.get("invoice") is None and "invoice" not in self.errors:
            self.add_error("invoice", "Choose the invoice the customer disputes.")
        if outcome == "call_back":
            on = data.get("call_back_on")
            if on is None and "call_back_on" not in self.errors:
                self.add_error("call_back_on", "Enter the day to call back.")
            elif on is not None and on < self.today:
                self.add_error("call_back_on", "Enter a day to call back from today on.")
        return data


class NoteForm(forms.Form):
    text = forms.CharField(
        max_length=NOTE_MAX * 4,
        error_messages={
            "required": "Write the note before adding it.",
            "max_length": f"Keep the note under {NOTE_MAX * 4} characters.",
        },
    )


class CommentForm(forms.Form):
    text = forms.CharField(
        max_length=COMMENT_MAX,
        error_messages={
            "required": "Write the comment before adding it.",
            "max_length": f"Keep the comment under {COMMENT_MAX} characters.",
        },
    )


class ResolveForm(forms.Form):
    resolution = forms.ChoiceField(
        choices=DisputeResolution.choices,
        error_messages={
            "required": "Choose how the dispute is resolved.",
            "invalid_choice": "Choose how the dispute is resolved.",
        },
    )
    note = forms.CharField(
        required=False,
        max_length=NOTE_MAX,
        error_messages={"max_length": f"Keep the note under {NOTE_MAX} characters."},
    )


class SnoozeForm(forms.Form):
    until = forms.DateField(
        required=False,
        error_messages={"invalid": "Enter the day to snooze until as a date, such as 2026-12-31."},
    )

    def __init__(self, *args: Any, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_until(self) -> date | None:
        until = self.cleaned_data.get("until")
        if until is not None and until < self.today:
            raise forms.ValidationError("Enter a day from today on to snooze until.")
        return until


class HoldForm(forms.Form):
    """The "I'm on it" hold request: a reason and a number of days."""

    reason = forms.CharField(
        error_messages={"required": "Say why you are on it (the reason is shown to the collectors)."}
    )
    days = forms.IntegerField(
        error_messages={
            "required": "Enter for how many days to hold the escalation.",
            "invalid": "Enter the days as a whole number.",
        }
    )

    def __init__(self, *args: Any, reason_max: int, days_max: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reason_max, self.days_max = reason_max, days_max

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if len(reason) > self.reason_max:
            raise forms.ValidationError(f"Keep the reason under {self.reason_max} characters.")
        return reason

    def clean_days(self) -> int:
        days = self.cleaned_data["days"]
        if not 1 <= days <= self.days_max:
            raise forms.ValidationError(f"Enter between 1 and {self.days_max} days.")
        return int(days)


class ReassignForm(forms.Form):
    """The collector of a customer (checked by the view against the entity's collectors)."""

    collector = forms.CharField(required=False)
