"""A remittance advice attached to a bank line splits it (issue 17, item 5).

``remittance_read`` parses the advice (``relance.cashapp.remittance``, pure) and finds each
reference among the entity's open invoices; ``line_remittance_split`` hands the allocations to
the one split service (``relance.cashapp.decisions.line_split``): the same checks, audit and
ledger writes as a split made by hand in the exception queue. What the advice does not cover of
the line's amount stays unapplied credit of the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from relance.cashapp import selectors
from relance.cashapp.models import BankLine
from relance.cashapp.remittance import Remittance, remittance_parse, remittance_resolve
from relance.core.actors import Actor
from relance.core.errors import ErrorList, FieldError
from relance.ledger.models import Entity

OVER_LINE = "at most the line's amount {amount} {currency} in all"


@dataclass(frozen=True)
class RemittanceRead:
    """An advice read against a line: the allocations it asks for (invoice ref, amount), merged
    per invoice in the advice's order, and what of the line it leaves unapplied."""

    line: BankLine
    remittance: Remittance
    allocations: tuple[tuple[str, Decimal], ...]

    @property
    def allocated(self) -> Decimal:
        return sum((amount for _, amount in self.allocations), Decimal("0"))

    @property
    def unapplied(self) -> Decimal:
        return self.line.amount - self.allocated

    def as_dict(self) -> dict[str, Any]:
        currency = self.line.currency
        return {
            "bank_ref": self.line.bank_ref,
            "source": self.remittance.source,
            "format": self.remittance.format,
            "allocations": [
                {"invoice_ref": ref, "amount": selectors.money_text(amount, currency)}
                for ref, amount in self.allocations
            ],
            "allocated": selectors.money_text(self.allocated, currency),
            "unapplied": selectors.money_text(self.unapplied, currency),
            "currency": currency,
        }


def remittance_read(*, entity: Entity, line: BankLine, text: str, source: str) -> RemittanceRead:
    """Parse ``text`` and resolve its references among the entity's open invoices in the line's
    currency; ``ErrorList`` naming the file, line and field of every problem."""
    remittance = remittance_parse(text, source=source)
    refs = [
        item.invoice_ref for item in selectors.open_items(entity=entity) if item.currency == line.currency
    ]
    merged: dict[str, Decimal] = {}
    for resolved in remittance_resolve(remittance, refs):
        merged[resolved.invoice_ref] = merged.get(resolved.invoice_ref, Decimal("0")) + resolved.item.amount
    read = RemittanceRead(line, remittance, tuple(merged.items()))
    if read.allocated > line.amount:
        raise ErrorList(
            [
                FieldError(
                    "amount",
                    OVER_LINE.format(
                        amount=selectors.money_text(line.amount, line.currency), currency=line.currency
                    ),
                    f"{selectors.money_text(read.allocated, line.currency)} {line.currency}",
                    None,
                    source,
                )
            ],
            code="remittance_invalid",
        )
    return read


def line_remittance_split(
    *, entity: Entity, line: BankLine, text: str, source: str, actor: Actor
) -> tuple[RemittanceRead, Any]:
    """Read the advice and split the line by it (``decisions.line_split``); what the split returned."""
    read = remittance_read(entity=entity, line=line, text=text, source=source)
    from relance.cashapp.decisions import line_split

    outcome = line_split(
        entity=entity,
        line=line,
        allocations=list(read.allocations),
        actor=actor,
        note=f"remittance advice {source}",
    )
    return read, outcome
