"""Issue 11's wording rules for the shipped templates, in every language.

* A message claims earlier reminders ("despite our reminders", "second reminder", "after our final
  notice") only when ``reminded_before`` is true: a customer's first contact never does.
* Disputed amounts are shown apart: each invoice shows what may be asked and the part under review;
  the total leaves the disputed part out and says so; unmatched cash is shown under the total.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
from markupsafe import escape

from relance.comms import context, defaults, services
from relance.comms.rendering import format_money
from relance.comms.services import message_render
from tests.comms.conftest import AS_OF

CLAIMS_EARLIER_REMINDERS = {
    "en": r"second reminder|despite our|previous reminders|after our final notice",
    "fr": r"deuxième rappel|2e rappel|malgré|précédents rappels|après (notre )?mise en demeure",
    "de": r"zweite erinnerung|2\. erinnerung|trotz|bisherigen erinnerungen|nach (unserer|der) letzten mahnung",
    "es": r"segundo recordatorio|2\.º recordatorio|a pesar|recordatorios no han|tras (nuestro|el) requerimiento",
    "it": r"secondo sollecito|2° sollecito|nonostante|promemoria sono rimasti|dopo (la nostra |la )diffida",
    "zh-hans": r"第二次提醒|尽管|此前的提醒|通知后",
}
"""Per language, the phrases by which a message says earlier reminders went out."""

CLAIMING_KEYS = (
    "overdue_neutral",
    "overdue_firm",
    "overdue_urgent",
    "final_notice",
    "handoff_external",
    "owner_account_overdue",
)
"""The keys whose body speaks of earlier reminders when there were some."""


def claims(language: str, text: str) -> list[str]:
    return re.findall(CLAIMS_EARLIER_REMINDERS[language], text, flags=re.IGNORECASE)


@pytest.fixture
def context_values(monkeypatch):
    """Set template variables on every message rendered: the ones main's context computes
    (``reminded_before``, ``disputed_amount``) are not computed on this branch."""
    overrides: dict[str, Any] = {}
    build = services.message_context

    def message_context(**kwargs: Any) -> context.MessageContext:
        built = build(**kwargs)
        built.values.update(overrides)
        return built

    monkeypatch.setattr(services, "message_context", message_context)
    return overrides


def render(ledger, key: str, channel: str, language: str):
    return message_render(
        customer=ledger.customer,
        template_key=key,
        channel=channel,
        as_of=AS_OF,
        contact=ledger.contact,
        language=language,
        message_key=f"wording/{key}/{channel}",
    )


def every_part(rendered) -> str:
    return "\n".join((rendered.subject, rendered.text, rendered.html))


def test_every_language_has_claim_markers():
    assert set(CLAIMS_EARLIER_REMINDERS) == set(defaults.LANGUAGES)


@pytest.mark.django_db
@pytest.mark.parametrize("language", defaults.LANGUAGES)
def test_first_contact_never_speaks_of_earlier_reminders(ledger, language, quick, context_values):
    context_values["reminded_before"] = False
    for key in sorted(defaults.KEYS):
        for channel in defaults.CHANNELS:
            rendered = render(ledger, key, channel, language)
            assert rendered.text.strip(), (key, channel, language)
            assert claims(language, every_part(rendered)) == [], (key, channel, language, rendered.text)


@pytest.mark.django_db
@pytest.mark.parametrize("language", defaults.LANGUAGES)
def test_later_reminders_say_so(ledger, language, quick, context_values):
    context_values["reminded_before"] = True
    for key in CLAIMING_KEYS:
        email = render(ledger, key, "email", language)
        assert claims(language, email.text), (key, language, email.text)
        assert claims(language, email.html), (key, language)
        letter = render(ledger, key, "letter", language)
        assert claims(language, letter.html), (key, language)
    neutral = render(ledger, "overdue_neutral", "email", language)
    assert claims(language, neutral.subject), (language, neutral.subject)
    assert claims(language, render(ledger, "overdue_neutral", "sms", language).text), language


@pytest.mark.django_db
def test_the_first_contact_wording_reads_naturally(ledger, quick, context_values):
    """The alternative sentences, not just the absence of a claim."""
    context_values["reminded_before"] = False
    neutral = render(ledger, "overdue_neutral", "email", "en")
    assert neutral.subject == "Payment reminder: €1,574.40 overdue"
    assert "As of today, 3 invoices remain unpaid. The amount outstanding is €1,574.40" in neutral.text
    assert "This is our final notice." in render(ledger, "final_notice", "email", "en").text
    assert (
        "Votre compte présente 1\u202f574,40\xa0€ d'impayés"
        in render(ledger, "final_notice", "email", "fr").text
    )
    assert (
        "Ihr Konto weist 1.574,40\xa0€ an überfälligen Beträgen auf"
        in render(ledger, "final_notice", "email", "de").text
    )
    handoff = render(ledger, "handoff_external", "email", "en").text
    assert "As the overdue amount of €1,574.40 has not been paid, your account has been passed" in handoff


# --- disputed amounts shown apart -----------------------------------------------------------

DISPUTED = {"INV-2026-002": Decimal("50.00")}
"""The ledger fixture's open dispute: 50.00 of INV-2026-002's 300.00 still open."""
UNAPPLIED = Decimal("75.00")
"""The unallocated payment the test adds (PAY-2)."""


@pytest.fixture
def disputes(ledger, make_payment):
    """The ledger fixture (50.00 of INV-2026-002 under dispute) plus a payment not yet matched."""
    make_payment(ledger.customer, "PAY-2", UNAPPLIED, AS_OF)
    return ledger


def label(language: str, name: str, amount: str) -> str:
    labels: Mapping[str, str] = defaults.labels(language)
    return labels[name].replace("{amount}", format_money(Decimal(amount), "EUR", language))


def line_of(text: str, ref: str) -> str:
    return next(line for line in text.splitlines() if ref in line)


@pytest.mark.django_db
@pytest.mark.parametrize("language", defaults.LANGUAGES)
def test_disputed_part_is_shown_apart_and_left_out_of_the_total(disputes, language, quick):
    money = {
        value: format_money(Decimal(value), "EUR", language) for value in ("250.00", "1574.40", "1624.40")
    }
    under_review = label(language, "under_review", "50.00")
    not_included = label(language, "not_included_under_review", "50.00")
    unmatched = label(language, "unapplied_cash", "75.00")
    email = render(disputes, "overdue_firm", "email", language)

    # Asked: what is owed (1,574.40) less the cash received but not yet matched (75.00).
    assert email.amount_due == Decimal("1499.40")
    disputed_line = line_of(email.text, "INV-2026-002")
    assert money["250.00"] in disputed_line and under_review in disputed_line, disputed_line
    assert under_review not in line_of(email.text, "INV-2026-001")
    total_line = line_of(email.text, defaults.labels(language)["total_due"])
    assert money["1574.40"] in total_line, total_line
    assert not_included in email.text and unmatched in email.text
    assert money["1624.40"] not in email.text and money["1624.40"] not in email.subject
    for html in (email.html, render(disputes, "overdue_firm", "letter", language).html):
        for expected in (money["250.00"], money["1574.40"], under_review, not_included, unmatched):
            assert str(escape(expected)) in html, (language, expected)
        assert money["1624.40"] not in html
    call = render(disputes, "collector_call", "call", language).text
    assert under_review in line_of(call, "INV-2026-002") and not_included in call and unmatched in call
    sms = render(disputes, "overdue_firm", "sms", language).text
    assert under_review not in sms and not_included not in sms


@pytest.mark.django_db
def test_disputed_amounts_in_english_and_french(disputes, quick):
    english = render(disputes, "overdue_firm", "email", "en").text
    assert (
        "- Invoice INV-2026-002, due Oct 31, 2026: €250.00 (23 days overdue); €50.00 under review" in english
    )
    assert (
        "Total due: €1,574.40\nNot included: €50.00 under review\nReceived, not yet matched: €75.00"
        in english
    )
    french = render(disputes, "overdue_firm", "email", "fr").text
    assert "Total dû\u202f: 1\u202f574,40\xa0€\nNon inclus\u202f: 50,00\xa0€ en cours d'examen" in french


@pytest.mark.django_db
def test_nothing_under_review_shows_no_dispute_lines(ledger, quick):
    from relance.cases.models import Dispute

    Dispute.objects.filter(customer=ledger.customer).delete()
    for language in defaults.LANGUAGES:
        for channel in ("email", "letter", "call"):
            rendered = render(ledger, "overdue_firm", channel, language)
            for name in ("under_review", "not_included_under_review", "unapplied_cash"):
                prefix = defaults.labels(language)[name].replace("{amount}", "\0").split("\0")
                fixed = max(prefix, key=len).strip()
                assert fixed not in every_part(rendered), (language, channel, name)
