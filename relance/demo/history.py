"""Two years of collection work for the demo ledger, replayed day by day through the services.

What the team did is read off the ledger's own payment history, so the two agree: a promise is
*kept* when the invoice was in fact paid by the promised day, *broken* when it was paid weeks
later; a dispute is resolved before the invoice was paid (by a credit note when one settled it);
a payment plan covers invoices that were paid late, and defaults when they were not. Chronic late
payers get more calls, more promises and more of them broken. Everything is drawn from one
seeded ``random.Random``: the same seed and day give the same history.

Dunning runs take place on past dates (every four weeks, then weekly for the last four weeks),
settling promises and plan installments as they go. Their messages are *history*: recorded as
delivered at the run's time, never rendered nor sent (rendering costs 0.1–1 s a message, the
statement PDFs most; the outbox's real path is taken by today's run). Every other write goes
through its service with Django's clock set to the day (``relance.demo.clock``), as the person
who did it (``audit_actor``), so the 360 timeline, the queues and the audit trail agree.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from relance.accounts import roles
from relance.ledger.models import Allocation, Contact, Customer, Entity, Invoice, InvoiceStatus

HISTORY_DAYS = 730
# Past runs: four-weekly over the last six months, weekly over the last four weeks. An engine run
# costs about a second whatever the ledger's size (compiling its queries), so two years of them
# would make the demo slow: the older work is the team's calls, promises, disputes, plans and holds.
RUN_DAYS = 168
RECENT_DAYS = 28
OLD_RUN_EVERY = 28
RECENT_RUN_EVERY = 7
LATE_DAYS = 14  # an invoice paid this many days after its due date (or still open) was chased
WORK_SHARE = 0.07  # share of the late invoices someone worked on by hand (the rest: reminders only)
CHRONIC_SHARE = 0.5  # share of paid invoices paid late that makes a chronic late payer
OPEN_DISPUTES_TODAY = 5
ACTIVE_PLANS_TODAY = 3
HOLD_REQUESTS_TODAY = 2
HISTORY_RUN_BY = "relance demo (history)"

CALL_NOTES = (
    "No answer; left a voicemail with our number.",
    "Spoke to accounts payable: the invoice is approved, it goes in the next payment run.",
    "The buyer had not received the invoice: sent a copy by e-mail.",
    "Accounts payable asked for the purchase order number; sent it.",
    "Switchboard only; asked for the person in charge to call back.",
    "Spoke to the controller: payment delayed by their month-end closing.",
)
PROMISE_NOTES = (
    "Promised on the phone by accounts payable.",
    "The controller confirmed the date by e-mail after our call.",
    "Will pay with the next supplier run.",
)
BROKEN_NOTES = (
    "Promise not kept: no payment received; escalate if nothing by Friday.",
    "Second promise missed. Checked with sales before the next step.",
)
CUSTOMER_NOTES = (
    "Pays on the 15th and the last day of the month only: time reminders before those dates.",
    "Prefers e-mail; the accounts payable team does not answer the phone on Mondays.",
    "Group purchasing changed in spring: invoices must quote the new PO format.",
    "Good relationship with the buyer; escalate through sales before any letter.",
    "Cash is tight this quarter according to their CFO: watch the credit limit.",
)
DISPUTE_TEXTS = (
    ("quantity", "We ordered 40 units and received 36. Please credit the 4 missing units."),
    ("pricing", "The unit price is not the one in our framework agreement (-8%)."),
    ("quality", "Two pallets arrived damaged; photos were sent to your sales rep."),
    ("po_missing", "This invoice does not quote our purchase order, our system rejects it."),
    ("not_received", "We have no delivery note for this shipment; it never reached our warehouse."),
    ("duplicate", "This looks like a duplicate of an invoice we already paid last month."),
)
HOLD_REASONS = (
    "Contract renewal under negotiation: I will call them myself this week.",
    "Their new CFO starts on Monday; I am meeting them about the overdue invoices.",
    "Big order in the pipeline, let me handle the reminder personally.",
)


@dataclass(frozen=True)
class _Invoice:
    pk: int
    customer_id: int
    issue_date: date
    due_date: date
    amount: Decimal
    currency: str
    paid_on: date | None  # the day the last allocation settled it, None while open
    credited: bool  # a credit note settled part of it

    def settled_by(self, today: date) -> date:
        """The day it was settled, or ``today`` for an invoice still open."""
        return self.paid_on or today


@dataclass
class HistoryReport:
    """What the history holds, for the command's summary and the tests."""

    runs: int = 0
    messages: int = 0
    calls: int = 0
    notes: int = 0
    promises: int = 0
    disputes: int = 0
    plans: int = 0
    holds: int = 0
    skipped: int = 0  # work a service refused (the replay goes on; the count says how much)

    def __str__(self) -> str:
        return (
            f"{self.runs} past runs with {self.messages:,} delivered messages, {self.calls} calls, "
            f"{self.notes} notes, {self.promises} promises, {self.disputes} disputes, {self.plans} "
            f"payment plans and {self.holds} holds" + (f" ({self.skipped} refused)" if self.skipped else "")
        )


