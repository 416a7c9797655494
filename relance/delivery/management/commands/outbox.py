"""``relance outbox list|show|retry|cancel|enqueue``: look at the outbox and act on messages."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from relance.core.actors import Actor
from relance.core.errors import RelanceError
from relance.delivery import selectors, services
from relance.delivery.models import MessageStatus
from relance.dunning import cli

STATUSES = [choice.value for choice in MessageStatus]


class Command(BaseCommand):
    help = (
        "Look at the outbox and act on it: list messages (by status, customer), show one with its "
        "events, retry failed/bounced/uncertain/blocked ones after fixing the contact, cancel one, "
        "resolve an uncertain one (--sent/--not-sent), e-mail the daily digest of uncertain and failed "
        "messages, or queue the messages of a dunning run (enqueue). --json for machine output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="{list,show,retry,cancel,resolve,digest,enqueue}"
        )
        listing = actions.add_parser("list", help="list messages, newest first")
        cli.add_entity(listing)
        listing.add_argument(
            "--status", action="append", choices=STATUSES, help="Only this status (repeatable)"
        )
        listing.add_argument("--customer", metavar="REF", help="Only this customer's messages")
        listing.add_argument("--channel", metavar="C", help="Only this channel")
        listing.add_argument("--limit", type=int, default=50, metavar="N", help="At most N rows (default 50)")
        listing.add_argument("--json", action="store_true", help="Print JSON")

        show = actions.add_parser("show", help="one message with its events and attachments")
        show.add_argument("id", type=int, metavar="ID", help="Message id")
        show.add_argument("--json", action="store_true", help="Print JSON")

        retry = actions.add_parser("retry", help="queue failed, bounced, uncertain or blocked messages again")
        retry.add_argument("id", type=int, nargs="?", metavar="ID", help="Message id")
        retry.add_argument(
            "--status",
            choices=[s.value for s in services.RETRYABLE],
            help="Retry every message in this status",
        )
        cli.add_entity(retry)
        retry.add_argument("--json", action="store_true", help="Print JSON")

        cancel = actions.add_parser("cancel", help="cancel a message that is not sent")
        cancel.add_argument("id", type=int, metavar="ID", help="Message id")

        resolve = actions.add_parser(
            "resolve",
            help="settle an uncertain message: --sent (it went out) or --not-sent (queue it again)",
        )
        resolve.add_argument("id", type=int, metavar="ID", help="Message id")
        outcome = resolve.add_mutually_exclusive_group(required=True)
        outcome.add_argument("--sent", action="store_true", help="It was sent: count it as sent")
        outcome.add_argument(
            "--not-sent", action="store_true", help="It was not sent: queue it again (cancel to drop it)"
        )
        resolve.add_argument("--note", default="", help="What was checked (kept in the audit log)")

        actions.add_parser(
            "digest",
            help="e-mail the admins and credit managers about uncertain and failed messages (run daily)",
        )

        enqueue = actions.add_parser("enqueue", help="queue the messages of a dunning run")
        enqueue.add_argument(
            "--run-date", required=True, metavar="DATE", help="The run's business date (YYYY-MM-DD)"
        )
        cli.add_entity(enqueue)
        enqueue.add_argument("--json", action="store_true", help="Print JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"do_{options['action']}")(options)
        except RelanceError as exc:
            raise CommandError(exc.message) from None

    def do_list(self, options: dict[str, Any]) -> None:
        entity = cli.entity(options) if options.get("entity") or options.get("customer") else None
        customer = cli.customer(entity, options["customer"]) if entity and options.get("customer") else None
        rows = list(
            selectors.outbox_list(
                entity=entity, statuses=options["status"], customer=customer, channel=options["channel"]
            )[: options["limit"]]
        )
        if options["json"]:
            self.stdout.write(json.dumps([selectors.message_as_dict(row) for row in rows], indent=2))
            return
        for row in rows:
            error = f"  {row.last_error[:60]}" if row.last_error else ""
            self.stdout.write(
                f"{row.pk:>7} {row.status:<10} {row.channel:<6} {row.customer.external_ref:<12} "
                f"{row.recipient.splitlines()[0][:32]:<32} {row.template_key:<20} a{row.attempts}{error}"
            )
        if not rows:
            self.stdout.write("No message.")

    def do_show(self, options: dict[str, Any]) -> None:
        message = selectors.message_get(pk=options["id"])
        data = selectors.message_as_dict(message, events=True)
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        shown = (
            {"amount_due": cli.money(message.amount_due, message.currency, message.entity)}
            if message.amount_due is not None and message.currency
            else {}
        )
        for key in (
            "id",
            "status",
            "channel",
            "recipient",
            "subject",
            "customer_ref",
            "template_key",
            "language",
            "amount_due",
            "currency",
            "rf_reference",
            "attempts",
            "last_error",
            "message_id",
            "idempotency_key",
            "provider",
            "provider_message_id",
            "fallback_of",
        ):
            if data[key] not in (None, ""):
                self.stdout.write(f"{key:>20}: {shown.get(key, data[key])}")
        for attachment in data["attachments"]:
            self.stdout.write(f"{'attachment':>20}: {attachment['filename']} ({attachment['size']} bytes)")
        self.stdout.write("events:")
        for event in data["events"]:
            detail = json.dumps(event["detail"]) if event["detail"] else ""
            self.stdout.write(f"  {event['at']} {event['kind']:<12} {detail}")

    def do_retry(self, options: dict[str, Any]) -> None:
        if (options["id"] is None) == (options["status"] is None):
            raise CommandError("give a message ID or --status (not both)")
        if options["id"] is not None:
            messages = [selectors.message_get(pk=options["id"])]
        else:
            entity = cli.entity(options) if options.get("entity") else None
            messages = list(selectors.outbox_list(entity=entity, statuses=[options["status"]]))
        retried, refused = [], []
        for message in messages:
            try:
                retried.append(services.message_retry(message=message))
            except RelanceError as exc:  # e.g. its template still fails: the others are retried
                if options["id"] is not None:
                    raise
                refused.append((message.pk, exc.message))
        if options["json"]:
            data: dict[str, Any] = {"retried": [message.pk for message in retried]}
            if refused:
                data["refused"] = [{"id": pk, "error": error} for pk, error in refused]
            self.stdout.write(json.dumps(data))
            return
        self.stdout.write(f"{len(retried)} message(s) queued again.")
        for pk, error in refused:
            self.stdout.write(f"  not retried {pk}: {error}")

    def do_cancel(self, options: dict[str, Any]) -> None:
        message = services.message_cancel(message=selectors.message_get(pk=options["id"]), actor=Actor.cli())
        self.stdout.write(f"Message {message.pk} cancelled.")

    def do_resolve(self, options: dict[str, Any]) -> None:
        from relance.audit.context import audit_actor, cli_actor_label

        with audit_actor(label=cli_actor_label()):
            message = services.message_resolve(
                message=selectors.message_get(pk=options["id"]),
                sent=options["sent"],
                note=options["note"],
                actor=Actor.cli(),
            )
        if options["sent"]:
            self.stdout.write(f"Message {message.pk} resolved as sent.")
        else:
            self.stdout.write(f"Message {message.pk} resolved as not sent: queued again.")

    def do_digest(self, options: dict[str, Any]) -> None:
        from relance.delivery.alerts import attention_digest

        sent = attention_digest()
        self.stdout.write(
            f"{sent} digest e-mail(s) sent." if sent else "Nothing uncertain or failed: no e-mail."
        )

    def do_enqueue(self, options: dict[str, Any]) -> None:
        from relance.dunning.models import DunningRun

        entity = cli.entity(options)
        as_of = cli.parse_date(options["run_date"])
        run = DunningRun.objects.filter(entity=entity, as_of=as_of).first()
        if run is None:
            raise CommandError(f"no dunning run of {entity.name} on {as_of}")
        report = services.outbox_enqueue_run(run=run)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        self.stdout.write(
            f"Run {run.pk} of {as_of}: {report.created} message(s) queued, {report.existing} already queued, "
            f"{len(report.fallbacks)} on a fallback channel, {len(report.skipped)} skipped."
        )
        for skipped in report.skipped:
            self.stdout.write(f"  skipped {skipped.customer_ref} {skipped.step_key}: {skipped.reason}")
        for failure in report.template_failures:
            outcome = "shipped default used" if failure.used_shipped_default else "queued as failed"
            self.stdout.write(
                f"  template failed {failure.customer_ref} {failure.template_key} ({outcome}): {failure.error}"
            )
        for fallback in report.fallbacks:
            self.stdout.write(
                f"  {fallback.customer_ref}: {fallback.decided} → {fallback.used} ({fallback.reason})"
            )
