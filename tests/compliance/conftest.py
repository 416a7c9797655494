"""Fixtures of the compliance tests: outbox rows and run actions made directly (no rendering)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

_keys = itertools.count(1)


@pytest.fixture
def make_contact():
    from relance.ledger.models import Contact

    def make(customer, **fields):
        fields.setdefault("name", "Jane Doe")
        fields.setdefault("email", "jane@example.com")
        fields.setdefault("phone", "+33612345678")
        return Contact.objects.create(customer=customer, **fields)

    return make


@pytest.fixture
def make_action(entity):
    from relance.dunning.models import DunningAction, DunningRun

    def make(
        customer,
        *,
        on: date = date(2026, 3, 2),
        policy_key: str = "standard",
        channel: str = "email",
        action: str = "message",
    ):
        run, _ = DunningRun.objects.get_or_create(
            entity=customer.entity,
            as_of=on,
            defaults={
                "started_at": datetime(2026, 3, 2, tzinfo=UTC),
                "finished_at": datetime(2026, 3, 2, tzinfo=UTC),
            },
        )
        from relance.ledger.models import Invoice

        # One open invoice of 100 EUR behind the action: the send-time check finds it still owed.
        invoice = Invoice.objects.create(
            entity=customer.entity,
            customer=customer,
            external_ref=f"INV-{next(_keys)}",
            issue_date=date(2026, 1, 1),
            due_date=date(2026, 2, 1),
            currency="EUR",
            amount=Decimal("100"),
        )
        made = DunningAction.objects.create(
            run=run,
            entity=customer.entity,
            customer=customer,
            on=on,
            kind="overdue",
            policy_key=policy_key,
            step_key=f"step{next(_keys)}",
            step_index=0,
            offset_days=1,
            action=action,
            channel=channel,
            step_channels=[channel] if channel else [],
            is_contact=action in {"message", "task"},
            tone="firm",
            template_key="overdue_firm",
            currency="EUR",
            amount_due=Decimal("100"),
            invoice_count=1,
            max_days_past_due=1,
        )
        made.invoices.set([invoice])
        return made

    return make


@pytest.fixture
def make_message(entity):
    from relance.delivery.models import OutboundMessage

    def make(
        customer,
        *,
        channel: str = "email",
        contact=None,
        status: str = "queued",
        sent_at=None,
        action=None,
        recipient: str | None = None,
        template_key: str = "overdue_firm",
        headers=None,
        body_text: str = "",
    ):
        key = f"test-{next(_keys)}"
        if recipient is None:
            recipient = (
                (contact.email if channel == "email" else contact.phone) if contact else "x@example.com"
            )
        return OutboundMessage.objects.create(
            idempotency_key=key,
            message_id=f"<{key}@test>",
            entity=customer.entity,
            customer=customer,
            contact=contact,
            action=action,
            run=getattr(action, "run", None),
            channel=channel,
            template_key=template_key,
            language="en",
            recipient=recipient,
            body_text=body_text,
            headers=headers or {},
            status=status,
            next_attempt_at=sent_at or datetime(2026, 3, 1, tzinfo=UTC),
            queued_at=sent_at or datetime(2026, 3, 1, tzinfo=UTC),
            sent_at=sent_at,
            amount_due=action.amount_due if action is not None else None,
            currency=action.currency if action is not None else "",
        )

    return make


@pytest.fixture(autouse=True)
def _fresh_compliance_caches():
    from relance.compliance.selectors import caches_clear

    caches_clear()
    yield
    caches_clear()
