"""``relance connector set|list``: an entity's ERP connector settings (no secret: docs/integrations.md)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.core.errors import NotFound, ValidationFailed


class Command(BaseCommand):
    help = (
        "Set or list an entity's ERP connectors (URL, options, the environment variables holding the "
        "credentials, the scheduled sync interval). Secrets are never given here: see docs/integrations.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("set", help="create or update a connector")
        add.add_argument("source", choices=("odoo", "erpnext", "quickbooks"))
        add.add_argument("--entity")
        add.add_argument("--url", help="the ERP's base URL")
        add.add_argument(
            "--option", action="append", default=[], metavar="KEY=VALUE",
            help="database, journal_id (Odoo); company, paid_to_account (ERPNext); realm_id (QuickBooks); page_size",
        )  # fmt: skip
        add.add_argument(
            "--credentials-env", help="prefix of the credential variables (default RELANCE_<SOURCE>)"
        )
        add.add_argument(
            "--interval", type=int, metavar="MINUTES", help="scheduled sync by the worker; 0 = off"
        )
        add.add_argument("--push", choices=("on", "off"), help="push changes back to the ERP (default on)")
        listing = sub.add_parser("list", help="list the connectors")
        listing.add_argument("--entity")
        listing.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        from relance.connectors.models import Connector
        from relance.connectors.services import connector_set
        from relance.ledger.selectors import entity_resolve

        try:
            if options["action"] == "set":
                pairs = {}
                for option in options["option"]:
                    key, sep, value = option.partition("=")
                    if not sep or not key:
                        raise ValidationFailed(f"--option: expected KEY=VALUE, found {option!r}")
                    pairs[key.strip()] = value.strip()
                connector = connector_set(
                    entity=entity_resolve(name=options.get("entity")),
                    source=options["source"],
                    url=options.get("url"),
                    options=pairs,
                    credentials_env=options.get("credentials_env"),
                    interval_minutes=options.get("interval"),
                    push_enabled=None if options.get("push") is None else options["push"] == "on",
                )
                self.stdout.write(
                    f"{connector.source} connector of {connector.entity.name}: {connector.url}; credentials from "
                    f"{connector.credentials_env}_*; "
                    + (
                        f"every {connector.interval_minutes} min"
                        if connector.interval_minutes
                        else "manual sync"
                    )
                )
                return
            connectors = Connector.objects.select_related("entity").order_by("entity__name", "source")
            if options.get("entity"):
                connectors = connectors.filter(entity=entity_resolve(name=options["entity"]))
            rows = [
                {
                    "entity": connector.entity.name,
                    "source": connector.source,
                    "url": connector.url,
                    "options": connector.options,
                    "credentials_env": connector.credentials_env,
                    "interval_minutes": connector.interval_minutes,
                    "cursors": connector.cursors,
                    "last_sync_at": connector.last_sync_at.isoformat() if connector.last_sync_at else None,
                }
                for connector in connectors
            ]
            if options.get("json"):
                self.stdout.write(json.dumps(rows, indent=2))
            else:
                for row in rows:
                    self.stdout.write(
                        f"{row['entity']:<16} {row['source']:<11} {row['url']}  every "
                        f"{row['interval_minutes'] or '-'} min  last sync {row['last_sync_at'] or 'never'}"
                    )
        except (ValidationFailed, NotFound) as exc:
            raise CommandError(exc.message) from None
