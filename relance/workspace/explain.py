"""Reads of the "why" page: why an account is on hold, not chased, not messaged, or why the
customer's portal request was refused, in plain words with dates and who.

Everything comes from the owning apps' records; nothing is recomputed by the engine:
holds (``CustomerHold``), the credit hold, open disputes, promises and plans (collections app),
opt-outs (the contact's flags and ``ContactPreferenceEvent``), invalid addresses, blocked
messages (``OutboundMessage.status = blocked``, ``last_error``), what the latest run held back
(``Suppression`` with ``REASON_CODES``), what the compliance rules would say of a reminder sent
now, and the portal's plan requests and refusals (``PlanRequest``, ``PortalEvent`` ``*_refused``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import get_language

from relance.core.channels import OPT_OUT_CHANNELS, opt_out_field
from relance.core.formatting import code_label, format_money
from relance.ledger.models import Customer

BLOCKED_SHOWN = 20
REFUSALS_SHOWN = 20
NOBODY = "not recorded"
PORTAL = "the customer, through the portal"


@dataclass(frozen=True)
class Fact:
    """One reason, said in plain words: what, since when, until when, who, and what it stops."""

    kind: str
    title: str
    effect: str = ""
    since: date | datetime | None = None
    until: date | datetime | None = None
    until_text: str = ""
    who: str = ""
    detail: str = ""

    @property
    def since_label(self) -> str:
        return _shown(self.since)

    @property
    def until_label(self) -> str:
        return _shown(self.until)

    def meta(self, *, inclusive: bool = False) -> str:
        """``since … · until … · by …`` with the parts that are known."""
        until = ""
        if self.until is not None:
            until = f"until {self.until_label}" + (" inclusive" if inclusive else "")
        parts = [
            f"since {self.since_label}" if self.since is not None else "",
            until or self.until_text,
            f"by {self.who}" if self.who else "",
        ]
        return " · ".join(part for part in parts if part)

    @property
    def meta_text(self) -> str:
        return self.meta(inclusive=self.kind in {"hold", "legal", "do_not_contact"})


def _shown(value: date | datetime | None) -> str:
    """A day as ``2026-11-24``, an instant as ``2026-11-24 09:30`` in the site's time zone."""
    if isinstance(value, datetime):
        return (
            f"{timezone.localtime(value):%Y-%m-%d %H:%M}"
            if timezone.is_aware(value)
            else f"{value:%Y-%m-%d %H:%M}"
        )
    return value.isoformat() if isinstance(value, date) else ""


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    facts: tuple[Fact, ...]
    empty: str


@dataclass(frozen=True)
class Explanation:
    customer: Customer
    today: date
    run_as_of: date | None
    sections: tuple[Section, ...] = field(default_factory=tuple)

    @property
    def paused(self) -> bool:
        """Whether something in force stops the whole account's dunning (a hold, a plan, a promise)."""
        return any(s.facts for s in self.sections if s.key in {"holds", "plans", "promises"})


def _username(user: Any) -> str:
    return user.get_username() if user is not None else ""


def _audit_who(object_type: str, object_id: Any) -> str:
    """Who created a row according to the audit trail, for rows that do not name their creator."""
    from relance.audit.models import AuditEvent

    label = (
        AuditEvent.objects.filter(object_type=object_type, object_id=str(object_id), action="create")
        .order_by("at")
        .values_list("actor_label", flat=True)
        .first()
    )
    return label or ""


def _holds(customer: Customer, today: date) -> list[Fact]:
    from relance.cases.selectors import hold_list_in_force

    effects = {
        "hold": "no dunning step is taken and no run message goes out",
        "legal": "the account is in a legal case: no dunning step is taken",
        "do_not_contact": "no message at all goes out, not even confirmations or replies",
    }
    facts = []
    for hold in hold_list_in_force(customer=customer, on=today).select_related("created_by"):
        who = _username(hold.created_by) or _audit_who("cases.customerhold", hold.pk) or NOBODY
        facts.append(
            Fact(
                kind=hold.kind,
                title=f"{hold.get_kind_display()}: {hold.reason}",
                effect=effects.get(hold.kind, ""),
                since=hold.starts_on,
                until=hold.ends_on,
                until_text="" if hold.ends_on else "until someone removes it",
                who=f"{who}, on {timezone.localtime(hold.created_at):%Y-%m-%d %H:%M}",
            )
        )
    return facts


