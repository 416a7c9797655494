"""Helpers shared by the collections commands: dates, entities, customers and invoices by reference."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.core.management.base import CommandError, CommandParser

from relance.core.calendar import parse_iso_date
from relance.core.clock import Clock, SystemClock, zone
from relance.core.errors import RelanceError
from relance.core.formatting import format_day, format_money
from relance.core.money import parse_amount
from relance.ledger.models import Customer, Entity, Invoice
from relance.ledger.selectors import customer_get, entity_resolve

# The clock "today" comes from; tests and simulations replace it with a FrozenClock.
CLOCK: Clock = SystemClock()


def money(amount: Decimal, currency: str, entity_obj: Entity) -> str:
    """An amount for the operator, as the pages show it (the entity's language)."""
    return format_money(amount, currency, entity_obj.language)


def day(value: date, entity_obj: Entity) -> str:
    """A business date for the operator, as the pages show it (the entity's language)."""
    return format_day(value, entity_obj.language, "medium")


def add_entity(parser: CommandParser) -> None:
    parser.add_argument("--entity", metavar="NAME", help="Entity's short name (default: the only one)")


def add_on(parser: CommandParser, text: str) -> None:
    parser.add_argument(
        "--on", metavar="DATE", help=f"{text} (YYYY-MM-DD; default: today in the entity's time zone)"
    )


def parse_date(text: str) -> date:
    try:
        return parse_iso_date(text)
    except RelanceError as exc:
        raise CommandError(exc.message) from None


def parse_money(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return parse_amount(text)
    except RelanceError as exc:
        raise CommandError(exc.message) from None


def entity(options: dict[str, Any]) -> Entity:
    try:
        return entity_resolve(name=options.get("entity"))
    except RelanceError as exc:
        raise CommandError(exc.message) from None


def business_day(options: dict[str, Any], entity_obj: Entity, name: str = "on") -> date:
    """``--on`` if given, else today in the entity's time zone."""
    if options.get(name):
        return parse_date(options[name])
    return CLOCK.today(zone(entity_obj.timezone or None))


def customer(entity_obj: Entity, ref: str) -> Customer:
    try:
        return customer_get(entity=entity_obj, external_ref=ref)
    except RelanceError as exc:
        raise CommandError(exc.message) from None


def invoices(entity_obj: Entity, refs: list[str] | None) -> list[Invoice]:
    found = {
        invoice.external_ref: invoice
        for invoice in Invoice.objects.filter(entity=entity_obj, external_ref__in=refs or []).select_related(
            "customer"
        )
    }
    missing = [ref for ref in refs or [] if ref not in found]
    if missing:
        raise CommandError(f"no invoice {missing[0]!r} in entity {entity_obj.name}")
    return [found[ref] for ref in refs or []]


def shipped_policies_install(entity: Entity) -> str:
    """Install the shipped policies (``relance policy import --defaults``, ``relance init``); what was done."""
    from relance.dunning import services

    installed = services.policy_install_shipped(entity=entity)
    lines = [
        f"Policy {policy.key} ({policy.name}) {'created' if created else 'replaced'} (shipped)."
        for policy, created in installed.policies
    ]
    if installed.default_key:
        lines.append(
            f"Default policy: {installed.default_key} (every customer whose segment has no policy "
            f"follows it; change with `relance policy assign KEY --default`)."
        )
    return "\n".join(lines)
