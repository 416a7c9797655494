"""``relance message preview|templates``: see a message for a real customer; list the templates."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.comms import defaults
from relance.comms.rendering import TemplateError
from relance.comms.selectors import template_overview, template_resolve
from relance.comms.services import message_render
from relance.dunning import cli


class Command(BaseCommand):
    help = (
        "Preview a message exactly as a customer would receive it (subject, text, HTML), or list the "
        "template keys with their shipped languages and the entity's own versions."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{preview,templates}")
        preview = actions.add_parser("preview", help="render a template for a customer")
        cli.add_entity(preview)
        preview.add_argument("--customer", required=True, metavar="REF", help="Customer's external reference")
        preview.add_argument(
            "--template", required=True, metavar="KEY", help="Template key, e.g. overdue_firm"
        )
        preview.add_argument(
            "--channel",
            default="email",
            choices=defaults.CHANNELS,
            help="Channel to render for (default: email)",
        )
        preview.add_argument(
            "--lang", metavar="CODE", help="Language (default: the customer's, else the entity's, else en)"
        )
        preview.add_argument(
            "--as-of",
            metavar="DATE",
            help="Date of the message (YYYY-MM-DD; default: today in the entity's zone)",
        )
        preview.add_argument(
            "--message-key", default="", metavar="KEY", help="Seed of the RF reference (default: derived)"
        )
        preview.add_argument("--html", action="store_true", help="Print the HTML body instead of the text")
        preview.add_argument("--json", action="store_true", help="Print JSON (subject, text, html, links, …)")
        listing = actions.add_parser("templates", help="list template keys, languages and overrides")
        cli.add_entity(listing)
        listing.add_argument(
            "--show", metavar="KEY", help="Print the source of one template (to start an override)"
        )
        listing.add_argument(
            "--channel", default="email", choices=defaults.CHANNELS, help="Channel for --show"
        )
        listing.add_argument("--lang", default="en", metavar="CODE", help="Language for --show (default: en)")
        listing.add_argument("--json", action="store_true", help="Print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        entity = cli.entity(options)
        if options["action"] == "templates":
            self._templates(entity, options)
            return
        customer = cli.customer(entity, options["customer"])
        as_of = cli.business_day(options, entity, "as_of")
        contact = customer.contacts.order_by("id").first()
        try:
            rendered = message_render(
                customer=customer,
                template_key=options["template"],
                channel=options["channel"],
                as_of=as_of,
                contact=contact,
                language=options.get("lang"),
                message_key=options["message_key"],
                preview=True,
            )
        except (TemplateError, LookupError) as exc:
            raise CommandError(str(exc).strip("'\"")) from None
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "customer": customer.external_ref,
                        "template_key": rendered.template_key,
                        "channel": rendered.channel,
                        "language": rendered.language,
                        "as_of": as_of.isoformat(),
                        "recipient": (contact.email if rendered.channel == "email" else contact.phone)
                        if contact
                        else "",
                        "subject": rendered.subject,
                        "text": rendered.text,
                        "html": rendered.html,
                        "rf_reference": rendered.rf_reference,
                        "amount_due": str(rendered.amount_due) if rendered.amount_due is not None else None,
                        "currency": rendered.currency,
                        "links": rendered.links,
                        "attachments": [item.filename for item in rendered.attachments],
                    },
                    indent=2,
                    ensure_ascii=False,
                )
            )
            return
        if options["html"]:
            self.stdout.write(rendered.html or rendered.text)
            return
        if rendered.subject:
            self.stdout.write(f"Subject: {rendered.subject}\n")
        self.stdout.write(rendered.text)

    def _templates(self, entity: Any, options: dict[str, Any]) -> None:
        if options.get("show"):
            try:
                resolved = template_resolve(
                    entity=entity, key=options["show"], channel=options["channel"], language=options["lang"]
                )
            except LookupError as exc:
                raise CommandError(str(exc).strip("'\"")) from None
            source = resolved.source
            if options["json"]:
                payload = {
                    "origin": resolved.origin,
                    "language": resolved.language,
                    "subject": source.subject,
                }
                payload.update({"body_text": source.text, "body_html": source.html})
                self.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False))
                return
            self.stdout.write(
                f"# {resolved.name} ({resolved.origin})\n# subject\n{source.subject}\n# body_text\n{source.text}"
            )
            if source.html:
                self.stdout.write(f"# body_html\n{source.html}")
            return
        rows = template_overview(entity=entity)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    [
                        {
                            "key": row.key,
                            "channel": row.channel,
                            "shipped": list(row.shipped_languages),
                            "overridden": list(row.overridden_languages),
                        }
                        for row in rows
                    ],
                    indent=2,
                )
            )
            return
        width = max(len(row.key) for row in rows)
        for row in rows:
            shipped = ",".join(row.shipped_languages) or "-"
            own = ",".join(row.overridden_languages)
            self.stdout.write(
                f"{row.key:<{width}}  {row.channel:<6}  shipped: {shipped}"
                + (f"  entity: {own}" if own else "")
            )
