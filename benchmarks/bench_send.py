"""Queue and deliver N emails to a local SMTP server (aiosmtpd) with 1 and 2 worker processes.

Usage: .venv/bin/python benchmarks/bench_send.py [--count 10000] [--workers 1,2] [--simple-count 2000]
       [--modes bare,checked | --checked] [--changed-percent 5]
       [--database-url postgres://…]   (default: a fresh SQLite file per run)

Each run: a fresh migrated database, N emails queued, then W ``relance send`` processes deliver
them through the real EmailChannel (one SMTP connection per pass, claim + sent commits per
message). Two modes:

- ``bare`` (default): ``populate`` queues N plain emails (one customer each, rendered message with
  text, HTML and an opt-out link, no dunning action) and the workers' send-time check is allow-all:
  the outbox's own cost.
- ``checked``: ``populate-dunning`` queues N dunning emails of one run (customer, contact, one or
  two open invoices, an ``overdue`` action of the shipped "standard" policy, the message asking for
  what is owed), and the workers ask the real send-time check (``outbound_verdict``: still due?
  then the contact rules) before each one. ``--changed-percent`` of them change after queueing:
  half paid in full (cancelled, never sent), half in part (re-rendered, then sent).

Reported: the enqueue rate, the delivery rate between the first and the last message the server
received (steady state), the wall time including the processes' start-up, the workers' CPU per
message, and (checked) how many were cancelled or re-rendered. The simple approach in the same
run: Django's ``send_mail`` once per message, each with a new SMTP connection, no outbox at all.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNNER = REPO / "tests" / "delivery" / "process_runner.py"


class CountingHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.message_ids: set[bytes] = set()
        self.duplicates = 0

    async def handle_DATA(self, server, session, envelope):
        now = time.perf_counter()
        content = envelope.original_content or b""
        start = content.find(b"Message-ID:")
        message_id = content[start : content.find(b"\n", start)] if start >= 0 else b""
        with self.lock:
            if self.count == 0:
                self.first = now
            self.count += 1
            self.last = now
            if message_id in self.message_ids:
                self.duplicates += 1
            self.message_ids.add(message_id)
        return "250 OK"

    def reset(self) -> None:
        with self.lock:
            self.count, self.first, self.last, self.duplicates = 0, 0.0, 0.0, 0
            self.message_ids.clear()


def children_cpu() -> float:
    """CPU seconds (user + system) used by the finished child processes so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(env: dict[str, str], *args: str) -> str:
    finished = subprocess.run(
        [sys.executable, str(RUNNER), *args],
        env=env,
        cwd=REPO,
        check=True,
        timeout=3600,
        stdout=subprocess.PIPE,
        text=True,
    )
    return finished.stdout


def fresh_database(workdir: Path, template: Path | None, database_url: str | None) -> tuple[str, object]:
    if database_url:
        import psycopg

        name = f"relance_bench_{uuid.uuid4().hex[:8]}"
        base = database_url.rpartition("/")[0]
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            with psycopg.connect(database_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        return f"{base}/{name}", drop
    path = workdir / f"bench-{uuid.uuid4().hex[:8]}.sqlite3"
    assert template is not None
    shutil.copy(template, path)
    return f"sqlite:///{path}", lambda: None


MODES = ("bare", "checked")


def bench_outbox(
    *,
    mode: str,
    changed_percent: float,
    count: int,
    workers: int,
    env: dict[str, str],
    handler: CountingHandler,
    workdir: Path,
    template: Path | None,
    database_url: str | None,
) -> dict[str, float]:
    url, drop = fresh_database(workdir, template, database_url)
    run_env = {**env, "DATABASE_URL": url, "RELANCE_BENCH_CHECK": "real" if mode == "checked" else ""}
    if database_url:
        run(run_env, "migrate", "--noinput", "-v", "0")
    started = time.perf_counter()
    if mode == "checked":
        run(run_env, "populate-dunning", str(count), str(changed_percent))
    else:
        run(run_env, "populate", str(count))
    enqueue_seconds = time.perf_counter() - started
    handler.reset()
    per_worker = -(-count // workers)
    idle = children_cpu()
    run(run_env, "send", "--limit", "0", "--quiet")  # start-up cost of one worker process
    startup_cpu = children_cpu() - idle
    before = children_cpu()
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(RUNNER),
                "send",
                "--limit",
                str(per_worker + 10),
                "--worker-id",
                f"w{i}",
                "--quiet",
            ],
            env=run_env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
        for i in range(workers)
    ]
    for process in processes:
        process.wait()
    wall = time.perf_counter() - started
    worker_cpu = children_cpu() - before - workers * startup_cpu
    steady = max(handler.last - handler.first, 1e-9)
    outcome = json.loads(run(run_env, "outcome"))
    drop()  # type: ignore[operator]
    return {
        "cancelled": outcome["statuses"].get("cancelled", 0),
        "rerendered": outcome["rerendered"],
        "left": sum(n for status, n in outcome["statuses"].items() if status not in ("sent", "cancelled")),
        "received": handler.count,
        "duplicates": handler.duplicates,
        "enqueue_per_s": count / enqueue_seconds,
        "steady_per_s": (handler.count - 1) / steady,
        "wall_s": wall,
        "wall_per_s": handler.count / wall,
        "cpu_ms_per_message": 1000 * worker_cpu / max(handler.count, 1),
    }


