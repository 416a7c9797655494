"""``relance send``: one delivery pass over the outbox, then exit."""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from relance.delivery.selectors import outbox_due_count
from relance.delivery.worker import WEBHOOK_CHANNEL, send_pass, webhooks_wanted
from relance.webhooks.delivery import WebhookPassReport, webhook_pass


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def add_worker_options(parser: CommandParser) -> None:
    parser.add_argument(
        "--channel",
        action="append",
        metavar="C",
        help="Only this channel (email, sms, letter, call, portal, or webhook); repeat for several. Default: all",
    )
    parser.add_argument(
        "--worker-id",
        metavar="ID",
        help="Name of this worker in leases (default: host:pid). Must be unique among running workers",
    )


class Command(BaseCommand):
    help = (
        "Deliver the due messages of the outbox once, then exit: each message is claimed with a lease, "
        "checked by the compliance rules, sent through its channel's backend and marked sent, retried "
        "later with backoff or failed. Messages a stopped worker left in 'sending' become 'uncertain' "
        "(never resent automatically). --json prints the pass's counts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--limit", type=int, default=500, metavar="N", help="At most N messages (default 500)"
        )
        add_worker_options(parser)
        parser.add_argument("--json", action="store_true", help="Print the counts as one JSON object")
        parser.add_argument("--quiet", action="store_true", help="No progress display on stderr")

    def handle(self, *args: Any, **options: Any) -> None:
        worker_id = options["worker_id"] or default_worker_id()
        channels = options["channel"] or None
        hooks = self.webhooks(worker_id, channels, options)
        channels = [c for c in channels if c != WEBHOOK_CHANNEL] if channels else None
        if options["channel"] and not channels:
            self.hooks_out(hooks, options)
            return
        show = sys.stderr.isatty() and not options["quiet"] and not options["json"]
        if show:
            total = min(outbox_due_count(channels=channels), options["limit"])
            with Progress(
                TextColumn("Sending"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
            ) as progress:
                task = progress.add_task("send", total=total)
                report = send_pass(
                    worker_id=worker_id,
                    limit=options["limit"],
                    channels=channels,
                    progress=lambda message, outcome: progress.advance(task),
                )
        else:
            report = send_pass(worker_id=worker_id, limit=options["limit"], channels=channels)
        if options["json"]:
            extra = {"webhooks": hooks.as_dict()} if hooks else {}
            self.stdout.write(json.dumps(report.as_dict() | extra, indent=2))
            return
        self.hooks_out(hooks, options)
        self.stdout.write(
            f"{report.claimed} claimed: {report.sent} sent, {report.delivered} delivered, "
            f"{report.retrying} to retry, {report.failed} failed, {report.bounced} bounced, "
            f"{report.blocked} blocked, {report.deferred} deferred, {report.uncertain} uncertain"
            + (
                f"; {report.recovered_uncertain} left by a stopped worker now uncertain"
                if report.recovered_uncertain
                else ""
            )
        )

    def webhooks(
        self, worker_id: str, channels: list[str] | None, options: dict[str, Any]
    ) -> WebhookPassReport | None:
        """One webhook pass first (events are small and time-sensitive), when webhooks are wanted."""
        if not webhooks_wanted(channels):
            return None
        return webhook_pass(worker_id=worker_id, limit=options["limit"] * 10)

    def hooks_out(self, hooks: WebhookPassReport | None, options: dict[str, Any]) -> None:
        """The webhook pass's line (JSON when only webhooks were asked for with --json)."""
        if hooks is None:
            return
        if options["json"]:
            self.stdout.write(json.dumps({"webhooks": hooks.as_dict()}, indent=2))
            return
        if hooks.claimed or hooks.recovered or options["channel"]:
            self.stdout.write(
                f"webhooks: {hooks.claimed} attempted, {hooks.delivered} delivered, {hooks.retrying} to retry, "
                f"{hooks.failed} given up"
                + (f", {hooks.endpoints_disabled} endpoint(s) disabled" if hooks.endpoints_disabled else "")
            )
