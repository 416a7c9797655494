"""A customer's case: what the customer told us and what stands between them and dunning.

Promises to pay, disputes, payment plans, holds (dunning holds and credit holds), contacts made
by hand and hand-offs to external collection. The run (``relance.dunning``) reads them and
writes some back (a promise kept or broken, a credit hold, a hand-off); this app owns the rows.

The models moved here from ``dunning`` with their rows (migration ``dunning.0013``,
``cases.0001``): their tables keep the ``dunning_`` names they were created with.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q

from relance.common.models import BaseModel
from relance.ledger import validators
from relance.ledger.models import Customer, Entity, Invoice

POSITIVE = [MinValueValidator(Decimal("0.0001"))]


class PromiseStatus(models.TextChoices):
    OPEN = "open", "Open (pausing dunning until its date plus grace)"
    KEPT = "kept", "Kept"
    BROKEN = "broken", "Broken (not paid by its date plus grace; dunning resumed)"
    CANCELLED = "cancelled", "Cancelled"


class Promise(BaseModel):
    """A customer's promise to pay ``amount`` by ``promised_date``: pauses dunning until then + grace."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="promises")
    created_on = models.DateField()
    promised_date = models.DateField()
    amount = models.DecimalField(max_digits=18, decimal_places=4, validators=POSITIVE)
    currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    status = models.CharField(max_length=10, choices=PromiseStatus.choices, default=PromiseStatus.OPEN)
    invoices = models.ManyToManyField(Invoice, related_name="promises", db_table="dunning_promise_invoice")
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "dunning_promise"
        ordering = ["customer", "promised_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(promised_date__gte=models.F("created_on")),
                name="promise_date_not_before_creation",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive"),
        ]
        indexes = [models.Index(fields=["entity", "customer", "status"])]

    def __str__(self) -> str:
        return f"{self.customer.external_ref}: {self.amount} {self.currency} by {self.promised_date}"


class DisputeReason(models.TextChoices):
    PRICING = "pricing", "Price or discount"
    QUANTITY = "quantity", "Quantity"
    QUALITY = "quality", "Quality or damage"
    NOT_RECEIVED = "not_received", "Goods or service not received"
    DUPLICATE = "duplicate", "Duplicate invoice"
    ALREADY_PAID = "already_paid", "Already paid"
    PO_MISSING = "po_missing", "Purchase order missing or wrong"
    SHORT_PAYMENT = "short_payment", "Short payment (a deduction)"
    OTHER = "other", "Other"


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class DisputeResolution(models.TextChoices):
    CREDIT_NOTE = "credit_note", "Credit note issued"
    WRITE_OFF = "write_off", "Written off"
    REJECTED = "rejected", "Rejected: the amount is due"
    WITHDRAWN = "withdrawn", "Withdrawn by the customer"


class Dispute(BaseModel):
    """Part (or all) of an invoice the customer contests: that amount is not chased while open."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="disputes")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="disputes")
    amount = models.DecimalField(max_digits=18, decimal_places=4, validators=POSITIVE)
    reason_code = models.CharField(max_length=16, choices=DisputeReason.choices)
    status = models.CharField(max_length=10, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    opened_on = models.DateField()
    resolved_on = models.DateField(null=True, blank=True)
    resolution = models.CharField(max_length=16, choices=DisputeResolution.choices, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "dunning_dispute"
        ordering = ["opened_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="dispute_amount_positive"),
            models.CheckConstraint(
                condition=Q(resolved_on__isnull=True) | Q(resolved_on__gte=models.F("opened_on")),
                name="dispute_resolved_after_opened",
            ),
            models.CheckConstraint(
                condition=(Q(status="open") & Q(resolved_on__isnull=True))
                | (Q(status="resolved") & Q(resolved_on__isnull=False)),
                name="dispute_status_matches_resolution_date",
            ),
        ]
        indexes = [models.Index(fields=["entity", "invoice", "status"])]

    def __str__(self) -> str:
        return f"{self.invoice}: {self.amount} ({self.reason_code}, {self.status})"


class PlanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class PaymentPlan(BaseModel):
    """An agreed schedule of installments: while active it replaces dunning by installment reminders."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payment_plans")
    starts_on = models.DateField()
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    invoices = models.ManyToManyField(Invoice, related_name="payment_plans", db_table="dunning_plan_invoice")
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "dunning_paymentplan"
        ordering = ["customer", "starts_on", "id"]
        indexes = [models.Index(fields=["entity", "customer", "status"])]

    def __str__(self) -> str:
        return f"plan {self.pk} of {self.customer.external_ref} from {self.starts_on} ({self.status})"


