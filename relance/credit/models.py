"""Credit management: scorecards, scores, bureau reports, reviews, applications, decisions.

The limit is ``Customer.credit_limit`` in ``Customer.currency`` (one home for the limit): a
decision writes it and records a ``CreditDecision``. A child whose parent has a limit shares the
parent's (the engine's exposure rule, ``relance.engine.credit.exposure``).
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from relance.common.models import BaseModel
from relance.ledger import validators
from relance.ledger.models import Customer, Entity
from relance.portal.models import _upload_storage

NON_NEGATIVE = [MinValueValidator(Decimal("0"))]
RISK_CLASSES = ("A", "B", "C", "D", "E")
scorecard_key_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]*$", "expected a key of lower-case letters, digits, _ and -"
)


class CreditSettings(BaseModel):
    """An entity's credit rules that are settings, not scorecard data."""

    entity = models.OneToOneField(Entity, on_delete=models.CASCADE, related_name="credit_settings")
    four_eyes_above = models.DecimalField(
        max_digits=18,
        decimal_places=4,
        default=Decimal("50000"),
        validators=NON_NEGATIVE,
        help_text="A limit above this (entity currency) needs a second approver",
    )
    exposure_includes_open_orders = models.BooleanField(
        default=True, help_text="Count orders not yet delivered (pending deliveries) in the exposure"
    )
    check_max_days_past_due = models.PositiveIntegerField(
        default=30, help_text="The order check holds a customer with an invoice overdue beyond this"
    )

    class Meta:
        verbose_name_plural = "credit settings"

    def __str__(self) -> str:
        return f"credit settings of {self.entity}"