@dataclass(order=True)
class _Event:
    on: date
    minute: int
    sequence: int
    kind: str = field(compare=False)
    user: Any = field(compare=False)
    work: Callable[[], Any] = field(compare=False)


def _ledger(entity: Entity, today: date) -> dict[int, list[_Invoice]]:
    """Each customer's invoices with the day they were settled, read once."""
    settled: dict[int, list[tuple[date, Decimal, bool]]] = defaultdict(list)
    rows = Allocation.objects.filter(entity=entity, date__lte=today).values_list(
        "invoice_id", "date", "amount", "credit_note_id"
    )
    for invoice_id, on, amount, credit_note_id in rows.iterator(chunk_size=5000):
        settled[invoice_id].append((on, amount, credit_note_id is not None))
    invoices: dict[int, list[_Invoice]] = defaultdict(list)
    fields = ("pk", "customer_id", "issue_date", "due_date", "amount", "currency")
    for pk, customer_id, issue, due, amount, currency in (
        Invoice.objects.filter(entity=entity, status=InvoiceStatus.OPEN, issue_date__lte=today)
        .order_by("customer_id", "due_date", "pk")
        .values_list(*fields)
    ):
        paid_on = None
        total = Decimal(0)
        for on, part, _credit in sorted(settled.get(pk, ())):
            total += part
            if total >= amount:
                paid_on = on
                break
        credited = any(credit for _on, _part, credit in settled.get(pk, ()))
        invoices[customer_id].append(
            _Invoice(pk, customer_id, issue, due, amount, currency, paid_on, credited)
        )
    return invoices


def _open_on(invoice: _Invoice, on: date) -> bool:
    return invoice.issue_date <= on and (invoice.paid_on is None or invoice.paid_on > on)


def run_dates(today: date) -> list[date]:
    """The past runs: every four weeks for six months, then weekly, the last one before today."""
    dates = []
    on = today - timedelta(days=RUN_DAYS)
    while on < today - timedelta(days=RECENT_DAYS):
        dates.append(on)
        on += timedelta(days=OLD_RUN_EVERY)
    on = today - timedelta(days=RECENT_DAYS)
    while on < today:
        dates.append(on)
        on += timedelta(days=RECENT_RUN_EVERY)
    return dates


