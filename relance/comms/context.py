"""The context a message template sees: plain data only.

Everything a template can reach is a frozen dataclass, a tuple, a dict of plain values, a str, a
Decimal, a date, a bool or an int — never a Django model, manager or queryset — so an edited
template cannot call ``.delete()``, follow a relation to another customer, or read settings. The
variables are documented in docs/communications.md ("Templates").
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from relance.common.links import absolute_url
from relance.comms import defaults, facts
from relance.comms.rendering import TemplateError, render_template
from relance.core import payment_refs
from relance.core.errors import ValidationFailed
from relance.dunning.selectors import OwedSummary, owed_summary
from relance.ledger.models import Contact, Customer, Entity, Invoice

PLAIN_TYPES = (str, int, bool, Decimal, date, type(None))


@dataclass(frozen=True, slots=True)
class EntityInfo:
    name: str
    legal_name: str
    display_name: str
    address: str
    address_lines: tuple[str, ...]
    country: str
    currency: str
    vat_id: str
    registration_id: str
    primary_colour: str
    accent_colour: str
    logo_url: str


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    ref: str
    name: str
    country: str
    language: str
    currency: str
    tax_id: str


@dataclass(frozen=True, slots=True)
class ContactInfo:
    name: str
    email: str
    phone: str
    role: str
    postal_address: str
    address_lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PersonInfo:
    """A user of the creditor: the collector who signs, or the customer's sales owner."""

    name: str
    first_name: str
    email: str
    phone: str = ""


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    ref: str
    issue_date: date
    due_date: date
    currency: str
    amount: Decimal
    open_amount: Decimal
    days_past_due: int
    po_number: str
    overdue: bool
    disputed: Decimal = Decimal(0)
    """The part under dispute (shown apart, never demanded)."""
    owed: Decimal = Decimal(0)
    """Open minus disputed: what may be asked for."""


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    currency: str
    amount: Decimal
    overdue_amount: Decimal
    count: int
    disputed: Decimal = Decimal(0)
    unapplied: Decimal = Decimal(0)
    """Payments and credit notes received but not yet matched to an invoice."""


@dataclass(frozen=True, slots=True)
class Remittance:
    beneficiary: str
    iban: str
    iban_display: str
    bic: str
    amount: Decimal
    currency: str
    reference: str
    reference_display: str
    qr_png_data_uri: str = ""
    qr_svg_data_uri: str = ""


@dataclass(frozen=True, slots=True)
class ActionInfo:
    step: str
    tone: str
    kind: str
    action: str
    channel: str
    template_key: str
    broken_promise: bool
    max_days_past_due: int
    amount_due: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Links:
    portal: str = ""
    pay: str = ""
    opt_out: str = ""
    hold: str = ""

    def as_dict(self) -> dict[str, str]:
        return {name: value for name, value in dataclasses.asdict(self).items() if value}


@dataclass(frozen=True, slots=True)
class MessageContext:
    """Everything needed to render, with ``as_template_context()`` the dict the template sees."""

    values: dict[str, Any]
    rf_reference: str
    amount_due: Decimal
    currency: str
    links: Links
    tone: str
    attachments_wanted: tuple[str, ...] = field(default=())

    def as_template_context(self) -> dict[str, Any]:
        return self.values


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in (text or "").splitlines() if line.strip())


def _person(user: Any) -> PersonInfo | None:
    if user is None:
        return None
    full = (user.get_full_name() or "").strip() if hasattr(user, "get_full_name") else ""
    return PersonInfo(
        name=full or user.get_username(),
        first_name=(getattr(user, "first_name", "") or "").strip(),
        email=getattr(user, "email", "") or "",
    )


