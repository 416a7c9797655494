"""``relance portal link|revoke|links``: magic links to the customer portal, for support staff and scripts."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.dunning import cli
from relance.ledger.models import Contact
from relance.portal import links
from relance.portal.models import LinkSource, PortalLink


class Command(BaseCommand):
    help = (
        "Print a fresh link to a customer's portal page (signed, expiring, revocable), list a "
        "customer's links, or revoke them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{link,links,revoke}")
        link = actions.add_parser("link", help="print a fresh link for a customer")
        link.add_argument("customer_ref", metavar="CUSTOMER_REF", help="Customer's external reference")
        cli.add_entity(link)
        link.add_argument(
            "--days",
            type=int,
            default=None,
            help="Days the link stays valid (default: the entity's portal setting, 30)",
        )
        link.add_argument(
            "--contact", metavar="EMAIL", help="Contact the link is for (their email; default: none)"
        )
        link.add_argument("--json", action="store_true", help="Print the link as JSON (url, id, expires_at)")
        listing = actions.add_parser("links", help="list a customer's links")
        listing.add_argument("customer_ref", metavar="CUSTOMER_REF", help="Customer's external reference")
        cli.add_entity(listing)
        listing.add_argument("--json", action="store_true", help="Print JSON")
        revoke = actions.add_parser("revoke", help="revoke one link (--id) or every live link of a customer")
        revoke.add_argument(
            "customer_ref", metavar="CUSTOMER_REF", nargs="?", help="Customer whose links to revoke"
        )
        cli.add_entity(revoke)
        revoke.add_argument("--id", type=int, dest="link_id", help="Revoke only this link id")
        revoke.add_argument("--json", action="store_true", help="Print how many were revoked as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        entity = cli.entity(options)
        action = options["action"]
        if action == "link":
            customer = cli.customer(entity, options["customer_ref"])
            contact = None
            if options.get("contact"):
                contact = Contact.objects.filter(customer=customer, email__iexact=options["contact"]).first()
                if contact is None:
                    raise CommandError(
                        f"customer {customer.external_ref} has no contact {options['contact']!r}"
                    )
            try:
                link = links.link_create(
                    customer=customer, contact=contact, days=options["days"], source=LinkSource.SUPPORT
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            url = links.link_url(link)
            if options["json"]:
                self.stdout.write(
                    json.dumps(
                        {
                            "id": link.pk,
                            "customer_ref": customer.external_ref,
                            "url": url,
                            "expires_at": link.expires_at.isoformat(),
                        }
                    )
                )
            else:
                self.stdout.write(url)
            return
        if action == "links":
            customer = cli.customer(entity, options["customer_ref"])
            rows: list[dict[str, Any]] = [
                {
                    "id": link.pk,
                    "source": link.source,
                    "created_at": link.created_at.isoformat(),
                    "expires_at": link.expires_at.isoformat(),
                    "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
                    "last_used_at": link.last_used_at.isoformat() if link.last_used_at else None,
                }
                for link in PortalLink.objects.filter(customer=customer)
            ]
            if options["json"]:
                self.stdout.write(json.dumps(rows))
            else:
                for row in rows:
                    state = "revoked" if row["revoked_at"] else "live"
                    self.stdout.write(
                        f"{row['id']:>6}  {row['source']:<8} {state:<8} expires {row['expires_at'][:16]}  used {row['last_used_at'] or '—'}"
                    )
            return
        found = PortalLink.objects.filter(customer__entity=entity, revoked_at__isnull=True)
        if options.get("link_id"):
            found = found.filter(pk=options["link_id"])
        elif options.get("customer_ref"):
            found = found.filter(customer=cli.customer(entity, options["customer_ref"]))
        else:
            raise CommandError("say which links: CUSTOMER_REF or --id ID")
        count = sum(1 for link in found if links.link_revoke(link=link))
        if options["json"]:
            self.stdout.write(json.dumps({"revoked": count}))
        else:
            self.stdout.write(f"{count} link(s) revoked.")