class _Replay:
    """Plans the team's work as dated events, then plays them in order between the runs."""

    def __init__(self, *, entity: Entity, today: date, seed: int, team: dict[str, Any]) -> None:
        self.entity = entity
        self.today = today
        self.seed = seed
        self.team = team
        self.manager = team.get(roles.CREDIT_MANAGER)
        self.events: list[_Event] = []
        self.report = HistoryReport()
        self.start = today - timedelta(days=HISTORY_DAYS)

    # -------------------------------------------------------------- planning

    def add(self, on: date, kind: str, user: Any, work: Callable[[], Any], minute: int = 0) -> None:
        self.events.append(_Event(on, 600 + minute, len(self.events), kind, user, work))

    def plan(self) -> None:
        invoices = _ledger(self.entity, self.today)
        customers = list(
            Customer.objects.filter(entity=self.entity)
            .select_related("collector", "sales_owner", "entity")
            .order_by("external_ref")
        )
        for customer in customers:
            rng = random.Random(f"{self.seed}:{customer.external_ref}")
            own = invoices.get(customer.pk, [])
            paid = [invoice for invoice in own if invoice.paid_on is not None]
            late = [i for i in paid if (i.settled_by(self.today) - i.due_date).days > LATE_DAYS]
            chronic = bool(paid) and len(late) / len(paid) >= CHRONIC_SHARE
            collector = customer.collector or self.manager
            if rng.random() < 0.08:
                self.add(
                    self.start + timedelta(days=rng.randint(30, HISTORY_DAYS - 1)),
                    "note",
                    collector,
                    self._note(customer, rng.choice(CUSTOMER_NOTES), collector),
                    rng.randint(0, 400),
                )
            for invoice in own:
                self._invoice_work(customer, invoice, rng, chronic, collector)
            if chronic and late and rng.random() < 0.12:
                self._past_plan(customer, own, rng)
        self._today_queues(customers, invoices)
        self._holds(customers, invoices)

    def _today_queues(self, customers: list[Customer], invoices: dict[int, list[_Invoice]]) -> None:
        """Something in each queue today, whatever the ledger's size: disputes waiting for an
        answer (one past its SLA), active plans, open promises, and one promise kept and one broken
        lately, each on a different account with an invoice overdue (or paid late) to match."""
        rng = random.Random(f"{self.seed}:today")
        month_ago = self.today - timedelta(days=30)
        overdue = {
            customer.pk: [
                i for i in invoices.get(customer.pk, []) if _open_on(i, month_ago) and _open_on(i, self.today)
            ]
            for customer in customers
        }
        eligible = [customer for customer in customers if overdue[customer.pk]]
        rng.shuffle(eligible)
        for position, customer in enumerate(eligible[: OPEN_DISPUTES_TODAY + ACTIVE_PLANS_TODAY + 3]):
            invoice = overdue[customer.pk][0]
            collector = customer.collector or self.manager
            if position < OPEN_DISPUTES_TODAY:
                opened = self.today - timedelta(days=(15, 2, 6, 9, 4)[position % 5])
                reason, text = DISPUTE_TEXTS[position % len(DISPUTE_TEXTS)]
                self.add(opened, "dispute", None, self._dispute(customer, invoice, reason, text), 30)
            elif position < OPEN_DISPUTES_TODAY + ACTIVE_PLANS_TODAY:
                covered = overdue[customer.pk]
                self.add(
                    month_ago, "plan", collector, self._plan(customer, covered, month_ago, 4, collector), 30
                )
            elif position == OPEN_DISPUTES_TODAY + ACTIVE_PLANS_TODAY:  # broken: promised 20 days ago
                promised = self.today - timedelta(days=20)
                self.add(
                    month_ago,
                    "promise",
                    collector,
                    self._promise(customer, invoice, month_ago, promised, PROMISE_NOTES[0], collector),
                    30,
                )
            else:  # open: made three days ago, for next week (or the week after)
                on = self.today - timedelta(days=3)
                promised = self.today + timedelta(days=7 * position % 12)
                self.add(
                    on,
                    "promise",
                    collector,
                    self._promise(customer, invoice, on, promised, PROMISE_NOTES[1], collector),
                    30,
                )
        paid_lately = [
            (customer, invoice)
            for customer in customers
            for invoice in invoices.get(customer.pk, [])
            if invoice.paid_on is not None
            and self.today - timedelta(days=25) <= invoice.paid_on < self.today - timedelta(days=8)
            and (invoice.paid_on - invoice.due_date).days > 10
            and customer not in eligible[: OPEN_DISPUTES_TODAY + ACTIVE_PLANS_TODAY + 3]
        ]
        rng.shuffle(paid_lately)
        if len(paid_lately) > 1:  # a dispute answered: rejected, and then the invoice was paid
            customer, invoice = paid_lately.pop()
            paid_on = invoice.settled_by(self.today)
            reason, text = DISPUTE_TEXTS[0]
            opened = max(invoice.due_date, paid_on - timedelta(days=6))
            self.add(opened, "dispute", None, self._dispute(customer, invoice, reason, text), 30)
            self.add(
                paid_on - timedelta(days=1), "resolve", self.manager, self._resolve(invoice, "rejected"), 30
            )
        if paid_lately:  # kept: promised on the day they paid, and settled by a run since
            customer, invoice = paid_lately[0]
            paid_on = invoice.settled_by(self.today)
            on = paid_on - timedelta(days=5)
            collector = customer.collector or self.manager
            self.add(
                on,
                "promise",
                collector,
                self._promise(customer, invoice, on, paid_on, PROMISE_NOTES[2], collector),
                30,
            )

    def _invoice_work(
        self, customer: Customer, invoice: _Invoice, rng: random.Random, chronic: bool, collector: Any
    ) -> None:
        still_open = invoice.paid_on is None
        days_late = (invoice.settled_by(self.today) - invoice.due_date).days
        if days_late <= LATE_DAYS or invoice.due_date < self.start + timedelta(days=30):
            return
        if rng.random() > WORK_SHARE * (1.6 if chronic else 1.0):
            return
        called = invoice.due_date + timedelta(days=rng.randint(6, 12))
        if called >= self.today or not _open_on(invoice, called):
            return
        draw = rng.random()
        if draw < (0.5 if chronic else 0.4):
            self._promise_work(customer, invoice, rng, chronic, collector, called, still_open)
        elif draw < 0.5 and not still_open:
            reason, text = rng.choice(DISPUTE_TEXTS)
            self.add(
                called, "dispute", None, self._dispute(customer, invoice, reason, text), rng.randint(0, 400)
            )
            resolved = max(
                called + timedelta(days=2), invoice.settled_by(self.today) - timedelta(days=rng.randint(0, 4))
            )
            resolution = (
                "credit_note" if invoice.credited else rng.choice(("rejected", "rejected", "withdrawn"))
            )
            self.add(
                min(resolved, self.today - timedelta(days=1)),
                "resolve",
                self.manager,
                self._resolve(invoice, resolution),
                rng.randint(0, 400),
            )
        else:
            note = rng.choice(CALL_NOTES)
            self.add(called, "call", collector, self._call(customer, note, collector), rng.randint(0, 400))

    def _promise_work(
        self,
        customer: Customer,
        invoice: _Invoice,
        rng: random.Random,
        chronic: bool,
        collector: Any,
        called: date,
        still_open: bool,
    ) -> None:
        if still_open:
            if called >= self.today - timedelta(days=12):  # recent: still open today
                promised = max(called, self.today + timedelta(days=rng.randint(-2, 12)))
            else:
                promised = called + timedelta(days=rng.randint(5, 10))  # long passed: broken
        elif rng.random() < (0.35 if chronic else 0.75) and invoice.settled_by(
            self.today
        ) <= called + timedelta(days=45):
            promised = max(called, invoice.settled_by(self.today) - timedelta(days=rng.randint(0, 3)))
        else:
            promised = called + timedelta(days=rng.randint(3, 7))
        note = rng.choice(PROMISE_NOTES)
        minute = rng.randint(0, 400)
        self.add(
            called,
            "promise",
            collector,
            self._promise(customer, invoice, called, promised, note, collector),
            minute,
        )
        broken_seen = promised + timedelta(days=8)
        if invoice.settled_by(self.today) > broken_seen + timedelta(days=2) and broken_seen < self.today:
            self.add(
                broken_seen, "note", collector, self._note(customer, rng.choice(BROKEN_NOTES), collector)
            )

    def _past_plan(self, customer: Customer, own: list[_Invoice], rng: random.Random) -> None:
        """A plan for two or more invoices overdue on the same day and paid later (or not)."""
        for invoice in own:
            starts = invoice.due_date + timedelta(days=rng.randint(20, 35))
            if starts < self.start + timedelta(days=60) or starts > self.today - timedelta(days=150):
                continue
            covered = [
                other
                for other in own
                if _open_on(other, starts) and other.due_date < starts and other.paid_on is not None
            ]
            if len(covered) >= 2:
                user = self.manager
                self.add(
                    starts, "plan", user, self._plan(customer, covered, starts, 3, user), rng.randint(0, 400)
                )
                self.add(starts + timedelta(days=120), "plan_end", user, self._plan_end(customer, user))
                return

    def _holds(self, customers: list[Customer], invoices: dict[int, list[_Invoice]]) -> None:
        """Sales owners' "I'm on it" holds over the years and today, and one legal case."""
        rng = random.Random(f"{self.seed}:holds")
        owned = [customer for customer in customers if customer.sales_owner_id is not None]
        for customer in rng.sample(owned, min(10, len(owned))):
            on = self.start + timedelta(days=rng.randint(90, HISTORY_DAYS - 30))
            self.add(
                on,
                "hold",
                customer.sales_owner,
                self._hold_request(customer, rng.choice(HOLD_REASONS), 14, on),
            )
        overdue = [
            customer
            for customer in owned
            if any(_open_on(i, self.today) and i.due_date < self.today for i in invoices.get(customer.pk, []))
        ]
        for customer in rng.sample(overdue, min(HOLD_REQUESTS_TODAY, len(overdue))):
            on = self.today - timedelta(days=2)
            self.add(
                on,
                "hold",
                customer.sales_owner,
                self._hold_request(customer, rng.choice(HOLD_REASONS), 14, on),
            )
        worst = max(
            (c for c in overdue if c.segment == "high risk"),
            key=lambda c: sum(i.amount for i in invoices.get(c.pk, []) if _open_on(i, self.today)),
            default=None,
        )
        if worst is not None:
            on = self.today - timedelta(days=45)
            self.add(on, "legal", self.manager, self._legal(worst, on))

    # -------------------------------------------------------------- the work itself

    def _call(self, customer: Customer, note: str, user: Any) -> Callable[[], Any]:
        from relance.cases.services import contact_log

        def work() -> None:
            contact_log(customer=customer, on=self._on, channel="call", note=note, actor=_actor(user))
            self.report.calls += 1

        return work

    def _note(self, customer: Customer, text: str, user: Any) -> Callable[[], Any]:
        from django.utils import timezone

        from relance.workspace.services import customer_note_add

        def work() -> None:
            customer_note_add(customer=customer, text=text, now=timezone.now(), actor=_actor(user))
            self.report.notes += 1

        return work

    def _promise(
        self, customer: Customer, invoice: _Invoice, on: date, promised: date, note: str, user: Any
    ) -> Callable[[], Any]:
        from relance.cases.services import contact_log, promise_add

        def work() -> None:
            promise_add(
                customer=customer,
                promised_date=promised,
                on=on,
                invoices=[Invoice.objects.get(pk=invoice.pk)],
                note=note,
                actor=_actor(user),
            )
            contact_log(
                customer=customer,
                on=on,
                channel="call",
                note=f"Promise to pay by {promised}.",
                actor=_actor(user),
            )
            self.report.promises += 1
            self.report.calls += 1

        return work

    def _dispute(self, customer: Customer, invoice: _Invoice, reason: str, text: str) -> Callable[[], Any]:
        """Opened by the customer in the portal (their words, the SLA they are told)."""
        from relance.portal.links import link_create
        from relance.portal.services import Actor, dispute_make

        def work() -> None:
            contact = Contact.objects.filter(customer=customer).order_by("pk").first()
            link = link_create(customer=customer, contact=contact)
            dispute_make(
                actor=Actor(link=link),
                on=self._on,
                invoice=Invoice.objects.get(pk=invoice.pk),
                reason_code=reason,
                amount=None,
                text=text,
            )
            self.report.disputes += 1

        return work

    def _resolve(self, invoice: _Invoice, resolution: str) -> Callable[[], Any]:
        from relance.cases.models import Dispute, DisputeStatus
        from relance.portal.services import dispute_close

        def work() -> None:
            dispute = Dispute.objects.filter(invoice_id=invoice.pk, status=DisputeStatus.OPEN).first()
            if dispute is not None:
                note = "Checked with the warehouse and sales." if resolution != "withdrawn" else ""
                dispute_close(
                    dispute=dispute,
                    resolution=resolution,
                    on=self._on,
                    note=note,
                    actor=_actor(self.manager),
                )

        return work

    def _plan(
        self, customer: Customer, covered: list[_Invoice], starts: date, installments: int, user: Any
    ) -> Callable[[], Any]:
        from relance.cases.services import plan_create

        def work() -> None:
            plan_create(
                customer=customer,
                starts_on=starts,
                installments=installments,
                first_due=starts + timedelta(days=14),
                every_days=30,
                invoices=list(Invoice.objects.filter(pk__in=[invoice.pk for invoice in covered])),
                note="Agreed on the phone after the second reminder.",
                actor=_actor(user),
            )
            self.report.plans += 1

        return work

    def _plan_end(self, customer: Customer, user: Any) -> Callable[[], Any]:
        """A plan still active four months on has defaulted: cancelled, with a note why."""
        from relance.cases.models import PaymentPlan, PlanStatus
        from relance.cases.services import plan_cancel

        def work() -> None:
            plan = PaymentPlan.objects.filter(customer=customer, status=PlanStatus.ACTIVE).first()
            if plan is not None:
                plan_cancel(plan=plan, actor=_actor(user))
                self._note(customer, "Payment plan defaulted and cancelled: dunning resumes.", user)()

        return work

    def _hold_request(self, customer: Customer, reason: str, days: int, on: date) -> Callable[[], Any]:
        from relance.workspace.hold_services import HoldRequest, hold_request_create

        def work() -> None:
            hold_request_create(
                customer=customer,
                user=customer.sales_owner,
                request=HoldRequest(reason=reason, days=days, on=on),
                actor=_actor(customer.sales_owner),
            )
            self.report.holds += 1

        return work

    def _legal(self, customer: Customer, on: date) -> Callable[[], Any]:
        from relance.cases.services import hold_create

        def work() -> None:
            hold_create(
                customer=customer,
                kind="legal",
                reason="Handed to our lawyers after the final notice went unanswered.",
                starts_on=on,
                actor=_actor(self.manager),
            )
            self.report.holds += 1

        return work

    # -------------------------------------------------------------- playing

    _on: date

    def play(self) -> HistoryReport:
        from django.db import transaction

        from relance.audit.context import audit_actor
        from relance.core.errors import RelanceError
        from relance.demo.clock import clock_at
        from relance.dunning.services import run_instant, run_start

        runs = run_dates(self.today)
        self.events.sort()
        pending = iter(self.events)
        event = next(pending, None)
        for run_on in [*runs, None]:
            while event is not None and (run_on is None or event.on < run_on):
                self._on = event.on
                instant = datetime.combine(event.on, time(0), tzinfo=UTC) + timedelta(minutes=event.minute)
                label = f"demo:{event.user.get_username()}" if event.user is not None else "demo:portal"
                try:
                    with clock_at(instant), audit_actor(label=label, user=event.user), transaction.atomic():
                        event.work()
                except RelanceError:
                    self.report.skipped += 1
                except Exception as exc:  # a portal refusal is not a RelanceError
                    if type(exc).__name__ != "PortalRefused":
                        raise
                    self.report.skipped += 1
                event = next(pending, None)
            if run_on is None:
                break
            instant = run_instant(self.entity, run_on)
            with clock_at(instant), audit_actor(label="demo:run"):
                outcome = run_start(entity=self.entity, as_of=run_on, started_by=HISTORY_RUN_BY)
                if outcome.run is not None:
                    self.report.runs += 1
                    self.report.messages += history_messages_record(run=outcome.run, at=instant)
        self.report.messages += past_messages_delivered(entity=self.entity, before=self.today)
        return self.report


