"""``relance bank account add IBAN --currency CCY [--name N]`` and ``relance bank account list``."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

NAME = "account"
HELP = (
    "The entity's bank accounts: a statement is imported only for an account linked here "
    "(IBAN, or the bank's account number as its MT940 :25: gives it, and a currency)."
)


def add_arguments(parser: CommandParser) -> None:
    actions = parser.add_subparsers(dest="account_action", required=True, metavar="{add,list}")
    add = actions.add_parser("add", help="link a bank account to the entity", description=HELP)
    add.add_argument("account", metavar="IBAN", help="the IBAN, or the bank's account number")
    add.add_argument("--currency", required=True, help="the account's currency (ISO 4217)")
    add.add_argument("--name", default="", help="a name people know it by")
    add.add_argument("--entity", help="creditor entity (default: the only one)")
    add.add_argument("--json", action="store_true", help="print the account as JSON on stdout")
    listing = actions.add_parser("list", help="the entity's linked accounts", description=HELP)
    listing.add_argument("--entity", help="creditor entity (default: the only one)")
    listing.add_argument("--json", action="store_true", help="print the accounts as JSON on stdout")


def _as_dict(account: Any) -> dict[str, Any]:
    return {"account": account.account_id, "currency": account.currency, "name": account.name}


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    from relance.audit.context import audit_actor, cli_actor_label
    from relance.cashapp.selectors import bank_account_list
    from relance.cashapp.services import bank_account_add
    from relance.core.errors import RelanceError
    from relance.ledger.selectors import entity_resolve

    try:
        entity = entity_resolve(name=options.get("entity"))
        if options["account_action"] == "add":
            with audit_actor(label=cli_actor_label()):
                account = bank_account_add(
                    entity=entity,
                    account=options["account"],
                    currency=options["currency"],
                    name=options["name"],
                )
            if options["json"]:
                command.stdout.write(json.dumps(_as_dict(account)))
            else:
                command.stdout.write(f"linked {account} to entity {entity.name}")
            return
        accounts = list(bank_account_list(entity=entity))
    except RelanceError as exc:
        raise CommandError(exc.message) from None
    if options["json"]:
        command.stdout.write(json.dumps([_as_dict(account) for account in accounts], indent=2))
        return
    if not accounts:
        command.stdout.write(
            f"no bank account linked to entity {entity.name}: `relance bank account add IBAN --currency CCY`"
        )
    for account in accounts:
        command.stdout.write(f"{account.account_id}  {account.currency}  {account.name}".rstrip())
