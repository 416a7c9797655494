"""``relance bounce [FILE.eml ...]``: record bounce e-mails (a file each, or one on standard input)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Record bounce e-mails (delivery status notifications): each is matched to the reminder it "
        "is about by the Message-ID it quotes, else by the failed address; a hard bounce marks that "
        "contact's e-mail bounced and queues the step's next channel. Without FILE, one bounce is "
        "read on standard input (for a mail server's pipe: `| relance bounce`). docs/data-quality.md"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "files", nargs="*", metavar="FILE", help="A bounce as a .eml file (default: stdin)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from relance.delivery.bounces import bounce_record

        sources: list[tuple[str, bytes]] = []
        for name in options["files"] or ["-"]:
            if name == "-":
                sources.append(("stdin", sys.stdin.buffer.read()))
                continue
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"{name}: no such file")
            sources.append((name, path.read_bytes()))
        for name, raw in sources:
            outcome = bounce_record(raw)
            self.stdout.write(json.dumps({"source": name, **outcome.as_dict()}))
