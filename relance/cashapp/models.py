"""Cash application: the entity's bank accounts, the statements imported for them and their lines.

A bank line is one booked movement of a statement (a camt entry, or one transaction of a batch
entry; an MT940 ``:61:``; a CSV row), unique per account by its ``bank_ref``: importing a file
twice, or a statement that overlaps an earlier one, adds only the lines not seen before. Debits
are stored (the statement is whole) with status ``debit`` and never matched. Matching fills
``status``, ``confidence``, ``reasons`` and ``suggestions`` (``relance.engine.cashapp``); the
application rows and learned payers come with it.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from relance.common.models import BaseModel
from relance.ledger import validators
from relance.ledger.models import Customer, Entity, Payment


class ShortPaymentAction(models.TextChoices):
    DEDUCTION = "deduction", "deduction: a short-payment dispute for the residual"
    LEAVE_OPEN = "leave_open", "leave the residual open on the invoice"


class CashAppSettings(BaseModel):
    """An entity's cash-application rules that are settings (read with
    ``relance.cashapp.selectors.cashapp_settings_for``; the defaults when none is stored).

    ``write_off_tolerance`` is in the entity's currency: a line in another currency converts it
    with the entity's rates on the line's booking date (``relance.core.rates``; no rate, no
    write-off). ``deduction_max_percent`` tells a deduction from a partial payment: a residual
    above this share of the invoices' open amount is a partial payment, left open.
    ``match_tolerance`` and ``match_tolerance_percent`` are the matcher's amount tolerance
    (``relance.engine.cashapp.amounts.Tolerance``: the larger of the two)."""

    entity = models.OneToOneField(Entity, on_delete=models.CASCADE, related_name="cashapp_settings")
    write_off_tolerance = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="A short payment up to this (entity currency) is written off; 0: never",
    )
    short_payment_action = models.CharField(
        max_length=10,
        choices=ShortPaymentAction.choices,
        default=ShortPaymentAction.LEAVE_OPEN,
        help_text="What a short payment above the write-off tolerance becomes",
    )
    deduction_max_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=Decimal("10"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="A residual above this % of the invoices' open amount is a partial payment (left open)",
    )
    auto_apply_threshold = models.FloatField(
        default=0.95,
        validators=[MinValueValidator(0.5), MaxValueValidator(1.0)],
        help_text="The matcher's confidence from which a line is applied without a person",
    )
    match_tolerance = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        default=Decimal("1.00"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text="An amount this close to the open amount pays it (in the line's currency: bank fees)",
    )
    match_tolerance_percent = models.DecimalField(
        max_digits=9,
        decimal_places=6,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Or this % of the open amount, whichever is larger (small deductions on large invoices)",
    )

    class Meta:
        verbose_name_plural = "cash application settings"

    def __str__(self) -> str:
        return f"cash application settings of {self.entity}"


class BankAccount(BaseModel):
    """A bank account of the entity, in one currency, whose statements may be imported.

    ``account_id`` is the IBAN when the account has one (stored compact, upper case), otherwise the
    bank's own account number as statements give it (an MT940 ``:25:`` such as ``50880050/0194``).
    """

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="bank_accounts")
    account_id = models.CharField("IBAN or account number", max_length=64)
    currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "account_id", "currency"], name="cashapp_account_unique_per_entity"
            )
        ]
        ordering = ("account_id", "currency")

    def __str__(self) -> str:
        label = f"{self.account_id} {self.currency}"
        return f"{label} ({self.name})" if self.name else label


class StatementFormat(models.TextChoices):
    CAMT053 = "camt053", "camt.053 (ISO 20022 statement)"
    CAMT054 = "camt054", "camt.054 (ISO 20022 debit/credit notification)"
    MT940 = "mt940", "MT940 (SWIFT statement)"
    CSV = "csv", "CSV or XLSX with a mapping"


class BankStatement(BaseModel):
    """One statement (or notification) of one account, as the bank numbered it.

    Keyed by account and ``statement_id`` (camt ``Stmt/Id``, MT940 ``:20:``; for CSV, derived
    from the file's content): a statement imported again is this row again, and only its new
    lines are added. ``sha256`` is the file it last came from.
    """

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="bank_statements")
    account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="statements")
    statement_id = models.CharField(max_length=128)
    format = models.CharField(max_length=8, choices=StatementFormat.choices)
    sequence = models.CharField(max_length=64, blank=True, help_text="LglSeqNb / ElctrncSeqNb, MT940 :28C:")
    sha256 = models.CharField(max_length=64, help_text="SHA-256 of the file the statement came from")
    source = models.CharField(max_length=255, blank=True, help_text="the file's name")
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    opening_balance = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    closing_balance = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    imported_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "statement_id"], name="cashapp_statement_unique")
        ]
        ordering = ("-imported_at", "-id")

    def __str__(self) -> str:
        return f"{self.statement_id} ({self.account})"


class LineDirection(models.TextChoices):
    CREDIT = "credit", "credit (money in)"
    DEBIT = "debit", "debit (money out)"


class LineStatus(models.TextChoices):
    UNMATCHED = "unmatched", "unmatched"
    SUGGESTED = "suggested", "suggested"
    APPLIED = "applied", "applied"
    DEBIT = "debit", "debit (never matched)"


class BankLine(BaseModel):
    """One booked movement. ``amount`` is signed as the bank booked it: positive for a credit."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="bank_lines")
    statement = models.ForeignKey(BankStatement, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="lines")
    bank_ref = models.CharField(max_length=140, help_text="AcctSvcrRef, else NtryRef, else a content hash")
    entry_ref = models.CharField(max_length=140, blank=True, help_text="NtryRef / MT940 customer reference")
    end_to_end_id = models.CharField(max_length=140, blank=True)
    booking_date = models.DateField()
    value_date = models.DateField(null=True, blank=True)
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3)
    direction = models.CharField(max_length=6, choices=LineDirection.choices)
    is_reversal = models.BooleanField(default=False, help_text="the bank reversed an earlier booking")
    charges = models.DecimalField(
        max_digits=18, decimal_places=4, null=True, blank=True, help_text="bank charges the entry reports"
    )
    bank_transaction_code = models.CharField(max_length=64, blank=True)
    counterparty_name = models.CharField(max_length=200, blank=True)
    counterparty_iban = models.CharField(max_length=64, blank=True)
    counterparty_bic = models.CharField(max_length=11, blank=True)
    remittance_unstructured = models.TextField(blank=True)
    remittance_structured = models.CharField(
        max_length=140, blank=True, help_text="the creditor reference as given (RF…, QR reference)"
    )
    raw = models.JSONField(default=dict, blank=True, help_text="what else the bank said, for reading")
    status = models.CharField(max_length=9, choices=LineStatus.choices, default=LineStatus.UNMATCHED)
    confidence = models.FloatField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    suggestions = models.JSONField(default=list, blank=True)
    assigned_customer = models.ForeignKey(
        Customer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="a person said this customer paid (decisions.line_assign): matching leaves it to them",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "bank_ref"], name="cashapp_line_unique_ref"),
            models.CheckConstraint(
                condition=(Q(direction="credit", amount__gt=0) | Q(direction="debit", amount__lte=0)),
                name="cashapp_line_direction_sign",
            ),
            models.CheckConstraint(
                condition=~Q(direction="debit") | Q(status="debit"), name="cashapp_debit_never_matched"
            ),
        ]
        indexes = [
            models.Index(fields=["entity", "status", "booking_date"], name="cashapp_line_status_idx"),
        ]
        ordering = ("booking_date", "id")

    def __str__(self) -> str:
        return f"{self.bank_ref} {self.amount} {self.currency}"