def _credit_hold(customer: Customer) -> list[Fact]:
    from relance.cases.selectors import customer_credit_hold

    hold = customer_credit_hold(customer=customer)
    if hold is None:
        return []
    action = hold.action
    review = _credit_review_of(hold) if action is None else None
    detail = ""
    if action is not None:
        who = f"the dunning run of {action.on} (step {action.step_key} of policy {action.policy_key})"
    elif review is not None:
        decider = _username(review.decided_by) or NOBODY
        who = f"credit review {review.pk} of {review.opened_on}, accepted by {decider}"
        detail = " ".join([*review.reasons, *([f"Note: {review.note}"] if review.note else [])])
    else:
        who = _audit_who("cases.credithold", hold.pk) or "placed by hand"
    return [
        Fact(
            kind="credit_hold",
            title=f"Credit hold{': ' + hold.reason if hold.reason else ''}",
            effect="no new orders until it is released; it does not stop reminders",
            since=hold.placed_on,
            until_text="until a credit manager releases it",
            who=who,
            detail=detail,
        )
    ]


def _credit_review_of(hold: Any) -> Any:
    """The credit review whose accepted decision placed ``hold`` (its why), if one did."""
    from relance.credit.selectors.reviews import review_of_credit_hold

    return review_of_credit_hold(hold=hold)


def _disputes(customer: Customer, today: date) -> list[Fact]:
    from relance.cases.models import Dispute, DisputeStatus
    from relance.ledger.selectors import invoice_open_amount

    facts = []
    disputes = Dispute.objects.filter(customer=customer, status=DisputeStatus.OPEN).select_related(
        "invoice", "created_by"
    )
    for dispute in disputes.order_by("opened_on", "pk"):
        open_amount = invoice_open_amount(invoice=dispute.invoice, as_of=today)
        whole = dispute.amount >= open_amount
        portal = hasattr(dispute, "portal_case")
        who = _username(dispute.created_by) or (PORTAL if portal else NOBODY)
        facts.append(
            Fact(
                kind="dispute",
                title=(
                    f"Invoice {dispute.invoice.external_ref}: "
                    f"{format_money(dispute.amount, dispute.invoice.currency, get_language())} "
                    f"disputed ({dispute.get_reason_code_display()})"
                ),
                effect=(
                    "the whole open amount is disputed: the invoice is not chased"
                    if whole
                    else "only the disputed part is left out; the rest "
                    f"({format_money(open_amount - dispute.amount, dispute.invoice.currency, get_language())}) "
                    "is still chased"
                ),
                since=dispute.opened_on,
                until_text="until the dispute is resolved",
                who=who,
                detail=dispute.note,
            )
        )
    return facts


def _grace_days(customer: Customer) -> int | None:
    from relance.dunning.selectors import customer_policy_key, policy_map

    policy = policy_map(entity=customer.entity).get(customer_policy_key(customer=customer) or "")
    return policy.cadence.promise_grace_days if policy is not None else None


def _created_by(row: Any) -> str:
    if row.created_by is not None:
        return _username(row.created_by)
    return PORTAL if (row.note or "").startswith("portal:") else NOBODY


def _promises(customer: Customer) -> list[Fact]:
    from relance.cases.selectors import promise_list

    grace = _grace_days(customer)
    facts = []
    for promise in promise_list(customer=customer, open_only=True).select_related("created_by"):
        until = promise.promised_date + timedelta(days=grace) if grace is not None else promise.promised_date
        facts.append(
            Fact(
                kind="promise",
                title=f"Promise to pay {format_money(promise.amount, promise.currency, get_language())} "
                f"by {promise.promised_date}",
                effect="dunning is paused while the promise runs"
                + (f" (its date plus {grace} days of grace)" if grace is not None else ""),
                since=promise.created_on,
                until=until,
                who=_created_by(promise),
                detail=promise.note,
            )
        )
    return facts


def _plans(customer: Customer) -> list[Fact]:
    from relance.cases.models import PaymentPlan, PlanStatus

    facts = []
    plans = PaymentPlan.objects.filter(customer=customer, status=PlanStatus.ACTIVE).select_related(
        "created_by"
    )
    for plan in plans.prefetch_related("installments"):
        installments = sorted(plan.installments.all(), key=lambda item: item.sequence)
        last = installments[-1].due_date if installments else None
        facts.append(
            Fact(
                kind="plan",
                title=f"Payment plan of {len(installments)} installments",
                effect="the plan replaces dunning: only installment reminders go out",
                since=plan.starts_on,
                until=last,
                until_text="" if last else "until the plan ends",
                who=_created_by(plan),
                detail=plan.note,
            )
        )
    return facts


