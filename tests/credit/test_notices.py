"""Smart notices: utilisation crossing 80 % and 100 % (once per crossing), saved cards expiring,
through the outbox, in the customer's language, and true when they leave."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from relance.core.credit_notices import card_expiring, crossing_changes, thresholds_reached
from relance.credit.models import UtilisationNotice
from relance.credit.services.notices import (
    card_message_key,
    notices_run,
    utilisation_message_key,
    utilisation_now,
)
from relance.credit.services.scoring import scores_compute
from relance.delivery.compliance import outbound_verdict
from relance.delivery.models import OutboundMessage
from relance.ledger.models import Allocation, Contact
from relance.portal.payments.cards import saved_card_record

AS_OF = date(2026, 9, 1)
NOON = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


# --- the pure rule ---------------------------------------------------------------------------------


def test_thresholds_reached_and_the_crossing_rule() -> None:
    assert thresholds_reached(None) == ()
    assert thresholds_reached(Decimal("79.99")) == ()
    assert thresholds_reached(Decimal("80")) == (80,)
    assert thresholds_reached(Decimal("130")) == (80, 100)
    first = crossing_changes([], Decimal("85"))
    assert (first.opened, first.cleared, first.notify) == ((80,), (), 80)
    both = crossing_changes([], Decimal("120"))
    assert (both.opened, both.notify) == ((80, 100), 100)  # one message, about the higher
    same = crossing_changes([80], Decimal("90"))
    assert (same.opened, same.cleared, same.notify) == ((), (), None)  # already noticed
    down = crossing_changes([80, 100], Decimal("90"))
    assert (down.opened, down.cleared) == ((), (100,))
    gone = crossing_changes([80], None)  # no limit any more
    assert gone.cleared == (80,)


def test_a_card_is_expiring_within_30_days_of_its_last_day() -> None:
    assert card_expiring(2026, 9, date(2026, 9, 1))  # good through 30 September: 29 days
    assert not card_expiring(2026, 10, date(2026, 9, 1))  # 31 October: 60 days
    assert card_expiring(2026, 10, date(2026, 10, 1))
    assert not card_expiring(2026, 8, date(2026, 9, 1))  # already expired


# --- the daily notices -----------------------------------------------------------------------------


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user(
        "sam", email="sam.sales@example.com", password="x", first_name="Sam"
    )


@pytest.fixture
def customer(entity, make_customer, owner):
    customer = make_customer("C1", credit_limit=Decimal("1000"), sales_owner=owner)
    Contact.objects.create(customer=customer, name="Ada Payable", role="billing", email="ap@c1.example")
    return customer


def _score_and_notice(entity, on=AS_OF):
    scores_compute(entity=entity, as_of=on)
    return notices_run(entity=entity, as_of=on, now=NOON)


def _pay(entity, customer, make_payment, invoice, amount, on):
    payment = make_payment(customer, f"PAY-{invoice.external_ref}-{amount}", amount, on)
    Allocation.objects.create(
        entity=entity, invoice=invoice, payment=payment, date=on, amount=Decimal(amount)
    )


@pytest.mark.django_db
def test_crossing_80_tells_the_customer_and_its_sales_owner_once(entity, customer, make_invoice) -> None:
    make_invoice(customer, "I1", "850", date(2026, 8, 15), date(2026, 9, 14))
    report = _score_and_notice(entity)
    assert (report.opened, report.queued, report.skipped) == (1, 2, ())
    notice = UtilisationNotice.objects.get(customer=customer)
    assert (notice.threshold, notice.utilisation, notice.crossed_on) == (80, Decimal("85.00"), AS_OF)
    assert notice.notified_at is not None
    to_customer = OutboundMessage.objects.get(idempotency_key=utilisation_message_key(notice, "customer"))
    to_owner = OutboundMessage.objects.get(idempotency_key=utilisation_message_key(notice, "owner"))
    assert (to_customer.recipient, to_customer.channel, to_customer.template_key) == (
        "ap@c1.example",
        "email",
        "credit_utilisation",
    )
    assert "85 % of its credit limit" in to_customer.body_text
    assert to_customer.headers["still_true"] == "credit_utilisation"
    assert (to_owner.recipient, to_owner.headers.get("internal")) == ("sam.sales@example.com", True)
    assert "Customer C1" in to_owner.subject
    assert "compliance/hold" not in to_owner.body_text  # a notice escalates nothing: no hold button
    again = notices_run(entity=entity, as_of=AS_OF, now=NOON)
    assert (again.opened, again.queued) == (0, 0)
    assert OutboundMessage.objects.count() == 2


@pytest.mark.django_db
def test_once_per_crossing_then_again_after_it_clears(entity, customer, make_invoice, make_payment) -> None:
    invoice = make_invoice(customer, "I1", "850", date(2026, 8, 15), date(2026, 9, 14))
    _score_and_notice(entity)
    second = make_invoice(customer, "I2", "200", date(2026, 9, 2), date(2026, 10, 2))
    report = _score_and_notice(entity, date(2026, 9, 2))  # 1,050: crosses 100, 80 stays open
    assert (report.opened, report.queued) == (1, 2)
    assert sorted(UtilisationNotice.objects.filter(cleared_on=None).values_list("threshold", flat=True)) == [
        80,
        100,
    ]
    _pay(entity, customer, make_payment, invoice, "850", date(2026, 9, 3))  # 200: below both
    report = _score_and_notice(entity, date(2026, 9, 3))
    assert (report.cleared, report.opened, report.queued) == (2, 0, 0)
    assert not UtilisationNotice.objects.filter(cleared_on=None).exists()
    make_invoice(customer, "I3", "700", date(2026, 9, 4), date(2026, 10, 4))  # 900: crosses 80 again
    report = _score_and_notice(entity, date(2026, 9, 4))
    assert (report.opened, report.queued) == (1, 2)
    assert UtilisationNotice.objects.filter(threshold=80).count() == 2
    assert second.pk


@pytest.mark.django_db
def test_crossing_both_at_once_sends_one_message_about_100(entity, customer, make_invoice) -> None:
    make_invoice(customer, "I1", "1200", date(2026, 8, 15), date(2026, 9, 14))
    report = _score_and_notice(entity)
    assert (report.opened, report.queued) == (2, 2)
    message = OutboundMessage.objects.get(recipient="ap@c1.example")
    assert message.subject == "Your credit limit is reached"


@pytest.mark.django_db
def test_in_the_customers_language_and_on_its_preferred_channel(entity, customer, make_invoice) -> None:
    customer.language = "fr"
    customer.save()
    contact = customer.contacts.get()
    contact.phone = "+33612345678"
    contact.preferred_channel = "sms"
    contact.save()
    make_invoice(customer, "I1", "900", date(2026, 8, 15), date(2026, 9, 14))
    _score_and_notice(entity)
    message = OutboundMessage.objects.get(template_key="credit_utilisation")
    assert (message.channel, message.recipient, message.language) == ("sms", "+33612345678", "fr")
    assert "plafond de crédit" in message.body_text


@pytest.mark.django_db
def test_a_customer_without_a_limit_or_a_contact(entity, make_customer, make_invoice) -> None:
    unlimited = make_customer("U")
    make_invoice(unlimited, "U1", "5000", date(2026, 8, 15), date(2026, 9, 14))
    silent = make_customer("S", credit_limit=Decimal("100"))
    make_invoice(silent, "S1", "500", date(2026, 8, 15), date(2026, 9, 14))
    report = _score_and_notice(entity)
    assert report.opened == 2  # S: 80 and 100; U has no limit: nothing to cross
    assert report.queued == 0
    assert report.skipped == ("S: no contact to tell (email: no contact; sms: no contact)",)


@pytest.mark.django_db
def test_no_scoring_no_notice(entity, customer) -> None:
    report = notices_run(entity=entity, as_of=AS_OF, now=NOON)
    assert report.scoring_day is None
    assert report.skipped == ("no scoring on or before this day",)


# --- true when it leaves ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_send_time_check_reads_the_utilisation_again(
    entity, customer, make_invoice, make_payment, django_assert_max_num_queries
) -> None:
    invoice = make_invoice(customer, "I1", "850", date(2026, 8, 15), date(2026, 9, 14))
    _score_and_notice(entity)
    message = OutboundMessage.objects.get(recipient="ap@c1.example")
    assert outbound_verdict(message, now=NOON).allowed
    _pay(entity, customer, make_payment, invoice, "300", AS_OF)  # 550 of 1,000 before it leaves
    assert utilisation_now(customer=customer, on=AS_OF) == Decimal("55.00")
    verdict = outbound_verdict(message, now=NOON)
    assert (verdict.allowed, verdict.cancel, verdict.code) == (False, True, "below_threshold")
    assert verdict.reason == "utilisation is now 55.00 %, below the 80 % this notice is about"
    owner_message = OutboundMessage.objects.get(recipient="sam.sales@example.com")
    with django_assert_max_num_queries(6):  # the notice, the customer as its exposure reads it, its ledger
        assert outbound_verdict(owner_message, now=NOON).cancel


@pytest.mark.django_db
def test_a_cleared_notice_is_not_sent(entity, customer, make_invoice) -> None:
    make_invoice(customer, "I1", "850", date(2026, 8, 15), date(2026, 9, 14))
    _score_and_notice(entity)
    UtilisationNotice.objects.update(cleared_on=date(2026, 9, 2))
    message = OutboundMessage.objects.get(recipient="ap@c1.example")
    verdict = outbound_verdict(message, now=NOON)
    assert verdict.cancel
    assert verdict.reason == "utilisation fell back below 80 % on 2026-09-02"


@pytest.mark.django_db
def test_the_worker_cancels_it_with_the_reason(entity, customer, make_invoice, make_payment) -> None:
    from relance.delivery.worker import send_pass

    invoice = make_invoice(customer, "I1", "850", date(2026, 8, 15), date(2026, 9, 14))
    _score_and_notice(entity)
    _pay(entity, customer, make_payment, invoice, "850", AS_OF)
    send_pass(now=NOON, worker_id="test")
    message = OutboundMessage.objects.get(recipient="ap@c1.example")
    assert message.status == "cancelled"
    assert message.last_error.startswith("utilisation is now 0.00 %")
    assert message.events.filter(kind="cancelled", detail__code="below_threshold").exists()


# --- saved cards -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_card_expiring_within_30_days_gets_one_notice_with_a_portal_link(entity, customer) -> None:
    card = saved_card_record(
        customer=customer,
        provider="stripe",
        provider_ref="pm_1",
        brand="visa",
        last4="4242",
        exp_month=9,
        exp_year=2026,
    )
    saved_card_record(
        customer=customer,
        provider="stripe",
        provider_ref="pm_2",
        brand="visa",
        last4="1111",
        exp_month=12,
        exp_year=2027,
    )
    report = notices_run(entity=entity, as_of=AS_OF, now=NOON)
    assert report.cards == 1
    message = OutboundMessage.objects.get(idempotency_key=card_message_key(card))
    assert message.subject == "Your saved card ending 4242 expires soon"
    assert "Visa card ending 4242" in message.body_text
    assert message.links.get("portal") and message.links["portal"] in message.body_text
    assert notices_run(entity=entity, as_of=date(2026, 9, 2), now=NOON).cards == 0  # once per card and expiry
    assert outbound_verdict(message, now=NOON).allowed
    saved_card_record(
        customer=customer,
        provider="stripe",
        provider_ref="pm_1",
        brand="visa",
        last4="4242",
        exp_month=9,
        exp_year=2029,
    )
    verdict = outbound_verdict(message, now=NOON)
    assert (verdict.cancel, verdict.code) == (True, "card_updated")


@pytest.mark.django_db
def test_the_daily_entry_point_runs_notices_and_declaration_tasks(entity, customer, make_invoice) -> None:
    from relance.credit.services.insurance import insurance_set
    from relance.credit.services.notices import credit_notices_run

    insurance_set(customer=customer, insurer="Atradius", insured_limit=Decimal("500"), declaration_days=60)
    make_invoice(customer, "I1", "900", date(2026, 6, 1), date(2026, 7, 5))  # deadline 2026-09-03
    scores_compute(entity=entity, as_of=AS_OF)
    report = credit_notices_run(entity=entity, as_of=AS_OF, now=NOON)
    data = report.as_dict()
    assert (data["opened"], data["queued"]) == (1, 2)
    assert [(item["invoice_ref"], item["deadline"]) for item in data["declaration_tasks"]] == [
        ("I1", "2026-09-03")
    ]
    again = credit_notices_run(entity=entity, as_of=AS_OF, now=NOON).as_dict()
    assert (again["queued"], again["declaration_tasks"]) == (0, [])


def _stripe_event(kind: str, event_id: str, exp_year: int, metadata: dict[str, str]) -> bytes:
    """A ``payment_method.*`` event as Stripe documents it (trimmed to the fields we read)."""
    import json

    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "created": 1788000000,
            "data": {
                "object": {
                    "id": "pm_1Q0PsIJvEtkwdCNYMSaVuRz6",
                    "object": "payment_method",
                    "type": "card",
                    "customer": "cus_NffrFeUfNV2Hib",
                    "metadata": metadata,
                    "card": {"brand": "mastercard", "last4": "4444", "exp_month": 9, "exp_year": exp_year},
                }
            },
        }
    ).encode()


@pytest.mark.django_db
def test_stripe_card_events_record_the_saved_card(entity, customer, client, settings) -> None:
    import time

    from relance.portal.models import SavedCard
    from relance.portal.payments import stripe

    settings.RELANCE_STRIPE_SECRET_KEY = "sk_test_123"
    settings.RELANCE_STRIPE_WEBHOOK_SECRET = "whsec_test"

    def post(payload: bytes) -> int:
        header = stripe.signature_header(payload=payload, secret="whsec_test", timestamp=int(time.time()))
        return client.post(
            "/portal/webhooks/stripe/",
            data=payload,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=header,
        ).status_code

    assert post(_stripe_event("payment_method.attached", "evt_1", 2026, {})) == 200
    assert not SavedCard.objects.exists()  # whose card? nobody said
    metadata = {"customer_id": str(customer.pk)}
    assert post(_stripe_event("payment_method.attached", "evt_2", 2026, metadata)) == 200
    card = SavedCard.objects.get()
    assert (card.customer, card.brand, card.last4, card.exp_month, card.exp_year) == (
        customer,
        "mastercard",
        "4444",
        9,
        2026,
    )
    assert post(_stripe_event("payment_method.automatically_updated", "evt_3", 2030, {})) == 200  # known card
    card.refresh_from_db()
    assert card.exp_year == 2030
    assert post(_stripe_event("payment_method.detached", "evt_4", 2030, {})) == 200
    card.refresh_from_db()
    assert card.removed_at is not None
