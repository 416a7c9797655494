"""``relance compliance check``: would a message to a customer be allowed now, rule by rule?"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from relance.compliance import rules, selectors
from relance.core.channels import DELIVERY_CHANNELS, address_field
from relance.dunning import cli
from relance.ledger.models import Contact, Customer

CHANNELS = DELIVERY_CHANNELS
AT_INVALID = (
    "--at: expected an ISO 8601 date-time such as 2026-03-02T18:30 or 2026-03-02T18:30+01:00, found {text!r}"
)
CONTACT_UNKNOWN = "customer {customer} has no contact {contact!r} (give its id, email address or number)"


def parse_at(text: str | None, entity_tz: str) -> datetime:
    """``--at`` as an aware instant; a naive time is read in the entity's time zone."""
    if not text:
        return timezone.now()
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(AT_INVALID.format(text=text)) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=rules.zone_or_none(entity_tz) or UTC)
    return at


def find_contact(customer: Customer, text: str) -> Contact:
    contacts = customer.contacts.all()
    found = (
        contacts.filter(pk=int(text)).first()
        if text.isdigit()
        else contacts.filter(email__iexact=text).first() or contacts.filter(phone=text).first()
    )
    if found is None:
        raise CommandError(CONTACT_UNKNOWN.format(customer=customer.external_ref, contact=text))
    return found


class Command(BaseCommand):
    help = (
        "Explain, rule by rule, whether a message to a customer on a channel would be allowed now "
        "(or at --at) by the compliance rules, and when the next allowed instant is."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{check}")
        check = actions.add_parser("check", help="explain the compliance rules for one customer and channel")
        cli.add_entity(check)
        check.add_argument("--customer", required=True, metavar="REF", help="Customer's external reference")
        check.add_argument(
            "--channel", required=True, choices=CHANNELS, help="Delivery channel of the message"
        )
        check.add_argument(
            "--contact",
            metavar="ID|ADDRESS",
            help="Contact (id, email or number; default: the first contact with an address for the channel)",
        )
        check.add_argument(
            "--at",
            metavar="ISO",
            help="Instant to check (ISO 8601; without an offset, in the entity's time zone; default: now)",
        )
        check.add_argument(
            "--policy",
            metavar="KEY",
            help="Check as a dunning message of this policy (default: the customer's policy; caps, holds "
            "and the policy's send window apply to dunning messages only)",
        )
        check.add_argument(
            "--not-dunning",
            action="store_true",
            help="Check as a message outside the dunning run (acknowledgement, confirmation)",
        )
        check.add_argument("--json", action="store_true", help="Print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from relance.dunning.selectors import customer_policy_key

        entity = cli.entity(options)
        customer = cli.customer(entity, options["customer"])
        channel = options["channel"]
        at = parse_at(options["at"], entity.timezone)
        contact = (
            find_contact(customer, options["contact"])
            if options["contact"]
            else selectors.contact_for_channel(customer=customer, channel=channel)
        )
        policy_key = (
            ""
            if options["not_dunning"]
            else options["policy"] or customer_policy_key(customer=customer) or ""
        )
        dunning = not options["not_dunning"]
        assessment = selectors.message_assessment(
            customer=customer,
            channel=channel,
            now=at,
            contact=contact,
            recipient=self._address(contact, channel),
            policy_key=policy_key,
            dunning=dunning,
        )
        report = self._report(customer, channel, contact, at, assessment, policy_key)
        if dunning:
            # The send-time rule first: is there still something true to say?
            from relance.dunning.selectors import customer_still_due

            still = customer_still_due(
                customer=customer, on=selectors.entity_today(customer=customer, now=at)
            )
            report["rules"].insert(
                0,
                {
                    "rule": "still_due",
                    "allowed": still.due,
                    "reason": still.reason,
                    "next_allowed": None,
                    "permanent": not still.due,
                },
            )
            if not still.due:
                report.update(verdict="not_due", next_allowed=None, reason=still.reason)
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2, ensure_ascii=False))
            return
        self._print(report)

    @staticmethod
    def _address(contact: Contact | None, channel: str) -> str:
        if contact is None:
            return ""
        field = address_field(channel)  # a postal address is not shown in the one-line report
        return getattr(contact, field) if field and field != "postal_address" else ""

    @staticmethod
    def _report(
        customer: Customer,
        channel: str,
        contact: Contact | None,
        at: datetime,
        assessment: selectors.Assessment,
        policy_key: str,
    ) -> dict[str, Any]:
        decision = assessment.decision
        if decision.allowed:
            verdict = "allowed"
        elif decision.defer_until is not None:
            verdict = "deferred"
        else:
            verdict = "blocked"
        return {
            "customer": customer.external_ref,
            "channel": channel,
            "contact": None if contact is None else {"id": contact.pk, "name": str(contact)},
            "at": at.isoformat(),
            "time_zones": assessment.facts.zones_label,
            "policy": policy_key or None,
            "rules": [
                {
                    "rule": result.rule,
                    "allowed": result.allowed,
                    "reason": result.reason,
                    "next_allowed": result.next_allowed.isoformat() if result.next_allowed else None,
                    "permanent": result.permanent,
                }
                for result in decision.results
            ],
            "verdict": verdict,
            "next_allowed": (
                at.isoformat()
                if decision.allowed
                else decision.defer_until.isoformat()
                if decision.defer_until
                else None
            ),
            "reason": decision.reason,
        }

    def _print(self, report: dict[str, Any]) -> None:
        contact = report["contact"]["name"] if report["contact"] else "no contact"
        self.stdout.write(
            f"{report['channel']} to {report['customer']} ({contact}) at {report['at']}\n"
            f"Recipient's time zone(s): {report['time_zones']}"
            + (f"; policy {report['policy']}" if report["policy"] else "")
        )
        for rule in report["rules"]:
            mark = "ok     " if rule["allowed"] else "BLOCKED" if rule["permanent"] else "wait   "
            line = f"  {mark} {rule['rule']:<22}"
            if not rule["allowed"]:
                line += f" {rule['reason']}"
                if rule["next_allowed"]:
                    line += f" (until {rule['next_allowed']})"
            self.stdout.write(line.rstrip())
        if report["verdict"] == "allowed":
            self.stdout.write("Allowed now.")
        elif report["verdict"] == "not_due":
            self.stdout.write(f"Not due: {report['reason']} (a dunning message would be cancelled).")
        elif report["verdict"] == "deferred":
            self.stdout.write(f"Deferred: next allowed instant {report['next_allowed']}.")
        else:
            self.stdout.write(f"Blocked: {report['reason']}")