def _contacts(customer: Customer) -> list[Fact]:
    """Opt-outs (with the evidence: when, how, who) and addresses that cannot be used."""
    from relance.compliance.models import ContactPreferenceEvent

    facts = []
    for contact in customer.contacts.order_by("role", "pk"):
        name = contact.name or contact.role or f"contact {contact.pk}"
        for channel in OPT_OUT_CHANNELS:
            if not getattr(contact, opt_out_field(channel)):
                continue
            event = (
                ContactPreferenceEvent.objects.filter(contact=contact, channel=channel, opted_out=True)
                .select_related("created_by")
                .order_by("-at", "-pk")
                .first()
            )
            facts.append(
                Fact(
                    kind="opt_out",
                    title=f"{name} opted out of {channel}",
                    effect=f"no {channel} message goes to {name}",
                    since=event.at if event else None,
                    until_text="until they opt in again",
                    who=(
                        f"{event.get_source_display()}"
                        + (f" ({_username(event.created_by)})" if event.created_by else "")
                        if event
                        else NOBODY
                    ),
                    detail=event.detail if event else "",
                )
            )
        for label, address, status in (
            ("e-mail address", contact.email, contact.email_status),
            ("phone number", contact.phone, contact.phone_status),
        ):
            if address and status in ("invalid", "bouncing"):
                facts.append(
                    Fact(
                        kind="address",
                        title=f"{name}'s {label} {address} is {status}",
                        effect=f"messages needing the {label} are not sent to it",
                    )
                )
    return facts


def _compliance_now(customer: Customer, now: datetime) -> list[Fact]:
    """What the compliance rules would say of a dunning reminder on each channel right now."""
    from relance.compliance.selectors import contact_for_channel, message_assessment

    facts = []
    for channel in OPT_OUT_CHANNELS:  # the channels a reminder reaches a person on (core.channels)
        contact = contact_for_channel(customer=customer, channel=channel)
        if contact is None:
            continue
        assessment = message_assessment(
            customer=customer, channel=channel, now=now, contact=contact, dunning=True
        )
        decision = assessment.decision
        if decision.allowed:
            continue
        facts.append(
            Fact(
                kind="compliance",
                title=f"A reminder by {code_label(channel, capital=False)} now would be "
                + ("deferred" if decision.defer_until else "blocked"),
                effect="; ".join(result.reason for result in decision.results if not result.allowed),
                until=decision.defer_until,
                until_text="" if decision.defer_until else "while the reason lasts",
            )
        )
    return facts


def _blocked_messages(customer: Customer) -> list[Fact]:
    from relance.delivery.models import MessageStatus, OutboundMessage

    messages = OutboundMessage.objects.filter(customer=customer, status=MessageStatus.BLOCKED).order_by(
        "-updated_at", "-pk"
    )[:BLOCKED_SHOWN]
    return [
        Fact(
            kind="blocked",
            title=f"{code_label(message.channel)} message {code_label(message.template_key, capital=False)} "
            f"to {message.recipient} was blocked",
            effect=message.last_error or "blocked by a compliance rule",
            since=message.updated_at,
            who="the delivery worker's compliance check",
        )
        for message in messages
    ]


def _suppressions(customer: Customer) -> tuple[date | None, list[Fact]]:
    from relance.dunning.models import DunningRun
    from relance.dunning.selectors import suppression_list_of_run
    from relance.engine.dunning.decide import REASON_CODES

    run = DunningRun.objects.filter(entity_id=customer.entity_id).order_by("-as_of").first()
    if run is None:
        return None, []
    rows = (
        suppression_list_of_run(run=run)
        .filter(customer=customer)
        .select_related("invoice", "run")
        .order_by("reason", "invoice__external_ref")
    )
    facts = []
    for row in rows:
        what = f"invoice {row.invoice.external_ref}" if row.invoice is not None else "the whole account"
        facts.append(
            Fact(
                kind="suppressed",
                title=f"{row.reason}: {REASON_CODES.get(row.reason, row.reason)} ({what})",
                effect=row.detail,
                since=row.run.as_of,
                until=run.as_of,
                who=f"the dunning run ({row.count} run{'s' if row.count != 1 else ''} in a row)",
            )
        )
    return run.as_of, facts


