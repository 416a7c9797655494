"""The commands' human-readable output speaks money and dates like the pages; --json stays exact (issue 21)."""

from __future__ import annotations

import pytest

from relance.core.formatting import format_money
from tests.dunning.conftest import command, command_json


@pytest.fixture
def owed(scenario):
    scenario.customer("CD")
    scenario.invoice("CD", "IC1", "1234.50", due="2026-03-01")
    scenario.invoice("CD", "IC2", "4000.00", due="2026-03-10")
    return scenario


def test_dispute_promise_and_plan_lines_format_money_and_dates(owed):
    opened = command(
        "dispute", "open", "--invoice", "IC1", "--reason", "pricing", "--amount", "900", "--on", "2026-04-01"
    )
    from relance.cases.models import Dispute, Promise

    dispute = Dispute.objects.get()  # ids differ between databases (PostgreSQL keeps sequences)
    assert opened == f"Dispute opened: #{dispute.pk} on IC1 for €900.00 (pricing, open)\n"
    assert "900.0000" not in command("dispute", "list") and "€900.00 pricing since Apr 1, 2026" in command(
        "dispute", "list"
    )
    promised = command(
        "promise", "add", "--customer", "CD", "--date", "2026-04-20", "--invoice", "IC2", "--on", "2026-04-05"
    )
    promise = Promise.objects.get()
    assert promised.startswith(
        f"Promise recorded: #{promise.pk} CD promises €4,000.00 by Apr 20, 2026 (open) for IC2"
    )
    assert (
        command_json("promise", "list", "--customer", "CD")[0]["amount"] == "4000.0000"
    )  # exact for machines


def test_the_run_table_and_outbox_show_format_amounts_in_the_entitys_language(owed):
    owed.entity.language = "fr"
    owed.entity.save()
    table = command("run", "--as-of", "2026-04-16")
    total = format_money("5234.50", "EUR", "fr")
    assert total in table and "5234.5000" not in table
    assert "16 avr. 2026" in table  # the run's date, as the entity's pages write it
    decisions = command_json("run", "--as-of", "2026-04-16")["decisions"]
    assert decisions[0]["amount_due"] == "5234.5000"  # --json keeps the exact decimal string
    from relance.delivery.models import OutboundMessage

    message = OutboundMessage.objects.get()
    shown = command("outbox", "show", str(message.pk))
    assert f"amount_due: {total}" in shown
    assert command_json("outbox", "show", str(message.pk))["amount_due"] == "5234.5000"