def collection_history_seed(*, entity: Entity, today: date, seed: int, team: dict[str, Any]) -> HistoryReport:
    """Replay two years of the team's collection work up to (not including) ``today``."""
    replay = _Replay(entity=entity, today=today, seed=seed, team=team)
    replay.plan()
    return replay.play()


# ------------------------------------------------------------------ the runs' messages, as history

HISTORY_CHANNELS = {"email": "email", "letter": "letter", "registered_letter": "letter", "sms": "sms"}
HISTORY_BODY = "A past reminder of the demo's history: recorded as delivered, never rendered nor sent."


def _recipient(contact: Contact | None, customer: Customer, channel: str) -> str:
    if contact is None:
        return customer.name
    if channel == "email":
        return contact.email or customer.name
    if channel == "sms":
        return contact.phone or customer.name
    return customer.name


def history_messages_record(*, run: Any, at: datetime) -> int:
    """The run's reminders as delivered messages at ``at`` (bulk: one row and two events each),
    its call tasks done by the customer's collector, its other actions done. Returns the messages."""
    from relance.delivery.models import (
        CallTask,
        CallTaskStatus,
        DeliveryEvent,
        MessageStatus,
        OutboundMessage,
    )
    from relance.delivery.services import message_id_new, run_message_key
    from relance.dunning.models import ActionStatus, DunningAction

    actions = list(DunningAction.objects.filter(run=run).select_related("customer"))
    contacts = {
        contact.customer_id: contact
        for contact in Contact.objects.filter(customer_id__in={a.customer_id for a in actions}).order_by(
            "-pk"
        )
    }
    messages, tasks, delivered, done = [], [], [], []
    for action in actions:
        contact = contacts.get(action.customer_id)
        if action.is_contact and action.channel in HISTORY_CHANNELS:
            channel = HISTORY_CHANNELS[action.channel]
            messages.append(
                OutboundMessage(
                    idempotency_key=run_message_key(
                        run_id=run.pk,
                        customer_id=action.customer_id,
                        step_key=action.step_key,
                        channel=channel,
                    ),
                    message_id=message_id_new(),
                    entity_id=run.entity_id,
                    customer_id=action.customer_id,
                    contact=contact,
                    run=run,
                    action=action,
                    channel=channel,
                    template_key=action.template_key,
                    language=action.customer.language,
                    recipient=_recipient(contact, action.customer, channel),
                    body_text=HISTORY_BODY,
                    amount_due=action.amount_due,
                    currency=action.currency,
                    status=MessageStatus.DELIVERED,
                    attempts=1,
                    next_attempt_at=at,
                    provider="demo-history",
                    queued_at=at,
                    sent_at=at,
                    delivered_at=at,
                    created_at=at,
                    updated_at=at,
                )
            )
            delivered.append(action.pk)
        elif action.is_contact:
            tasks.append(
                CallTask(
                    entity_id=run.entity_id,
                    customer_id=action.customer_id,
                    contact=contact,
                    assigned_to_id=action.customer.collector_id,
                    due_on=run.as_of,
                    phone=contact.phone if contact else "",
                    status=CallTaskStatus.DONE,
                    outcome="no_answer" if action.pk % 3 == 0 else "reached",
                    completed_at=at + timedelta(hours=4),
                    created_at=at,
                    updated_at=at,
                )
            )
            done.append(action.pk)
        else:
            done.append(action.pk)
    OutboundMessage.objects.bulk_create(messages, batch_size=1000)
    CallTask.objects.bulk_create(tasks, batch_size=1000)
    created = list(OutboundMessage.objects.filter(run=run).values_list("pk", flat=True))
    _history_case_events(run, tasks)
    DeliveryEvent.objects.bulk_create(
        [
            DeliveryEvent(message_id=pk, kind=kind, at=at, detail={"provider": "demo-history"})
            for pk in created
            for kind in ("sent", "delivered")
        ],
        batch_size=2000,
    )
    DunningAction.objects.filter(pk__in=delivered).update(status=ActionStatus.DELIVERED)
    DunningAction.objects.filter(pk__in=done).update(status=ActionStatus.DONE)
    return len(messages)


