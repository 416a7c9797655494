"""Every shipped key × channel × language renders for a real customer, with its amounts and refs."""

from __future__ import annotations

import re
from typing import Any

import pytest

from relance.comms import defaults
from relance.comms.rendering import format_money
from relance.comms.services import message_render
from tests.comms.conftest import AS_OF

OPEN_REFS = ("INV-2026-001", "INV-2026-002", "INV-2026-003")
TOTAL = "1574.40"  # 1234.50 + (500 - 200 - 50 under dispute) + 89.90
LEFTOVER = re.compile(r"\{\{|\}\}|\{%|%\}|Undefined|None\b")


def test_every_policy_template_key_has_a_default():
    import yaml

    from relance.engine.dunning.policy import __file__ as policy_file

    used = set()
    from pathlib import Path

    for path in (Path(policy_file).parent / "policies").glob("*.yaml"):
        for step in yaml.safe_load(path.read_text())["steps"]:
            used.add(step.get("template") or step["key"])
    used |= {"installment_upcoming", "installment_overdue"}  # the engine's installment_<phase>
    assert used - set(defaults.KEYS) == set()


def test_every_language_has_every_key_and_label():
    english: dict[str, Any] = defaults.wording("en")
    for language in defaults.LANGUAGES:
        wording: dict[str, Any] = defaults.wording(language)
        assert set(wording["templates"]) == set(defaults.KEYS), language
        assert set(wording["labels"]) == set(english["labels"]), language
        assert set(wording["phrases"]) == set(english["phrases"]), language
        for key, entry in wording["templates"].items():
            assert {"subject", "body", "sms"} <= set(entry), (language, key)


# Messages about something else than what is owed (a saved card expiring): no invoices, no total.
ABOUT_NO_INVOICE = ("card_expiring",)


@pytest.mark.django_db
@pytest.mark.parametrize("language", defaults.LANGUAGES)
def test_every_key_and_channel_renders(ledger, language, quick):
    total = format_money(__import__("decimal").Decimal(TOTAL), "EUR", language)
    english_subjects = {}
    for key, spec in sorted(defaults.KEYS.items()):
        for channel in defaults.CHANNELS:
            rendered = message_render(
                customer=ledger.customer,
                template_key=key,
                channel=channel,
                as_of=AS_OF,
                contact=ledger.contact,
                language=language,
                message_key=f"test/{key}/{channel}",
            )
            where = f"{key} [{channel}, {language}]"
            assert rendered.language == language, where
            assert rendered.text.strip(), where
            assert not LEFTOVER.search(rendered.text), (where, rendered.text)
            assert not LEFTOVER.search(rendered.subject), where
            assert rendered.currency == "EUR"
            assert str(rendered.amount_due.quantize(__import__("decimal").Decimal("0.01"))) == TOTAL, where
            if channel == "sms":
                assert len(rendered.text) <= 320, (where, len(rendered.text), rendered.text)
                continue
            if channel == "portal":
                continue
            assert rendered.subject, where
            bodies = [rendered.text] + ([rendered.html] if rendered.html else [])
            if key in ABOUT_NO_INVOICE:
                continue
            for body in bodies:
                for ref in OPEN_REFS:
                    assert ref in body, (where, ref)
                assert total in body or total.replace("\u202f", "&#8239;") in body, (where, total)
            if channel in ("email", "letter"):
                assert rendered.html.lstrip().lower().startswith("<!doctype html>"), where
                assert "#123456" in rendered.html, where  # the entity's colour
                assert not LEFTOVER.search(rendered.html), where
                if spec.payment and spec.audience == "customer":
                    grouped = " ".join(re.findall(".{1,4}", rendered.rf_reference))
                    assert grouped in rendered.text and grouped in rendered.html, where
                    assert "FR76 3000 6000 0112 3456 7890 189" in rendered.html, where
                    assert "data:image/" in rendered.html, where  # the EPC QR code
                else:
                    assert "FR76 3000" not in rendered.html, where
            if channel == "email":
                english_subjects[key] = rendered.subject
                if spec.audience == "customer":
                    assert rendered.links["opt_out"] in rendered.text, where
                    assert rendered.links["opt_out"] in rendered.html.replace("&amp;", "&"), where
            if channel == "call":
                assert "Jeanne Dupont" in rendered.text and "+33612345678" in rendered.text, where


@pytest.mark.django_db
def test_languages_read_differently(ledger, quick):
    subjects = {
        language: message_render(
            customer=ledger.customer,
            template_key="overdue_firm",
            channel="email",
            as_of=AS_OF,
            language=language,
        ).subject
        for language in defaults.LANGUAGES
    }
    assert len(set(subjects.values())) == len(defaults.LANGUAGES)
    assert subjects["fr"].startswith("Compte en retard")
    assert subjects["de"].startswith("Mahnung")
    assert subjects["zh-hans"].startswith("账户逾期")


@pytest.mark.django_db
def test_event_details_reach_the_message(ledger, quick):
    def text(key, language="en"):
        return message_render(
            customer=ledger.customer, template_key=key, channel="email", as_of=AS_OF, language=language
        ).text

    assert "€1,234.50 by November 20, 2026" in text("promise_confirmation")
    assert "invoice INV-2026-002 (€50.00, reason: quantity)" in text("dispute_received")
    assert "motif : quantité" in text("dispute_received", "fr")
    assert "Instalment 1 of your payment plan, €300.00, was due on November 15, 2026" in text(
        "installment_overdue"
    )
    assert "Instalment 2 of 2 of your payment plan, €300.00, is due on December 15, 2026" in text(
        "installment_upcoming"
    )
    assert "payment of €210.00 on November 5, 2026" in text("payment_thank_you")
    owner = text("owner_before_final_notice")
    assert owner.startswith("Hello Sam,")
    assert "Globex Industries (C-100)" in owner
    assert "Unsubscribe" not in owner