class Installment(BaseModel):
    """One payment of a plan. ``paid_on`` is when payments to the plan's invoices covered it."""

    plan = models.ForeignKey(PaymentPlan, on_delete=models.CASCADE, related_name="installments")
    sequence = models.PositiveIntegerField()
    due_date = models.DateField()
    amount = models.DecimalField(max_digits=18, decimal_places=4, validators=POSITIVE)
    paid_on = models.DateField(null=True, blank=True)

    class Meta:
        db_table = "dunning_installment"
        ordering = ["plan", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "sequence"], name="installment_sequence_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="installment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.amount} due {self.due_date}"


class HoldKind(models.TextChoices):
    HOLD = "hold", "Hold (no dunning)"
    LEGAL = "legal", "Legal case"
    DO_NOT_CONTACT = "do_not_contact", "Do not contact"


class CustomerHold(BaseModel):
    """Stops every dunning action for the customer from ``starts_on`` to ``ends_on`` (open-ended if null)."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="holds")
    kind = models.CharField(max_length=16, choices=HoldKind.choices)
    reason = models.CharField(max_length=200)
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True, help_text="Last day in force; empty = until removed")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "dunning_customerhold"
        ordering = ["customer", "starts_on", "id"]
        indexes = [models.Index(fields=["entity", "customer"])]

    def __str__(self) -> str:
        until = self.ends_on or "…"
        return f"{self.kind} {self.customer.external_ref} {self.starts_on}..{until}"


class ContactLog(BaseModel):
    """A contact made outside the run (a collector's call, an e-mail written by hand).

    It counts for the cadence exactly like the run's own contacts, so a customer a collector
    just called is not e-mailed the next morning.
    """

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="contact_logs")
    on = models.DateField()
    channel = models.CharField(max_length=24)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "dunning_contactlog"
        ordering = ["customer", "-on", "-id"]
        indexes = [models.Index(fields=["entity", "customer", "on"])]

    def __str__(self) -> str:
        return f"{self.on} {self.customer.external_ref} by {self.channel}"


class CreditHoldStatus(models.TextChoices):
    ACTIVE = "active", "Active (no new orders)"
    RELEASED = "released", "Released"


class CreditHold(BaseModel):
    """A credit hold: the customer gets no new orders until it is released.

    Placed by a run's ``credit_hold`` action (or by hand). Unlike ``CustomerHold`` it does
    **not** stop dunning; sales and the ERP read it (worklist, ``customer_credit_hold``).
    """

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="credit_holds")
    action = models.ForeignKey(
        "dunning.DunningAction", on_delete=models.SET_NULL, null=True, blank=True, related_name="credit_holds"
    )
    status = models.CharField(
        max_length=10, choices=CreditHoldStatus.choices, default=CreditHoldStatus.ACTIVE
    )
    placed_on = models.DateField()
    reason = models.CharField(max_length=200, blank=True)
    released_on = models.DateField(null=True, blank=True)
    released_by = models.CharField(max_length=150, blank=True)

    class Meta:
        db_table = "dunning_credithold"
        ordering = ["customer", "-placed_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(status="active"), name="one_active_credit_hold_per_customer"
            )
        ]

    def __str__(self) -> str:
        return f"credit hold {self.customer.external_ref} from {self.placed_on} ({self.status})"


class HandOffStatus(models.TextChoices):
    PENDING = "pending", "Pending (to be sent to the agency)"
    SENT = "sent", "Sent to the agency"
    ACCEPTED = "accepted", "Accepted by the agency"
    RETURNED = "returned", "Returned by the agency"
    CLOSED = "closed", "Closed"


HANDOFF_OPEN = (HandOffStatus.PENDING, HandOffStatus.SENT, HandOffStatus.ACCEPTED)


class ExternalCollection(BaseModel):
    """A customer's debt handed to an external collection agency (a run's ``external_collection``)."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="external_collections")
    action = models.ForeignKey(
        "dunning.DunningAction", on_delete=models.SET_NULL, null=True, blank=True, related_name="hand_offs"
    )
    handed_on = models.DateField()
    status = models.CharField(max_length=10, choices=HandOffStatus.choices, default=HandOffStatus.PENDING)
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    agency = models.CharField(max_length=200, blank=True)
    status_changed_on = models.DateField()
    status_changed_by = models.CharField(
        max_length=150, blank=True, help_text="Who set the status ('run' for the run)"
    )
    invoices = models.ManyToManyField(Invoice, related_name="hand_offs", db_table="dunning_handoff_invoice")
    note = models.TextField(blank=True)

    class Meta:
        db_table = "dunning_externalcollection"
        ordering = ["customer", "-handed_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status__in=["pending", "sent", "accepted"]),
                name="one_open_hand_off_per_customer",
            )
        ]

    def __str__(self) -> str:
        return f"hand-off {self.customer.external_ref} {self.handed_on} ({self.status})"