def past_messages_delivered(*, entity: Entity, before: date) -> int:
    """Messages the replay queued (portal confirmations, dispute answers) as delivered when queued:
    history, so ``relance send`` never sends them."""
    from relance.delivery.models import DeliveryEvent, MessageStatus, OutboundMessage
    from relance.delivery.services import action_status_follow

    cutoff = datetime.combine(before, time(0), tzinfo=UTC)
    queued = OutboundMessage.objects.filter(entity=entity, status=MessageStatus.QUEUED, queued_at__lt=cutoff)
    rows = list(queued.values_list("pk", "queued_at", "action_id"))
    for pk, at, _action in rows:
        OutboundMessage.objects.filter(pk=pk).update(
            status=MessageStatus.DELIVERED, sent_at=at, delivered_at=at, provider="demo-history", attempts=1
        )
    DeliveryEvent.objects.bulk_create(
        [
            DeliveryEvent(message_id=pk, kind=kind, at=at, detail={"provider": "demo-history"})
            for pk, at, _action in rows
            for kind in ("sent", "delivered")
        ]
    )
    for action_id in {action for _pk, _at, action in rows if action}:
        action_status_follow(action_id=action_id)
    from relance.audit import case_events
    from relance.audit.models import CaseEventKind
    from relance.core.actors import Actor

    case_events.bulk_record(
        OutboundMessage.objects.filter(pk__in=[pk for pk, _at, _action in rows]),
        kind=CaseEventKind.MESSAGE_SENT,
        actor=Actor.system("outbox worker"),
        line=case_events.message_line,
        at=lambda message: message.sent_at,
    )
    return len(rows)