def _portal(customer: Customer) -> tuple[list[Fact], list[Fact]]:
    """(refused, waiting for a credit manager): plan requests and the portal's recorded refusals."""
    from relance.portal.models import PlanRequest, PlanRequestStatus, PortalEvent

    refused: list[Fact] = []
    waiting: list[Fact] = []
    for request in PlanRequest.objects.filter(customer=customer).select_related("decided_by")[
        :REFUSALS_SHOWN
    ]:
        asked = (
            f"{request.installments} installments from {request.first_due} "
            f"for {format_money(request.total, request.currency, get_language())}"
        )
        outside = "; ".join(request.reasons or []) or "—"
        if request.status == PlanRequestStatus.REJECTED:
            refused.append(
                Fact(
                    kind="plan_request",
                    title=f"Payment plan request refused: {asked}",
                    effect=f"refused by a credit manager: {request.decision_note or 'no note given'}",
                    since=request.decided_at,
                    who=_username(request.decided_by) or NOBODY,
                    detail=f"outside the portal's limits: {outside}",
                )
            )
        elif request.status == PlanRequestStatus.PENDING:
            waiting.append(
                Fact(
                    kind="plan_request",
                    title=f"Payment plan request waiting for a credit manager: {asked}",
                    effect=f"outside the portal's limits: {outside}",
                    since=request.created_at,
                    who=PORTAL,
                )
            )
    events = PortalEvent.objects.filter(customer=customer, action__endswith="_refused").order_by("-at", "-pk")
    for event in events[:REFUSALS_SHOWN]:
        detail = event.detail if isinstance(event.detail, dict) else {}
        what = event.action.removesuffix("_refused").replace("_", " ")
        refused.append(
            Fact(
                kind="portal_refused",
                title=f"The portal refused a {what}",
                effect=str(detail.get("reason", "")),
                since=event.at,
                who=PORTAL + (f" (link {event.link_id})" if event.link_id else ""),
                detail=", ".join(
                    f"{key}={value}" for key, value in sorted(detail.items()) if key != "reason" and value
                ),
            )
        )
    refused.sort(key=lambda fact: _instant(fact.since), reverse=True)
    return refused, waiting


def _instant(value: date | datetime | None) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return timezone.make_aware(datetime.combine(value, datetime.min.time()))
    return timezone.make_aware(datetime.min + timedelta(days=1))


def customer_explanation(*, customer: Customer, today: date, now: datetime | None = None) -> Explanation:
    """Every reason the account is on hold, not chased or not messaged, and every portal refusal."""
    run_as_of, suppressed = _suppressions(customer)
    refused, waiting = _portal(customer)
    sections = (
        Section("holds", "Holds in force", tuple(_holds(customer, today)), "No hold in force."),
        Section("credit_hold", "Credit hold", tuple(_credit_hold(customer)), "No credit hold."),
        Section("plans", "Payment plan", tuple(_plans(customer)), "No active payment plan."),
        Section("promises", "Promises to pay", tuple(_promises(customer)), "No open promise."),
        Section("disputes", "Disputes", tuple(_disputes(customer, today)), "No open dispute."),
        Section(
            "contacts",
            "Opt-outs and unusable addresses",
            tuple(_contacts(customer)),
            "No opt-out; no invalid or bouncing address.",
        ),
        Section(
            "compliance",
            "Compliance rules right now",
            tuple(_compliance_now(customer, now or timezone.now())),
            "A reminder would be allowed now on every channel the account has an address for.",
        ),
        Section("blocked", "Messages blocked", tuple(_blocked_messages(customer)), "No message was blocked."),
        Section(
            "suppressed",
            "What the latest run held back",
            tuple(suppressed),
            "The latest run held nothing back for this account." if run_as_of else "No run yet.",
        ),
        Section("refused", "Portal requests refused", tuple(refused), "No portal request was refused."),
        Section(
            "waiting",
            "Portal requests waiting for a credit manager",
            tuple(waiting),
            "Nothing is waiting.",
        ),
    )
    return Explanation(customer=customer, today=today, run_as_of=run_as_of, sections=sections)
