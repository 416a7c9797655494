"""``relance webhook``: outbound webhook endpoints — add, list, disable, enable, rotate, replay."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from relance.core.errors import RelanceError


def _instant(text: str, option: str) -> datetime:
    """An ISO date or date-time (a date is its midnight UTC; a naive time is UTC)."""
    value = parse_datetime(text)
    if value is None:
        day = parse_date(text)
        if day is None:
            raise CommandError(
                f"{option}: expected a date (2026-12-01) or a date-time (2026-12-01T09:00Z), not {text!r}"
            )
        value = datetime(day.year, day.month, day.day)
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


class Command(BaseCommand):
    help = (
        "Outbound webhook endpoints (Standard Webhooks): add one (prints its secret), list them with "
        "their deliveries, disable or enable one, rotate its secret, replay one event or a time range."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="{add,list,disable,enable,rotate,replay}"
        )
        add = actions.add_parser("add", help="Add an endpoint; prints its secret")
        add.add_argument("url")
        add.add_argument("--events", default="", metavar="A,B", help="Event types (default: every type)")
        add.add_argument("--entity", metavar="NAME", help="Only this entity's events (default: every entity)")
        add.add_argument("--secret", metavar="S", help="The secret (whsec_… form; default: a new random one)")
        add.add_argument("--description", default="")
        add.add_argument("--max-in-flight", type=int, default=10, metavar="N")
        add.add_argument("--json", action="store_true")
        listing = actions.add_parser("list", help="Endpoints with their delivery counts")
        listing.add_argument("--json", action="store_true")
        for name, text in (
            ("disable", "Stop delivering to an endpoint"),
            ("enable", "Deliver again (its pending events go out)"),
        ):
            sub = actions.add_parser(name, help=text)
            sub.add_argument("id", type=int)
        rotate = actions.add_parser("rotate", help="A new secret; the old one signs too for --overlap-hours")
        rotate.add_argument("id", type=int)
        rotate.add_argument("--overlap-hours", type=float, default=24)
        rotate.add_argument("--secret", metavar="S")
        replay = actions.add_parser(
            "replay", help="Send one event (--event ID) or a time range (--since) again"
        )
        replay.add_argument("--event", metavar="ID", help="The event's id (the webhook-id header, msg_…)")
        replay.add_argument("--since", metavar="WHEN", help="From this date or date-time (inclusive)")
        replay.add_argument("--until", metavar="WHEN", help="Up to this date or date-time (exclusive)")
        replay.add_argument(
            "--endpoint", type=int, metavar="ID", help="Only to this endpoint (default: every active one)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"do_{options['action']}")(options)
        except RelanceError as exc:
            raise CommandError(exc.message) from None

    def do_add(self, options: dict[str, Any]) -> None:
        from relance.ledger.selectors import entity_resolve
        from relance.webhooks.services import endpoint_create

        entity = entity_resolve(name=options["entity"]) if options["entity"] else None
        endpoint = endpoint_create(
            url=options["url"],
            event_types=options["events"].split(","),
            entity=entity,
            description=options["description"],
            secret=options["secret"],
            max_in_flight=options["max_in_flight"],
        )
        if options["json"]:
            self.stdout.write(json.dumps(_endpoint_json(endpoint) | {"secret": endpoint.secret}, indent=2))
            return
        self.stdout.write(f"endpoint {endpoint.pk}: {endpoint.url}")
        self.stdout.write(f"  events: {', '.join(endpoint.event_types) or 'every type'}")
        self.stdout.write(f"  entity: {entity.name if entity else 'every entity'}")
        self.stdout.write(f"secret: {endpoint.secret}")
        if sys.stdout.isatty():
            self.stderr.write("Keep the secret: the receiver verifies each request's signature with it.")

    def do_list(self, options: dict[str, Any]) -> None:
        from relance.webhooks.selectors import endpoint_list, endpoint_stats

        rows = [_endpoint_json(e) | {"deliveries": endpoint_stats(e)} for e in endpoint_list()]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2))
            return
        if not rows:
            self.stdout.write("no webhook endpoint (relance webhook add URL --events a,b)")
        for row in rows:
            state = "active" if row["active"] else f"disabled ({row['disabled_reason']})"
            counts = (
                ", ".join(f"{n} {status}" for status, n in row["deliveries"].items() if n)
                or "no delivery yet"
            )
            self.stdout.write(
                f"{row['id']:>4}  {row['url']}  [{state}]  entity: {row['entity'] or 'all'}  "
                f"events: {', '.join(row['event_types']) or 'all'}  — {counts}"
            )

    def _endpoint(self, pk: int) -> Any:
        from relance.webhooks.selectors import endpoint_get

        return endpoint_get(pk=pk)

    def do_disable(self, options: dict[str, Any]) -> None:
        from relance.webhooks.services import endpoint_disable

        endpoint = endpoint_disable(endpoint=self._endpoint(options["id"]))
        self.stdout.write(f"endpoint {endpoint.pk} disabled: its events wait until it is enabled again")

    def do_enable(self, options: dict[str, Any]) -> None:
        from relance.webhooks.services import endpoint_update

        endpoint = endpoint_update(endpoint=self._endpoint(options["id"]), active=True)
        self.stdout.write(f"endpoint {endpoint.pk} enabled")

    def do_rotate(self, options: dict[str, Any]) -> None:
        from datetime import timedelta

        from relance.webhooks.services import secret_rotate

        secret = secret_rotate(
            endpoint=self._endpoint(options["id"]),
            secret=options["secret"],
            overlap=timedelta(hours=options["overlap_hours"]),
        )
        self.stdout.write(f"secret: {secret}")
        self.stdout.write(f"the previous secret signs too for {options['overlap_hours']:g} hours")

    def do_replay(self, options: dict[str, Any]) -> None:
        from relance.webhooks.services import replay

        endpoint = self._endpoint(options["endpoint"]) if options["endpoint"] else None
        count = replay(
            endpoint=endpoint,
            event_uid=options["event"],
            since=_instant(options["since"], "--since") if options["since"] else None,
            until=_instant(options["until"], "--until") if options["until"] else None,
        )
        self.stdout.write(f"{count} deliveries queued again (relance send or the worker delivers them)")


def _endpoint_json(endpoint: Any) -> dict[str, Any]:
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "entity": endpoint.entity.name if endpoint.entity is not None else None,
        "event_types": endpoint.event_types,
        "description": endpoint.description,
        "active": endpoint.active,
        "max_in_flight": endpoint.max_in_flight,
        "disabled_reason": endpoint.disabled_reason,
    }
