"""``relance bank settings [--match-tolerance A] [--match-tolerance-percent P] … [--json]``: show
or change the entity's cash-application settings (``CashAppSettings``)."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

NAME = "settings"
HELP = (
    "Show the entity's cash-application settings, or change those given: the matcher's amount "
    "tolerance (the larger of an absolute amount and a percentage of the open amount), its "
    "auto-apply threshold, and what a short payment becomes."
)
OPTIONS = {
    "match_tolerance": "an amount this close to the open amount pays it (the line's currency)",
    "match_tolerance_percent": "or this %% of the open amount, whichever is larger",
    "write_off_tolerance": "a short payment up to this (entity currency) is written off; 0: never",
    "short_payment_action": "above it: deduction or leave_open",
    "deduction_max_percent": "a residual above this %% of the open amount is a partial payment",
    "auto_apply_threshold": "the matcher's confidence from which a line is applied (0.5 to 1)",
}


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise CommandError(f"expected a number such as 0.5, found {text!r}") from None


def add_arguments(parser: CommandParser) -> None:
    for name, help_text in OPTIONS.items():
        kind: Any = str if name == "short_payment_action" else _decimal
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, help=help_text)
    parser.add_argument("--entity", help="creditor entity (default: the only one)")
    parser.add_argument("--json", action="store_true", help="print the settings as JSON on stdout")


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    from relance.audit.context import cli_actor_label
    from relance.cashapp.selectors import cashapp_settings_for
    from relance.cashapp.services import SETTING_FIELDS, cashapp_settings_update
    from relance.core.errors import RelanceError
    from relance.ledger.selectors import entity_resolve

    changes = {name: options[name] for name in OPTIONS if options.get(name) is not None}
    if "auto_apply_threshold" in changes:
        changes["auto_apply_threshold"] = float(changes["auto_apply_threshold"])
    try:
        entity = entity_resolve(name=options.get("entity"))
        if changes:
            settings = cashapp_settings_update(entity=entity, changes=changes, actor_label=cli_actor_label())
        else:
            settings = cashapp_settings_for(entity=entity)
    except RelanceError as exc:
        raise CommandError(exc.message) from None
    shown = {name: str(getattr(settings, name)) for name in SETTING_FIELDS}
    if options["json"]:
        command.stdout.write(json.dumps({"entity": entity.name, **shown}))
        return
    for name, value in shown.items():
        command.stdout.write(f"{name:24} {value}")