class Scorecard(BaseModel):
    """An entity's scorecard; ``spec`` is the engine's dict form (``scorecard_to_dict``)."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="scorecards")
    key = models.CharField(max_length=64, validators=[scorecard_key_validator])
    name = models.CharField(max_length=200)
    spec = models.JSONField(help_text="Factors, bands and class bounds; see docs/credit.md")
    version = models.PositiveIntegerField(default=1)
    is_default = models.BooleanField(default=False, help_text="The scorecard the daily scoring uses")

    class Meta:
        ordering = ["entity", "key"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "key"], name="scorecard_key_unique_per_entity"),
            models.UniqueConstraint(
                fields=["entity"], condition=Q(is_default=True), name="one_default_scorecard_per_entity"
            ),
        ]

    def clean(self) -> None:
        """The spec must load through the engine (the one validation of a scorecard)."""
        from relance.core.errors import ValidationFailed
        from relance.engine.credit.scorecard import scorecard_from_dict

        try:
            card = scorecard_from_dict(self.spec)
        except ValidationFailed as exc:
            raise ValidationError({"spec": exc.message}) from None
        if self.key and card.key != self.key:
            raise ValidationError({"spec": f"the spec's key is {card.key!r}, not {self.key!r}"})

    def __str__(self) -> str:
        return f"{self.key} v{self.version} ({self.entity})"


class ScorecardVersion(models.Model):
    """A scorecard's spec as it was in one version: what a stored score refers to."""

    scorecard = models.ForeignKey(Scorecard, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    spec = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["scorecard", "version"]
        constraints = [
            models.UniqueConstraint(fields=["scorecard", "version"], name="scorecard_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scorecard.key} v{self.version}"


class CreditProfile(BaseModel):
    """What credit management knows of a customer beside its limit and terms (on ``Customer``)."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, related_name="credit_profile")
    limit_expires_on = models.DateField(null=True, blank=True, help_text="The limit lapses after this day")
    limit_set_on = models.DateField(null=True, blank=True)
    requires_prepayment = models.BooleanField(default=False)
    requires_guarantee = models.BooleanField(default=False)
    guarantee_note = models.CharField(max_length=300, blank=True)
    last_reviewed_on = models.DateField(null=True, blank=True)
    next_review_on = models.DateField(null=True, blank=True)
    # Credit insurance (item 10): cover per customer.
    insurer = models.CharField(max_length=200, blank=True)
    insurance_policy = models.CharField(max_length=100, blank=True)
    insured_limit = models.DecimalField(
        max_digits=18, decimal_places=4, null=True, blank=True, validators=NON_NEGATIVE
    )
    insured_currency = models.CharField(max_length=3, blank=True, validators=[validators.validate_currency])
    cover_expires_on = models.DateField(null=True, blank=True)
    declaration_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The insurer's deadline: an overdue must be declared within this many days past due",
    )

    class Meta:
        ordering = ["customer"]

    def __str__(self) -> str:
        return f"credit profile of {self.customer.external_ref}"


class CreditScore(models.Model):
    """A customer's score on one day, with the points and the reason of every factor.

    Written in bulk by the daily scoring (not audited row by row); ``reasons`` is a list of
    ``{factor, value, band, points, text}``.
    """

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="credit_scores")
    as_of = models.DateField()
    scorecard_key = models.CharField(max_length=64)
    scorecard_version = models.PositiveIntegerField()
    score = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    risk_class = models.CharField(max_length=1)
    reasons = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["customer", "-as_of"]
        constraints = [models.UniqueConstraint(fields=["customer", "as_of"], name="credit_score_per_day")]
        indexes = [models.Index(fields=["entity", "as_of"])]

    def __str__(self) -> str:
        return f"{self.customer.external_ref} {self.as_of}: {self.score} ({self.risk_class})"


class BureauSource(models.TextChoices):
    API = "api", "Fetched from the bureau"
    FILE = "file", "Imported from a bureau file"


class BureauReport(BaseModel):
    """A credit bureau's report on a customer, kept whole (``raw_payload``: credit managers only)."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="bureau_reports")
    provider = models.CharField(max_length=40)
    provider_company_id = models.CharField(max_length=100, blank=True)
    reported_on = models.DateField()
    source = models.CharField(max_length=4, choices=BureauSource.choices, default=BureauSource.API)
    bureau_score = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="0–100, higher is safer (each adapter maps its bureau's scale)",
    )
    provider_score = models.CharField(max_length=40, blank=True, help_text="The score as the bureau gives it")
    rating = models.CharField(max_length=40, blank=True)
    recommended_limit = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    recommended_currency = models.CharField(max_length=3, blank=True)
    derogatory_events = models.PositiveIntegerField(default=0)
    derogatory = models.JSONField(
        default=list, blank=True, help_text="[{kind, date, amount, currency, text}]"
    )
    identifiers = models.JSONField(default=dict, blank=True)
    raw_payload = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["customer", "-reported_on", "-id"]
        indexes = [models.Index(fields=["entity", "customer", "reported_on"])]

    def __str__(self) -> str:
        return f"{self.provider} on {self.customer.external_ref} {self.reported_on}"


class DecisionKind(models.TextChoices):
    RAISE_LIMIT = "raise_limit", "Raise the limit"
    LOWER_LIMIT = "lower_limit", "Lower the limit"
    SET_LIMIT = "set_limit", "Set the limit"
    KEEP = "keep", "Keep as it is"
    CHANGE_TERMS = "change_terms", "Change the payment terms"
    REQUIRE_PREPAYMENT = "require_prepayment", "Require prepayment"
    REQUIRE_GUARANTEE = "require_guarantee", "Require a guarantee"
    PLACE_HOLD = "place_hold", "Place a credit hold"
    LIFT_HOLD = "lift_hold", "Lift the credit hold"
    DECLINE = "decline", "Decline credit"


class DecisionSource(models.TextChoices):
    REVIEW = "review", "A review"
    APPLICATION = "application", "An application"
    MANUAL = "manual", "By hand"


class CreditDecision(BaseModel):
    """A credit decision that was taken: what the ERP must learn and the KPIs count."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="credit_decisions")
    kind = models.CharField(max_length=20, choices=DecisionKind.choices)
    source = models.CharField(max_length=12, choices=DecisionSource.choices)
    decided_on = models.DateField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    previous_limit = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    new_limit = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    previous_terms_days = models.PositiveIntegerField(null=True, blank=True)
    new_terms_days = models.PositiveIntegerField(null=True, blank=True)
    limit_expires_on = models.DateField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["customer", "-decided_on", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.customer.external_ref} {self.decided_on}"


class ReviewStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Superseded by a newer review"


class CreditReview(BaseModel):
    """A review of a customer's credit: why it was opened and the decision it proposes.

    ``basis`` holds the facts the proposal rests on (limit, exposure, score, class, hold); a
    decision is refused when they changed since (a stale review).
    """

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="credit_reviews")
    opened_on = models.DateField()
    triggers = models.JSONField(default=list, help_text="[{code, text, facts}]")
    status = models.CharField(max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    proposal = models.CharField(max_length=20, choices=DecisionKind.choices)
    proposed_limit = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    proposed_terms_days = models.PositiveIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    reasons = models.JSONField(default=list, blank=True, help_text="Sentences that explain the proposal")
    basis = models.JSONField(default=dict, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision = models.ForeignKey(
        CreditDecision, on_delete=models.SET_NULL, null=True, blank=True, related_name="reviews"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(status="open"), name="one_open_credit_review_per_customer"
            )
        ]
        indexes = [models.Index(fields=["entity", "status"])]

    def __str__(self) -> str:
        return f"review of {self.customer.external_ref} {self.opened_on} ({self.status})"


class ApplicationStatus(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    INFO_REQUESTED = "info_requested", "More information requested"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"
    WITHDRAWN = "withdrawn", "Withdrawn"


APPLICATION_OPEN = (
    ApplicationStatus.SUBMITTED,
    ApplicationStatus.IN_REVIEW,
    ApplicationStatus.INFO_REQUESTED,
)


class CreditApplication(BaseModel):
    """A request for credit (onboarding), filled by the customer through a signed link."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="credit_applications"
    )
    status = models.CharField(
        max_length=16, choices=ApplicationStatus.choices, default=ApplicationStatus.SUBMITTED
    )
    language = models.CharField(max_length=8, blank=True)
    legal_name = models.CharField(max_length=200)
    trading_name = models.CharField(max_length=200, blank=True)
    country = models.CharField(max_length=2)
    identifiers = models.JSONField(default=dict, help_text="{vat, siren, siret, company_number, duns}")
    address = models.JSONField(default=dict, help_text="{line1, line2, postcode, city, country}")
    contacts = models.JSONField(default=list, help_text="[{role, name, email, phone}]")
    iban = models.CharField(max_length=34, blank=True)
    bic = models.CharField(max_length=11, blank=True)
    trade_references = models.JSONField(
        default=list, blank=True, help_text="[{company, contact, email, phone}]"
    )
    requested_limit = models.DecimalField(max_digits=18, decimal_places=4, validators=NON_NEGATIVE)
    currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    requested_terms_days = models.PositiveIntegerField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    info_request = models.TextField(blank=True, help_text="What the customer is asked to add")
    approved_limit = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    approved_terms_days = models.PositiveIntegerField(null=True, blank=True)
    limit_expires_on = models.DateField(null=True, blank=True)
    decline_reason = models.TextField(blank=True)
    first_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    first_approved_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision = models.ForeignKey(
        CreditDecision, on_delete=models.SET_NULL, null=True, blank=True, related_name="applications"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["entity", "status"])]

    def __str__(self) -> str:
        return f"application {self.legal_name} ({self.status})"


