"""``relance credit insurance set REF …`` and ``relance credit insurance list [--json]``."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from typing import Any

NAME = "insurance"
HELP = (
    "Credit insurance per customer: 'set REF --insurer … --policy … --limit … --currency … "
    "--expires DATE --declaration-days N' (--insurer '' removes it), 'list' shows every insured "
    "customer with its exposure against the insured limit and what is wrong (--json)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="insurance_action", required=True, metavar="{set,list}")
    setting = actions.add_parser("set", help="Set a customer's credit insurance")
    setting.add_argument("customer_ref", metavar="REF")
    setting.add_argument("--insurer", required=True, help="The insurer ('' removes the insurance)")
    setting.add_argument("--policy", default="", help="The policy number")
    setting.add_argument("--limit", help="The insured limit (an amount, e.g. 50000)")
    setting.add_argument("--currency", default="", help="ISO 4217 (default: the customer's)")
    setting.add_argument("--expires", metavar="DATE", help="The cover's last day (YYYY-MM-DD)")
    setting.add_argument(
        "--declaration-days",
        type=int,
        help="The insurer's deadline: an overdue must be declared within this many days past due",
    )
    setting.add_argument("--entity", help="Entity name (default: the only one)")
    listing = actions.add_parser("list", help="Every insured customer, exposure and flags")
    listing.add_argument("--as-of", metavar="DATE", help="Exposure as of this day (default: today)")
    listing.add_argument("--entity", help="Entity name (default: the only one)")
    listing.add_argument("--json", action="store_true", help="One JSON object")


def handle(command: Any, options: dict[str, Any]) -> None:
    from django.core.management.base import CommandError

    from relance.core.errors import RelanceError

    try:
        if options["insurance_action"] == "set":
            _set(command, options)
        else:
            _list(command, options)
    except RelanceError as exc:
        raise CommandError(exc.message) from None


def _set(command: Any, options: dict[str, Any]) -> None:
    from relance.audit.context import audit_actor, cli_actor_label
    from relance.core.calendar import parse_iso_date
    from relance.core.money import parse_amount
    from relance.credit.services.insurance import insurance_set
    from relance.ledger.selectors import customer_get, entity_resolve

    entity = entity_resolve(name=options.get("entity"))
    customer = customer_get(entity=entity, external_ref=options["customer_ref"])
    with audit_actor(label=cli_actor_label()):
        profile = insurance_set(
            customer=customer,
            insurer=options["insurer"],
            policy=options["policy"],
            insured_limit=parse_amount(options["limit"]) if options.get("limit") else None,
            currency=options["currency"],
            cover_expires_on=parse_iso_date(options["expires"]) if options.get("expires") else None,
            declaration_days=options.get("declaration_days"),
        )
    if not profile.insurer:
        command.stdout.write(f"{customer.external_ref}: no credit insurance")
        return
    from relance.core.formatting import format_money

    limit = format_money(Decimal(profile.insured_limit or 0), profile.insured_currency, "en")
    command.stdout.write(
        f"{customer.external_ref}: insured by {profile.insurer}"
        f"{f' (policy {profile.insurance_policy})' if profile.insurance_policy else ''} up to {limit}"
        f"{f', cover until {profile.cover_expires_on.isoformat()}' if profile.cover_expires_on else ''}"
        f"{f', overdues declared within {profile.declaration_days} days' if profile.declaration_days else ''}"
    )


def _list(command: Any, options: dict[str, Any]) -> None:
    from django.utils import timezone

    from relance.core.calendar import parse_iso_date
    from relance.core.formatting import format_money
    from relance.credit.selectors.insurance import insurance_list
    from relance.ledger.selectors import entity_resolve

    entity = entity_resolve(name=options.get("entity"))
    as_of = parse_iso_date(options["as_of"]) if options.get("as_of") else timezone.localdate()
    statuses = insurance_list(entity=entity, as_of=as_of)
    if options.get("json"):
        command.stdout.write(
            json.dumps({"as_of": as_of.isoformat(), "customers": [item.as_dict() for item in statuses]})
        )
        return
    if not statuses:
        command.stdout.write("No insured customer.")
        return
    for item in statuses:
        limit = (
            format_money(item.insured_limit, item.currency, "en") if item.insured_limit is not None else "—"
        )
        exposure = format_money(item.exposure, item.currency, "en") if item.exposure is not None else "—"
        expires = item.cover_expires_on.isoformat() if item.cover_expires_on else "—"
        command.stdout.write(
            f"{item.customer_ref:<12} {item.insurer:<20} {item.policy:<12} limit {limit:>16}  "
            f"exposure {exposure:>16}  cover until {expires}"
        )
        for reason in item.reasons:
            command.stdout.write(f"{'':<12} ! {reason}")
