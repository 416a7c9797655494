"""Benchmark the compliance gate the delivery worker calls before every send.

* ``outbound_verdict`` on queued messages read from the database (customers with a history of sent
  messages), verdicts per second and queries per verdict, against the delivery target of
  200 messages/s;
* finding the next allowed instant for deferred messages (a US customer without a time zone: the
  window must hold in all 29 US zones, consumer pack on) by jumping from rule to rule, against the
  simple approach: stepping minute by minute until every rule allows.

    .venv/bin/python benchmarks/bench_compliance.py --customers 500 --history 20 --messages 2000
    .venv/bin/python benchmarks/bench_compliance.py --database-url postgres://relance:relance@127.0.0.1/relance_bench

A fresh SQLite file is used by default (deleted afterwards). With ``--database-url`` the database
must be empty or disposable: the benchmark migrates it and writes a ``bench`` entity.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


def build(customers: int, history: int, messages: int) -> list[int]:
    from relance.delivery.models import OutboundMessage
    from relance.dunning.models import DunningAction, DunningRun
    from relance.ledger.models import Contact, Customer, Entity

    entity = Entity.objects.create(name="bench", currency="EUR", timezone="Europe/Paris")
    run = DunningRun.objects.create(entity=entity, as_of=NOW.date(), started_at=NOW, finished_at=NOW)
    people = []
    for index in range(customers):
        customer = Customer.objects.create(
            entity=entity,
            external_ref=f"C{index}",
            name=f"C{index}",
            currency="EUR",
            country="FR",
            timezone="Europe/Paris" if index % 2 else "",
        )
        contact = Contact.objects.create(
            customer=customer, email=f"c{index}@example.com", phone="+33611111111"
        )
        people.append((customer, contact))
    actions = DunningAction.objects.bulk_create(
        DunningAction(
            run=run,
            entity=entity,
            customer=customer,
            on=NOW.date(),
            kind="overdue",
            policy_key="standard",
            step_key="reminder_1",
            step_index=0,
            offset_days=1,
            action="message",
            channel="email",
            is_contact=True,
            currency="EUR",
            amount_due=100,
            invoice_count=1,
            max_days_past_due=1,
        )
        for customer, _ in people
    )
    rows = []
    for index, (customer, contact) in enumerate(people):
        for sent in range(history):
            at = NOW - timedelta(hours=(40 + 20 * (index % 3)) * (sent + 1))
            rows.append(
                OutboundMessage(
                    idempotency_key=f"h-{index}-{sent}",
                    message_id=f"<h-{index}-{sent}@b>",
                    entity=entity,
                    customer=customer,
                    contact=contact,
                    action=actions[index],
                    channel="email",
                    template_key="overdue_friendly",
                    language="en",
                    recipient=contact.email,
                    status="sent",
                    next_attempt_at=at,
                    queued_at=at,
                    sent_at=at,
                )
            )
    for number in range(messages):
        customer, contact = people[number % customers]
        rows.append(
            OutboundMessage(
                idempotency_key=f"q-{number}",
                message_id=f"<q-{number}@b>",
                entity=entity,
                customer=customer,
                contact=contact,
                action=actions[number % customers],
                channel="email" if number % 3 else "sms",
                template_key="overdue_firm",
                language="en",
                recipient=contact.email,
                status="sending",
                next_attempt_at=NOW,
                queued_at=NOW,
            )
        )
    OutboundMessage.objects.bulk_create(rows, batch_size=2000)
    return list(OutboundMessage.objects.filter(status="sending").values_list("pk", flat=True))


def bench_verdicts(pks: list[int]) -> dict[str, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from relance.delivery.compliance import outbound_verdict
    from relance.delivery.models import OutboundMessage

    messages = list(
        OutboundMessage.objects.filter(pk__in=pks).select_related("customer__entity", "contact", "action")
    )
    outcomes = {"allowed": 0, "deferred": 0, "blocked": 0}
    with CaptureQueriesContext(connection) as queries:
        cpu = time.process_time()
        start = time.perf_counter()
        for message in messages:
            verdict = outbound_verdict(message, now=NOW)
            key = "allowed" if verdict.allowed else "deferred" if verdict.defer_until else "blocked"
            outcomes[key] += 1
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
    return {
        "messages": len(messages),
        "seconds": seconds,
        "cpu": cpu,
        "per_second": len(messages) / seconds,
        "queries": len(queries) / len(messages),
        **outcomes,
    }


def bench_next_instant(samples: int, scan_samples: int) -> dict[str, float]:
    """CPU seconds per deferred message: jumping from rule to rule vs scanning minute by minute."""
    from relance.compliance import rules

    zones, _ = rules.recipient_zones(country="US")
    config = rules.RuleConfig(consumer_rules=True, contact_cap=None, customer_cap=None)
    starts = [datetime(2026, 3, 2, tzinfo=UTC) + timedelta(minutes=37 * n) for n in range(samples)]
    calls = tuple(datetime(2026, 3, 2, tzinfo=UTC) - timedelta(days=d) for d in range(6))
    facts = rules.MessageFacts(channel="call", zones=zones, calls=calls)

    cpu = time.process_time()
    jumped = [rules.decide(facts, config, at) for at in starts]
    jump_cpu = time.process_time() - cpu

    cpu = time.process_time()
    same = 0
    for at, decision in list(zip(starts, jumped, strict=True))[:scan_samples]:
        candidate = at
        if not all(r.allowed for r in rules.assess(facts, config, candidate)):
            candidate = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
            while not all(r.allowed for r in rules.assess(facts, config, candidate)):
                candidate += timedelta(minutes=1)
        same += (at if decision.allowed else decision.defer_until) == candidate
    scan_cpu = time.process_time() - cpu
    scanned = min(scan_samples, samples)
    return {
        "jump_ms": 1000 * jump_cpu / samples,
        "scan_ms": 1000 * scan_cpu / scanned,
        "deferred": sum(not d.allowed for d in jumped),
        "same": same,
        "scanned": scanned,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=500, help="customers (default 500)")
    parser.add_argument("--history", type=int, default=20, help="sent messages per customer (default 20)")
    parser.add_argument("--messages", type=int, default=2000, help="queued messages to judge (default 2000)")
    parser.add_argument(
        "--samples", type=int, default=200, help="deferred messages for the next-instant search"
    )
    parser.add_argument(
        "--scan-samples", type=int, default=20, help="of those, scanned minute by minute (default 20; slow)"
    )
    parser.add_argument(
        "--database-url", default="", help="database to use (default: a temporary SQLite file)"
    )
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="relance-bench-compliance-")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp.name}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    backend = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite"
    pks = build(args.customers, args.history, args.messages)
    verdicts = bench_verdicts(pks)
    search = bench_next_instant(args.samples, args.scan_samples)

    print(
        f"outbound_verdict on {backend}: {verdicts['messages']:.0f} queued messages, "
        f"{args.customers} customers with {args.history} sent messages each"
    )
    print(
        f"  wall {verdicts['seconds']:.2f} s ({verdicts['per_second']:.0f} verdicts/s), "
        f"CPU {verdicts['cpu']:.2f} s ({verdicts['messages'] / verdicts['cpu']:.0f} verdicts per CPU-second)"
    )
    print(
        f"  {verdicts['queries']:.1f} queries per verdict; allowed {verdicts['allowed']:.0f}, "
        f"deferred {verdicts['deferred']:.0f}, blocked {verdicts['blocked']:.0f}"
    )
    print(
        f"next allowed instant, US customer without a zone (29 zones), consumer pack, "
        f"{args.samples} calls ({search['deferred']:.0f} deferred)"
    )
    print(f"  {'rule jumps (ours)':<34} {search['jump_ms']:>9.2f} ms CPU per message")
    print(
        f"  {'minute-by-minute scan (simple)':<34} {search['scan_ms']:>9.2f} ms CPU per message "
        f"(on {search['scanned']:.0f}; same instant {search['same']:.0f}/{search['scanned']:.0f})"
    )
    tmp.cleanup()


if __name__ == "__main__":
    main()