def plain(value: Any, *, depth: int = 0) -> Any:
    """``value`` as plain data for a template: dataclasses and mappings become dicts, sequences
    tuples; anything else (a model, a queryset, a function) becomes its text."""
    if depth > 6:
        return str(value)
    if isinstance(value, PLAIN_TYPES):
        return value
    if isinstance(value, datetime):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name), depth=depth + 1) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): plain(item, depth=depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(plain(item, depth=depth + 1) for item in value)
    return str(value)


def entity_info(entity: Entity) -> EntityInfo:
    return EntityInfo(
        name=entity.name,
        legal_name=entity.legal_name,
        display_name=entity.legal_name or entity.name,
        address=entity.address,
        address_lines=_lines(entity.address),
        country=entity.country,
        currency=entity.currency,
        vat_id=entity.vat_id,
        registration_id=entity.registration_id,
        primary_colour=entity.primary_colour,
        accent_colour=entity.accent_colour,
        logo_url=absolute_url(entity_logo_path(entity)) if entity.logo else "",
    )


def entity_logo_path(entity: Entity) -> str:
    """Where the entity's logo is served (``relance.comms.views.entity_logo``): the media folder is
    not served, so ``entity.logo.url`` would be a 404. ``?v=`` changes with the file."""
    from django.urls import reverse

    version = hashlib.blake2b((entity.logo.name or "").encode(), digest_size=4).hexdigest()
    return f"{reverse('comms:entity_logo', args=[entity.pk])}?v={version}"


def invoice_lines(
    *, customer: Customer, as_of: date, invoices: Sequence[Invoice] | None
) -> tuple[InvoiceLine, ...]:
    """The invoices concerned with their open and disputed amounts as of ``as_of`` (the
    customer's open ones when ``invoices`` is None), oldest due first."""
    return _lines_of(_owed(customer=customer, as_of=as_of, invoices=invoices))


def _owed(*, customer: Customer, as_of: date, invoices: Sequence[Invoice] | None) -> OwedSummary:
    return owed_summary(
        customer=customer,
        as_of=as_of,
        invoice_ids=None if invoices is None else [invoice.pk for invoice in invoices],
    )


def _lines_of(summary: OwedSummary) -> tuple[InvoiceLine, ...]:
    return tuple(
        InvoiceLine(
            ref=line.ref,
            issue_date=line.issue_date,
            due_date=line.due_date,
            currency=line.currency,
            amount=line.amount,
            open_amount=line.open_amount,
            days_past_due=line.days_past_due,
            po_number=line.po_number,
            overdue=line.days_past_due > 0,
            disputed=line.disputed,
            owed=line.owed,
        )
        for line in summary.lines
    )


def currency_totals(
    lines: Sequence[InvoiceLine], summary: OwedSummary | None = None
) -> tuple[CurrencyTotal, ...]:
    """Per currency: what may be asked for (open minus disputed), of which overdue, the disputed
    part and the unapplied cash (from ``summary``)."""
    totals: dict[str, list[Any]] = {}
    for line in lines:
        entry = totals.setdefault(line.currency, [Decimal(0), Decimal(0), 0, Decimal(0)])
        entry[0] += line.owed
        entry[1] += line.owed if line.overdue else Decimal(0)
        entry[2] += 1
        entry[3] += line.disputed
    return tuple(
        CurrencyTotal(
            currency=currency,
            amount=amount,
            overdue_amount=overdue,
            count=count,
            disputed=disputed,
            unapplied=summary.total(currency).unapplied if summary is not None else Decimal(0),
        )
        for currency, (amount, overdue, count, disputed) in sorted(totals.items())
    )


def remittance_for(
    *, entity: Entity, amount: Decimal, currency: str, reference: str, qr: str = "png"
) -> Remittance | None:
    """Bank details with the RF reference; the EPC QR code for euro amounts to a euro entity.

    ``qr`` is the image format wanted: ``png`` (e-mail), ``svg`` (letters, sharp in print) or
    ``""`` (none: SMS, calls); a QR code costs tens of milliseconds, so only one is made.
    """
    if not entity.iban:
        return None
    from relance.core.identifiers import normalise_iban

    iban = normalise_iban(entity.iban)
    beneficiary = (entity.legal_name or entity.name)[: payment_refs.EPC_MAX_NAME]
    png = svg = ""
    if qr and currency == "EUR" and entity.currency == "EUR" and amount >= payment_refs.EPC_MIN_AMOUNT:
        fields: dict[str, Any] = {
            "name": beneficiary,
            "iban": iban,
            "bic": entity.bic,
            "amount": amount,
            "currency": currency,
            "reference": reference,
        }
        try:
            if qr == "png":
                png = payment_refs.data_uri(payment_refs.epc_qr_png(**fields), "image/png")
            elif qr == "svg":
                svg = payment_refs.data_uri(payment_refs.epc_qr_svg(**fields), "image/svg+xml")
        except ValidationFailed:
            png = svg = ""
    return Remittance(
        beneficiary=beneficiary,
        iban=iban,
        iban_display=" ".join(iban[i : i + 4] for i in range(0, len(iban), 4)),
        bic=entity.bic,
        amount=amount,
        currency=currency,
        reference=reference,
        reference_display=payment_refs.rf_format(reference),
        qr_png_data_uri=png,
        qr_svg_data_uri=svg,
    )


def _invoice_refs(lines: Sequence[InvoiceLine], limit: int = 3) -> str:
    refs = [line.ref for line in lines]
    if len(refs) <= limit:
        return ", ".join(refs)
    return ", ".join(refs[:limit]) + f" +{len(refs) - limit}"


def _event_details(*, customer: Customer, key: str, as_of: date, labels: Mapping[str, str]) -> dict[str, Any]:
    """Promise, dispute, instalment or payment details for the keys that speak of one."""
    details: dict[str, Any] = {
        "promise": None,
        "dispute": None,
        "installment": None,
        "payment": None,
        "plan": None,
        "statement": None,
        "credit": None,  # a credit notice's facts, from its sender (relance.credit.services.notices)
        "card": None,  # a saved card about to expire (the same)
    }
    if key in ("plan_confirmation", "plan_request_decided"):
        details["plan"] = _plan_details(customer=customer, key=key, as_of=as_of)
    elif key == STATEMENT_KEY:
        details["statement"] = statement_summary(customer=customer, as_of=as_of)
    elif key in ("promise_confirmation", "broken_promise"):
        from relance.cases.models import Promise

        promise = (
            Promise.objects.filter(customer=customer, created_on__lte=as_of)
            .order_by("-created_on", "-id")
            .first()
        )
        if promise is not None:
            details["promise"] = {
                "amount": promise.amount,
                "currency": promise.currency,
                "promised_date": promise.promised_date,
                "created_on": promise.created_on,
                "status": promise.status,
            }
    elif key.startswith("dispute_"):
        from relance.cases.models import Dispute

        dispute = (
            Dispute.objects.filter(customer=customer, opened_on__lte=as_of)
            .select_related("invoice")
            .order_by("-opened_on", "-id")
            .first()
        )
        if dispute is not None:
            details["dispute"] = {
                "invoice_ref": dispute.invoice.external_ref,
                "amount": dispute.amount,
                "currency": dispute.invoice.currency,
                "reason": labels.get(
                    f"dispute_reason_{dispute.reason_code}", dispute.get_reason_code_display()
                ),
                "status": dispute.status,
                "resolution": labels.get(
                    f"dispute_resolution_{dispute.resolution}", dispute.get_resolution_display()
                )
                if dispute.resolution
                else "",
                "opened_on": dispute.opened_on,
                "resolved_on": dispute.resolved_on,
            }
    elif "installment" in key:
        from relance.cases.models import Installment, PlanStatus

        installments = Installment.objects.filter(
            plan__customer=customer, plan__status=PlanStatus.ACTIVE
        ).select_related("plan")
        unpaid = installments.filter(paid_on__isnull=True)
        chosen = (
            (
                unpaid.filter(due_date__lte=as_of).order_by("due_date").first()
                if key in ("installment_overdue", "missed_installment")
                else None
            )
            or unpaid.filter(due_date__gte=as_of).order_by("due_date").first()
            or unpaid.order_by("due_date").first()
        )
        if chosen is not None:
            details["installment"] = {
                "sequence": chosen.sequence,
                "count": installments.filter(plan=chosen.plan).count(),
                "due_date": chosen.due_date,
                "amount": chosen.amount,
                "currency": chosen.plan.currency,
                "days_past_due": (as_of - chosen.due_date).days,
            }
    elif key == "payment_thank_you":
        payment = customer.payments.filter(date__lte=as_of).order_by("-date", "-id").first()
        if payment is not None:
            details["payment"] = {
                "ref": payment.external_ref,
                "amount": payment.amount,
                "currency": payment.currency,
                "date": payment.date,
            }
    return details


STATEMENT_KEY = "statement"


def _schedule(plan: Any) -> dict[str, Any]:
    rows = list(plan.installments.order_by("sequence"))
    return {
        "count": len(rows),
        "currency": plan.currency,
        "total": sum((row.amount for row in rows), Decimal(0)),
        "first_due": rows[0].due_date if rows else None,
        "installments": tuple(
            {"sequence": row.sequence, "due_date": row.due_date, "amount": row.amount} for row in rows
        ),
    }


def _plan_details(*, customer: Customer, key: str, as_of: date) -> dict[str, Any] | None:
    """The payment plan a plan message speaks of: the newest one (``plan_confirmation``), or the
    newest decided request and its plan (``plan_request_decided``: ``approved``, ``note``)."""
    from relance.cases.models import PaymentPlan

    if key == "plan_request_decided":
        request = facts.decided_plan_request(customer=customer)
        if request is None:
            return None
        schedule = _schedule(request.plan) if request.plan is not None else {}
        return {"approved": request.status == "approved", "note": request.decision_note, **schedule}
    plan = (
        PaymentPlan.objects.filter(customer=customer, starts_on__lte=as_of)
        .order_by("-starts_on", "-id")
        .first()
    )
    return {"approved": True, "note": "", **_schedule(plan)} if plan is not None else None


@dataclass(frozen=True, slots=True)
class StatementTotal:
    """One currency of a statement. ``balance`` = open invoices − unapplied cash and credits."""

    currency: str
    due: Decimal
    not_due: Decimal
    disputed: Decimal
    unapplied: Decimal
    balance: Decimal


@dataclass(frozen=True, slots=True)
class UnappliedItem:
    kind: str  # "payment" or "credit_note"
    ref: str
    date: date
    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class DisputedItem:
    invoice_ref: str
    currency: str
    amount: Decimal
    opened_on: date


@dataclass(frozen=True, slots=True)
class Statement:
    """All open items of a customer on a date: what is due, what is not yet, what is disputed, and
    the cash and credits not yet applied."""

    as_of: date
    due: tuple[InvoiceLine, ...]
    not_due: tuple[InvoiceLine, ...]
    disputed: tuple[DisputedItem, ...]
    unapplied: tuple[UnappliedItem, ...]
    totals: tuple[StatementTotal, ...]


def statement_summary(*, customer: Customer, as_of: date) -> Statement:
    """The statement of ``customer`` on ``as_of``: the open items with what may be asked for
    (``relance.dunning.selectors.owed_summary``, the same figures as every message), the open
    disputes and each payment or credit note not yet matched."""
    from relance.cases.selectors import dispute_list_open

    summary = _owed(customer=customer, as_of=as_of, invoices=None)
    lines = _lines_of(summary)
    disputed = tuple(
        DisputedItem(
            invoice_ref=row.invoice.external_ref,
            currency=row.invoice.currency,
            amount=row.amount,
            opened_on=row.opened_on,
        )
        for row in dispute_list_open(entity=customer.entity, on=as_of).filter(customer=customer)
    )
    unapplied = [
        UnappliedItem(item.kind, item.ref, item.date, item.currency, item.left) for item in summary.unapplied
    ]
    totals = []
    for currency in sorted({line.currency for line in lines} | {item.currency for item in unapplied}):
        due = sum((line.owed for line in lines if line.currency == currency and line.overdue), Decimal(0))
        not_due = sum(
            (line.owed for line in lines if line.currency == currency and not line.overdue), Decimal(0)
        )
        cash = sum((item.amount for item in unapplied if item.currency == currency), Decimal(0))
        totals.append(
            StatementTotal(
                currency=currency,
                due=due,
                not_due=not_due,
                disputed=sum((item.amount for item in disputed if item.currency == currency), Decimal(0)),
                unapplied=cash,
                balance=due + not_due - cash,
            )
        )
    return Statement(
        as_of=as_of,
        due=tuple(line for line in lines if line.overdue),
        not_due=tuple(line for line in lines if not line.overdue),
        disputed=disputed,
        unapplied=tuple(unapplied),
        totals=tuple(totals),
    )


def _late_charges(
    *, customer: Customer, invoices: Sequence[Invoice] | None, as_of: date
) -> tuple[tuple[Any, ...] | None, tuple[Any, ...]]:
    """Late-charge lines and totals per currency (``late_charges_for``), or (None, ()) when the
    entity has not enabled them."""
    from relance.charges.selectors import late_charges_for

    result = late_charges_for(
        customer=customer, invoices=list(invoices) if invoices is not None else None, as_of=as_of
    )
    if not result:
        return None, ()
    totals = getattr(result, "totals", {}) or {}
    return tuple(plain(line) for line in result), tuple(plain(total) for total in totals.values())


def message_context(
    *,
    customer: Customer,
    template_key: str,
    channel: str,
    language: str,
    as_of: date,
    invoices: Sequence[Invoice] | None = None,
    contact: Contact | None = None,
    action: Any = None,
    message_key: str = "",
    extra: Mapping[str, object] | None = None,
    links: Links | None = None,
    qr: str = "png",
) -> MessageContext:
    """Build the plain-data context of one message (see the module docstring)."""
    entity = customer.entity
    if invoices is None and action is not None and getattr(action, "pk", None):
        action_invoices = list(action.invoices.all())
        invoices = action_invoices or None
    owed = _owed(customer=customer, as_of=as_of, invoices=invoices)
    lines = _lines_of(owed)
    totals = currency_totals(lines, owed)
    spec = defaults.KEYS.get(template_key, defaults.KeySpec())
    tone = (getattr(action, "tone", "") or "") if action is not None else ""
    tone = tone or spec.tone

    currency: str = str(getattr(action, "currency", None) or "") if action is not None else ""
    if not currency:
        present = {total.currency for total in totals}
        currency = customer.currency if customer.currency in present or not present else totals[0].currency
    # One rule for what a message may ask: open minus disputed, never more than the customer's
    # payable total (unapplied cash and credit notes counted) — relance.dunning.selectors.
    amount_due = owed.amount_due(
        currency=currency, invoice_ids=None if invoices is None else [invoice.pk for invoice in invoices]
    )
    disputed_amount = owed.disputed(
        currency=currency, invoice_ids=None if invoices is None else [invoice.pk for invoice in invoices]
    )

    seed = message_key or f"{entity.pk}/{customer.external_ref}/{template_key}/{as_of.isoformat()}"
    reference = payment_refs.rf_reference(seed)
    labels = defaults.labels(language)
    remittance = (
        remittance_for(entity=entity, amount=amount_due, currency=currency, reference=reference, qr=qr)
        if spec.payment and spec.audience == "customer" and amount_due > 0
        else None
    )
    late, late_totals = (
        _late_charges(customer=customer, invoices=invoices, as_of=as_of)
        if tone == "final" or template_key == "final_notice"
        else (None, ())
    )
    in_currency = [line for line in lines if line.currency == currency]
    sender = _person(customer.collector)
    owner = _person(customer.sales_owner)
    contact_info = (
        ContactInfo(
            name=contact.name,
            email=contact.email,
            phone=contact.phone,
            role=contact.role,
            postal_address=contact.postal_address,
            address_lines=_lines(contact.postal_address),
        )
        if contact is not None
        else None
    )
    action_info = (
        ActionInfo(
            step=action.step_key,
            tone=action.tone,
            kind=action.kind,
            action=action.action,
            channel=action.channel,
            template_key=action.template_key,
            broken_promise=bool(action.broken_promise),
            max_days_past_due=int(action.max_days_past_due),
            amount_due=Decimal(action.amount_due),
            currency=action.currency,
        )
        if action is not None
        else None
    )
    max_dpd = max((line.days_past_due for line in lines), default=0)
    if action_info is not None and not lines:
        max_dpd = action_info.max_days_past_due
    values: dict[str, Any] = {
        "language": language,
        "channel": channel,
        "template_key": template_key,
        "today": as_of,
        "as_of": as_of,
        "t": labels,
        "entity": entity_info(entity),
        "customer": CustomerInfo(
            ref=customer.external_ref,
            name=customer.name,
            country=customer.country,
            language=customer.language,
            currency=customer.currency,
            tax_id=customer.tax_id,
        ),
        "contact": contact_info,
        "recipient_address_lines": contact_info.address_lines if contact_info else (),
        "sender": sender,
        "collector": sender,
        "owner": owner,
        "invoices": lines,
        "invoice_count": len(lines),
        "overdue_count": sum(1 for line in lines if line.overdue),
        "invoice_refs": _invoice_refs(lines),
        "totals": totals,
        "amount_due": amount_due,
        "disputed_amount": disputed_amount,
        "unapplied_amount": owed.total(currency).unapplied,
        "reminded_before": facts.reminded_before(customer=customer, action=action),
        "currency": currency,
        "max_days_past_due": max(max_dpd, 0),
        "first_due_date": min((line.due_date for line in in_currency), default=as_of),
        "links": links or Links(),
        "remittance": remittance,
        "rf_reference": reference,
        "late_charges": late,
        "late_charge_totals": late_totals,
        "action": action_info,
        "paper_size": "A4",
        "extra": plain(dict(extra or {})),
        **_event_details(customer=customer, key=template_key, as_of=as_of, labels=labels),
    }
    for name, value in (extra or {}).items():
        if name in ("promise", "dispute", "installment", "payment", "plan", "credit", "card"):
            values[name] = plain(value)
    values["phrases"] = _phrases(language, values, template_key)
    return MessageContext(
        values=values,
        rf_reference=reference,
        amount_due=amount_due,
        currency=currency,
        links=values["links"],
        tone=tone,
    )


def _phrases(language: str, values: Mapping[str, Any], key: str) -> dict[str, str]:
    """The shared sentences (greeting, closing…) rendered for this message, as plain text."""
    rendered = {}
    for name, source in defaults.phrases(language).items():
        try:
            rendered[name] = render_template(source, values, name=f"phrases.{language}.{name}", html=False)
        except TemplateError:
            rendered[name] = ""
    return rendered