class DocumentKind(models.TextChoices):
    FINANCIAL_STATEMENTS = "financial_statements", "Financial statements"
    REGISTRATION_EXTRACT = "registration_extract", "Registration extract"
    SIGNED_TERMS = "signed_terms", "Signed terms and conditions"
    OTHER = "other", "Other"


class ApplicationDocument(models.Model):
    """A file attached to an application; stored like the portal's uploads (no public URL)."""

    application = models.ForeignKey(CreditApplication, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=24, choices=DocumentKind.choices)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(storage=_upload_storage, upload_to="credit/%Y/%m/")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["application", "id"]

    def __str__(self) -> str:
        return self.filename


class UtilisationNotice(models.Model):
    """A crossing of a utilisation threshold (80 or 100 %), noticed once until it clears."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="utilisation_notices")
    threshold = models.PositiveSmallIntegerField()
    crossed_on = models.DateField()
    utilisation = models.DecimalField(max_digits=9, decimal_places=2)
    notified_at = models.DateTimeField(null=True, blank=True)
    cleared_on = models.DateField(
        null=True, blank=True, help_text="Utilisation fell back below the threshold"
    )

    class Meta:
        ordering = ["customer", "-crossed_on"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "threshold"],
                condition=Q(cleared_on__isnull=True),
                name="one_open_utilisation_notice_per_threshold",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer.external_ref} over {self.threshold} % on {self.crossed_on}"


class DeclarationTask(models.Model):
    """An overdue invoice of an insured customer nearing the insurer's declaration deadline, and
    the credit manager's task to declare it (``delivery.CallTask``): once per invoice."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    invoice = models.OneToOneField(
        "ledger.Invoice", on_delete=models.CASCADE, related_name="insurance_declaration"
    )
    deadline = models.DateField(help_text="The last day to declare the overdue to the insurer")
    task = models.ForeignKey(
        "delivery.CallTask", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_on = models.DateField()

    class Meta:
        ordering = ["deadline", "id"]

    def __str__(self) -> str:
        return f"declare {self.invoice_id} by {self.deadline}"
