"""``relance doctor``: what an entity still lacks before its reminders go to real customers."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.dunning import cli
from relance.dunning.readiness import entity_gaps, readiness_text


class Command(BaseCommand):
    help = (
        "List what the entity still needs before sending real messages (a default policy, bank "
        "details for the pay-by-transfer block, postal address, contacts, sender address, public "
        "URL, e-mail delivery), each with the command or setting that fixes it. Exits 1 when "
        "something is missing. --json prints [{topic, problem, fix}]."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_entity(parser)
        parser.add_argument("--json", action="store_true", help="Print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        entity = cli.entity(options)
        gaps = entity_gaps(entity=entity)
        if options["json"]:
            self.stdout.write(json.dumps([asdict(gap) for gap in gaps], indent=2))
        else:
            self.stdout.write(readiness_text(entity.name, gaps))
        if gaps:
            raise CommandError(f"{len(gaps)} thing(s) to fix before sending real messages", returncode=1)