def _history_case_events(run: Any, tasks: list[Any]) -> None:
    """The case timeline of a replayed run: its messages sent by the outbox worker, its calls
    done by the customer's collector (one insert each)."""
    from django.contrib.auth import get_user_model

    from relance.audit import case_events
    from relance.audit.models import CaseEventKind
    from relance.core.actors import Actor
    from relance.delivery.models import OutboundMessage

    case_events.bulk_record(
        OutboundMessage.objects.filter(run=run),
        kind=CaseEventKind.MESSAGE_SENT,
        actor=Actor.system("outbox worker"),
        line=case_events.message_line,
        at=lambda message: message.sent_at,
    )
    users = {
        user.pk: user for user in get_user_model().objects.filter(pk__in={t.assigned_to_id for t in tasks})
    }
    case_events.bulk_record(
        [task for task in tasks if task.pk is not None],
        kind=CaseEventKind.CALL_OUTCOME,
        actor=lambda task: Actor.of_user_or_system(users.get(task.assigned_to_id), "demo"),
        line=case_events.call_task_line,
        at=lambda task: task.completed_at,
    )


def _actor(user: Any) -> Any:
    """The demo's collector or manager doing the work (the system when nobody is named)."""
    from relance.core.actors import Actor

    return Actor.of_user_or_system(user, "demo")
