"""``relance audit list``: read the audit trail from the command line."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from relance.audit.selectors import AuditFilters, audit_event_json, audit_event_list

BAD_SINCE = "--since: expected an ISO date or instant (2026-11-01, 2026-11-01T08:00) or a duration (90m, 12h, 7d), found {value!r}"
UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_since(value: str) -> datetime:
    """An ISO date/instant, or a duration back from now such as ``12h`` or ``7d``."""
    text = value.strip()
    if text[:-1].isdigit() and text[-1:] in UNITS:
        return timezone.now() - timedelta(**{UNITS[text[-1]]: int(text[:-1])})
    try:
        instant = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(BAD_SINCE.format(value=value)) from None
    return instant if timezone.is_aware(instant) else timezone.make_aware(instant)


class Command(BaseCommand):
    help = "List audit events (who did what, when, before and after), newest first."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{list}")
        listing = actions.add_parser("list", help="list events, newest first")
        listing.add_argument(
            "--since",
            default=None,
            help="only events at or after an ISO date/instant or a duration ago (12h, 7d)",
        )
        listing.add_argument("--actor", default="", help="part of the actor's name (user, token, cli:…)")
        listing.add_argument(
            "--object", default="", help="app.model, app.model#id, or part of the object's name"
        )
        listing.add_argument("--entity", default="", help="only events of this entity (its name)")
        listing.add_argument(
            "--action",
            dest="event_action",
            metavar="ACTION",
            default="",
            help="only this action (create, update, login_failed…)",
        )
        listing.add_argument("--limit", type=int, default=100, help="at most this many events (default 100)")
        listing.add_argument("--json", action="store_true", help="print a JSON list (with before/after)")

    def handle(self, *args: Any, **options: Any) -> None:
        filters = AuditFilters(
            actor=options["actor"],
            entity=options["entity"],
            object=options["object"],
            action=options["event_action"],
            since=parse_since(options["since"]) if options["since"] else None,
        )
        events = list(audit_event_list(filters=filters)[: max(1, options["limit"])])
        if options["json"]:
            self.stdout.write(json.dumps([audit_event_json(event) for event in events]))
            return
        if not events:
            self.stdout.write("No audit events.")
            return
        from rich.console import Console
        from rich.table import Table

        table = Table("at (UTC)", "actor", "action", "object", "entity", "changes")
        for event in events:
            keys = sorted({*event.before, *event.after})
            table.add_row(
                event.at.strftime("%Y-%m-%d %H:%M:%S"),
                event.actor_label,
                event.action,
                f"{event.object_type}#{event.object_id} {event.object_repr}".strip("# "),
                event.entity.name if event.entity else "",
                ", ".join(keys[:6]) + ("…" if len(keys) > 6 else ""),
            )
        Console(file=cast(IO[str], self.stdout), width=160).print(table)
