"""``relance init``: create or migrate the database and the first creditor entity."""

from __future__ import annotations

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from relance.core.errors import RelanceError
from relance.ledger.models import Entity
from relance.ledger.services import entity_create_or_update


class Command(BaseCommand):
    help = (
        "Create or migrate the database and the first creditor entity. Running it again is harmless: "
        "pending migrations are applied and an existing entity is left as it is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--entity", help="Short name of the creditor entity (default: 'main' on a new database)"
        )
        parser.add_argument(
            "--legal-name", default="", help="Legal name printed on messages (default: the name)"
        )
        parser.add_argument("--currency", default="EUR", help="ISO 4217 currency of the entity (default EUR)")
        parser.add_argument("--language", default="en", help="Default language of the entity (default en)")
        parser.add_argument("--country", default="", help="ISO 3166 country code of the entity")

    def handle(self, *args, **options) -> None:
        vendor = connection.vendor
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(f"Database ready ({vendor}: {connection.settings_dict['NAME']}).")
        name = options["entity"]
        if not name:
            if Entity.objects.exists():
                self.stdout.write(f"Entities: {', '.join(Entity.objects.values_list('name', flat=True))}.")
                return
            name = "main"
        try:
            entity, created = entity_create_or_update(
                name=name,
                currency=options["currency"],
                language=options["language"],
                legal_name=options["legal_name"],
                country=(options["country"] or "").upper(),
            )
        except RelanceError as exc:
            raise CommandError(exc.message) from None
        except Exception as exc:  # django ValidationError from full_clean
            raise CommandError(str(exc)) from None
        verb = "Created" if created else "Entity already exists:"
        self.stdout.write(self.style.SUCCESS(f"{verb} {entity.name} ({entity.currency}, {entity.language})."))
