"""``relance init``: create or migrate the database and the first creditor entity, ready to collect."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from relance.core.errors import RelanceError
from relance.ledger.models import Entity
from relance.ledger.services import ENTITY_DETAILS, entity_create_or_update, entity_details_set


class Command(BaseCommand):
    help = (
        "Create or migrate the database and the first creditor entity, ready to collect: the shipped "
        "dunning policies are installed with standard as the default (--no-policies to skip), the "
        "creditor's details are set (--iban, --bic, --address, …), and what is still missing before "
        "sending real messages is listed (as `relance doctor` does). Running it again is harmless: "
        "pending migrations are applied, an existing entity keeps its currency and language, and "
        "only the details given are changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--entity", help="Short name of the creditor entity (default: 'main' on a new database)"
        )
        parser.add_argument("--legal-name", help="Legal name printed on messages (default: the name)")
        parser.add_argument("--currency", default="EUR", help="ISO 4217 currency of the entity (default EUR)")
        parser.add_argument("--language", default="en", help="Default language of the entity (default en)")
        parser.add_argument("--country", help="ISO 3166 country code of the entity")
        parser.add_argument("--timezone", help="IANA time zone of the entity's business day (default UTC)")
        parser.add_argument(
            "--address", help="Postal address (lines separated by commas or newlines): letterhead, letters"
        )
        parser.add_argument("--iban", help="IBAN customers pay to: the pay-by-transfer block and QR code")
        parser.add_argument("--bic", help="BIC of that account")
        parser.add_argument(
            "--no-policies",
            action="store_true",
            help="Do not install the shipped dunning policies (import your own with relance policy import)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        vendor = connection.vendor
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(f"Database ready ({vendor}: {connection.settings_dict['NAME']}).")
        name = options["entity"]
        if not name:
            if Entity.objects.exists():
                self.stdout.write(f"Entities: {', '.join(Entity.objects.values_list('name', flat=True))}.")
                return
            name = "main"
        details = {
            field: options[field]
            for field in ENTITY_DETAILS
            if options.get(field) is not None and field != "address"
        }
        if options.get("address") is not None:
            details["address"] = "\n".join(
                part.strip() for part in options["address"].replace(",", "\n").splitlines() if part.strip()
            )
        try:
            with transaction.atomic():
                entity, created = entity_create_or_update(
                    name=name,
                    currency=options["currency"],
                    language=options["language"],
                    legal_name=details.get("legal_name", ""),
                )
                changed = entity_details_set(entity=entity, **details)
        except RelanceError as exc:
            raise CommandError(exc.message) from None
        except Exception as exc:  # django ValidationError from full_clean
            raise CommandError(str(exc)) from None
        if created:
            self.stdout.write(
                self.style.SUCCESS(f"Created {entity.name} ({entity.currency}, {entity.language}).")
            )
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Entity already exists: {entity.name} ({entity.currency}, {entity.language})."
                )
            )
            if changed:
                self.stdout.write(f"Updated: {', '.join(changed)}.")
        self._policies(entity, options)
        from relance.dunning.readiness import entity_gaps, readiness_text

        self.stdout.write(readiness_text(entity.name, entity_gaps(entity=entity)))

    def _policies(self, entity: Entity, options: dict[str, Any]) -> None:
        from relance.dunning.cli import shipped_policies_install
        from relance.dunning.selectors import policy_list

        if options["no_policies"]:
            self.stdout.write("Dunning policies: none installed (--no-policies): relance policy import FILE.")
            return
        if policy_list(entity=entity).exists():
            return  # the entity has its own: a second init leaves them alone
        self.stdout.write(shipped_policies_install(entity))