def bench_simple(*, count: int, port: int, handler: CountingHandler) -> dict[str, float]:
    """Django's send_mail per message, a new connection each time (no outbox, no retries)."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=port,
            DEFAULT_FROM_EMAIL="billing@acme.example",
        )
        django.setup()
    from django.core.mail import send_mail

    handler.reset()
    started = time.perf_counter()
    cpu = time.process_time()
    for number in range(count):
        text = f"Dear customer {number}, invoice INV-{number} of 1,200.00 EUR is overdue."
        send_mail(
            f"Invoice INV-{number} is overdue",
            text,
            None,
            [f"ap{number}@example.com"],
            html_message=f"<p>{text}</p>",
        )
    seconds = time.perf_counter() - started
    cpu_ms = 1000 * (time.process_time() - cpu) / count  # includes the in-process SMTP server's work
    return {
        "received": handler.count,
        "per_s": count / seconds,
        "seconds": seconds,
        "cpu_ms_per_message": cpu_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000, help="Emails per run (default 10000)")
    parser.add_argument("--workers", default="1,2", help="Worker process counts to try (default 1,2)")
    parser.add_argument("--simple-count", type=int, default=2_000, help="Emails for the send_mail baseline")
    parser.add_argument(
        "--database-url", help="PostgreSQL URL (a database is created per run); default SQLite"
    )
    parser.add_argument(
        "--modes",
        default="bare",
        help="bare (no dunning action, allow-all check), checked (dunning messages, the real "
        "send-time check), or both: bare,checked (default bare)",
    )
    parser.add_argument("--checked", action="store_true", help="Same as --modes checked")
    parser.add_argument(
        "--changed-percent",
        type=float,
        default=5.0,
        help="checked: share of messages whose facts change after queueing (default 5)",
    )
    args = parser.parse_args()
    modes = ["checked"] if args.checked else [item.strip() for item in args.modes.split(",") if item.strip()]
    unknown = [mode for mode in modes if mode not in MODES]
    if unknown:
        parser.error(f"--modes: expected bare and/or checked, found {', '.join(unknown)}")

    from aiosmtpd.controller import Controller

    handler = CountingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    workdir = Path(tempfile.mkdtemp(prefix="relance-bench-send-"))
    env = {
        **os.environ,
        "RELANCE_TEST_SMTP_PORT": str(port),
        "RELANCE_VAR_DIR": str(workdir),
        "PYTHONPATH": str(REPO),
    }
    template = None
    try:
        if not args.database_url:
            template = workdir / "template.sqlite3"
            run({**env, "DATABASE_URL": f"sqlite:///{template}"}, "migrate", "--noinput", "-v", "0")
        rows = []
        for mode, workers in [(m, int(w)) for m in modes for w in args.workers.split(",")]:
            result = bench_outbox(
                mode=mode,
                changed_percent=args.changed_percent,
                count=args.count,
                workers=workers,
                env=env,
                handler=handler,
                workdir=workdir,
                template=template,
                database_url=args.database_url,
            )
            rows.append((f"{mode}, {workers} worker(s)", result))
            print(f"outbox {mode}, {workers} worker(s): {result}", file=sys.stderr)
        simple = (
            bench_simple(count=args.simple_count, port=port, handler=handler) if args.simple_count else None
        )
    finally:
        controller.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    database = "PostgreSQL" if args.database_url else "SQLite (file, WAL)"
    print(f"\nDeliver {args.count} emails to aiosmtpd on loopback — {database}\n")
    print(
        f"| {'approach':<24} | {'received':>8} | {'dupl.':>5} | {'cancelled':>9} | {'re-rendered':>11} "
        f"| {'enqueue/s':>9} | {'send/s (steady)':>15} | {'wall s (incl. start-up)':>23} | {'CPU ms/msg':>17} |"
    )
    print(
        f"|{'-' * 26}|{'-' * 10}|{'-' * 7}|{'-' * 11}|{'-' * 13}|{'-' * 11}|{'-' * 17}|{'-' * 25}|{'-' * 19}|"
    )
    for name, result in rows:
        print(
            f"| {name:<24} | {result['received']:>8.0f} | {result['duplicates']:>5.0f} "
            f"| {result['cancelled']:>9.0f} | {result['rerendered']:>11.0f} | {result['enqueue_per_s']:>9.0f} "
            f"| {result['steady_per_s']:>15.0f} | {result['wall_s']:>12.1f} ({result['wall_per_s']:>5.0f}/s) "
            f"| {result['cpu_ms_per_message']:>17.2f} |"
        )
    if simple:
        print(
            f"| {'send_mail, new conn each':<24} | {simple['received']:>8.0f} | {'-':>5} | {'-':>9} "
            f"| {'-':>11} | {'-':>9} | {simple['per_s']:>15.0f} | {simple['seconds']:>12.1f} {'':>9} "
            f"| {simple['cpu_ms_per_message']:>11.2f} (+smtpd) |"
        )
    left = [name for name, result in rows if result["left"]]
    if left:
        print(f"\nNot sent nor cancelled (deferred, blocked, failed…) in: {', '.join(left)}")


if __name__ == "__main__":
    main()