class BankLineApplication(BaseModel):
    """What matching applied a line as: the ledger ``Payment`` it created (its allocations are the
    ledger's ``Allocation`` rows), who applied it and why.

    A line has at most one application in force (``unapplied_at`` empty): the constraint is what
    makes a line applied twice impossible, even by two runs at once. The payment's amount is the
    line's; what is not allocated (an overpayment, ``residual``) stays unapplied cash of the
    customer; ``shortfall`` is what the allocated invoices still have open (a short payment)."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(BankLine, on_delete=models.PROTECT, related_name="applications")
    payment = models.ForeignKey(
        Payment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="bank_applications",
        help_text="the payment in force; empty once unapplied (the payment is deleted)",
    )
    payment_ref = models.CharField(
        max_length=64, blank=True, help_text="BANK-<line id>[-n], kept after unapply"
    )
    allocations = models.JSONField(
        default=list, blank=True, help_text="[{invoice_ref, amount}] as applied, kept after unapply"
    )
    how = models.CharField(
        max_length=8, default="match", help_text="match, accept, split or assign: who decided, in one word"
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    confidence = models.FloatField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    residual = models.DecimalField(
        max_digits=18, decimal_places=4, default=0, help_text="paid beyond the allocations (unapplied)"
    )
    shortfall = models.DecimalField(
        max_digits=18, decimal_places=4, default=0, help_text="left open on the allocated invoices"
    )
    residual_action = models.CharField(
        max_length=10,
        blank=True,
        help_text="what became of a short payment (relance.cashapp.residuals): write_off, deduction, "
        "leave_open, partial, none",
    )
    residual_records = models.JSONField(
        default=dict,
        blank=True,
        help_text="what the short payment wrote: {credit_notes: [refs], disputes: [ids]}; unapply takes them back",
    )
    applied_at = models.DateTimeField()
    applied_by = models.CharField(max_length=200, help_text="the actor, in words (kept after deletion)")
    applied_by_kind = models.CharField(max_length=8, help_text="system, cli, user, api")
    applied_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    unapplied_at = models.DateTimeField(null=True, blank=True)
    unapplied_by = models.CharField(max_length=200, blank=True)
    unapplied_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["line"], condition=Q(unapplied_at__isnull=True), name="cashapp_line_applied_once"
            )
        ]
        ordering = ("applied_at", "id")

    def __str__(self) -> str:
        return f"{self.line.bank_ref} → {self.payment_ref}"


class KnownPayerAccount(BaseModel):
    """A payer's account learned to pay a customer: from a line applied (by matching or a person).

    The matcher reads these as ``KnownPayer`` rows (``relance.engine.cashapp.lines``)."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    account_iban = models.CharField("IBAN or account number", max_length=64, help_text="compact, upper case")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    learned_from = models.ForeignKey(
        BankLine, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    learned_by = models.CharField(max_length=200, blank=True, help_text="the actor, in words")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "account_iban", "customer"], name="cashapp_known_payer_unique"
            )
        ]
        ordering = ("account_iban", "customer_id")

    def __str__(self) -> str:
        return f"{self.account_iban} → {self.customer_id}"


class KnownReferencePattern(BaseModel):
    """A reference pattern a person's decision taught: lines whose remittance text has a token of
    this shape (``relance.engine.cashapp.references.reference_patterns``: letters kept, each digit
    as 9, e.g. ``ACME-PAY-9999-99``) come from this customer.

    The matcher reads these as ``KnownPattern`` rows, next to the payer accounts; a pattern
    learned for two customers says nothing."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    pattern = models.CharField(max_length=140)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    learned_from = models.ForeignKey(
        BankLine, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    learned_by = models.CharField(max_length=200, blank=True, help_text="the actor, in words")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "pattern", "customer"], name="cashapp_known_pattern_unique"
            )
        ]
        ordering = ("pattern", "customer_id")

    def __str__(self) -> str:
        return f"{self.pattern} → {self.customer_id}"
