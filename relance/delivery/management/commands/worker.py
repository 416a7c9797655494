"""``relance worker``: deliver the outbox continuously until SIGTERM/SIGINT."""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from relance.delivery.management.commands.send import add_worker_options, default_worker_id
from relance.delivery.worker import PassReport, worker_loop


class Command(BaseCommand):
    help = (
        "Deliver the outbox continuously: a pass, then a pause of --interval seconds when nothing was "
        "due. SIGTERM or SIGINT stops it cleanly after the message in hand (its state is recorded). "
        "Run several workers with distinct --worker-id values; each message is still sent once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=5.0,
            metavar="S",
            help="Seconds between passes when idle (default 5)",
        )
        parser.add_argument(
            "--limit", type=int, default=500, metavar="N", help="Messages per pass (default 500)"
        )
        add_worker_options(parser)
        parser.add_argument("--json", action="store_true", help="Log each pass as one JSON line on stdout")
        parser.add_argument("--quiet", action="store_true", help="Log nothing when a pass sent nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        worker_id = options["worker_id"] or default_worker_id()
        stop = threading.Event()

        def request_stop(signum: int, frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

        def on_pass(report: PassReport) -> None:
            if options["json"]:
                self.stdout.write(json.dumps(report.as_dict()))
            elif report.claimed or report.recovered_uncertain:
                self.stderr.write(
                    f"[{worker_id}] {report.claimed} claimed: {report.sent + report.delivered} sent, "
                    f"{report.retrying} to retry, {report.failed + report.bounced} failed or bounced, "
                    f"{report.uncertain + report.recovered_uncertain} uncertain"
                )
            sys.stdout.flush()

        if not options["json"]:
            self.stderr.write(f"relance worker {worker_id}: delivering (SIGTERM to stop)")
        worker_loop(
            worker_id=worker_id,
            interval=options["interval"],
            limit=options["limit"],
            channels=options["channel"] or None,
            stop=stop,
            on_pass=on_pass,
        )
        if not options["json"]:
            self.stderr.write(f"relance worker {worker_id}: stopped")
