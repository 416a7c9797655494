"""The receivables ledger: who is owed what by whom, and how it was settled.

Open amounts are never stored: they are derived from invoices, credit notes and the dated
allocations of payments and credit notes, so the ledger can be replayed as of any date.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from relance.common.models import BaseModel
from relance.ledger import documents, validators

POSITIVE = [MinValueValidator(Decimal("0.0001"))]


class SearchTextQuerySet(models.QuerySet):
    """Bulk writes fill ``search_text`` too (``bulk_create`` and ``bulk_update`` skip ``save``)."""

    def bulk_create(self, objs, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        objs = list(objs)
        for obj in objs:
            obj.search_text = obj.search_text_value()
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        objs = list(objs)
        if set(fields) & set(getattr(self.model, "SEARCHED_FIELDS", ())):
            for obj in objs:
                obj.search_text = obj.search_text_value()
            fields = [*fields, "search_text"]
        return super().bulk_update(objs, fields, *args, **kwargs)


class SearchTextMixin(models.Model):
    """A folded copy of the searched fields (``relance.core.text.fold``), kept on every save and
    bulk write, so a search is a plain ``LIKE`` on one column in SQLite and PostgreSQL alike."""

    SEARCHED_FIELDS: tuple[str, ...] = ()
    search_text = models.CharField(max_length=600, blank=True, default="", editable=False)

    objects = SearchTextQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.search_text = self.search_text_value()
        fields = kwargs.get("update_fields")
        if fields is not None and set(fields) & set(self.SEARCHED_FIELDS):
            kwargs["update_fields"] = [*fields, "search_text"]
        super().save(*args, **kwargs)

    def search_text_value(self) -> str:
        from relance.core.text import search_text

        return search_text(*(getattr(self, name) for name in self.SEARCHED_FIELDS))[:600]


hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "expected a colour such as #1F4E79")


class Entity(BaseModel):
    """A creditor: the company (or subsidiary) that issues invoices and chases them."""

    name = models.CharField(max_length=100, unique=True, help_text="Short name used in commands and URLs")
    legal_name = models.CharField(max_length=200, blank=True)
    address = models.TextField(blank=True)
    country = models.CharField(max_length=2, blank=True, validators=[validators.validate_country])
    currency = models.CharField(max_length=3, default="EUR", validators=[validators.validate_currency])
    language = models.CharField(max_length=16, default="en", validators=[validators.validate_language])
    timezone = models.CharField(max_length=64, default="UTC")
    iban = models.CharField("IBAN", max_length=34, blank=True, validators=[validators.validate_iban])
    bic = models.CharField("BIC", max_length=11, blank=True, validators=[validators.validate_bic])
    registration_id = models.CharField(max_length=64, blank=True)
    vat_id = models.CharField("VAT id", max_length=32, blank=True)
    logo = models.FileField(upload_to="logos/", blank=True)
    primary_colour = models.CharField(max_length=7, default="#1F4E79", validators=[hex_colour])
    accent_colour = models.CharField(max_length=7, default="#E07A1F", validators=[hex_colour])

    class Meta:
        verbose_name_plural = "entities"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(SearchTextMixin, BaseModel):
    """A debtor account. ``external_ref`` is the ERP's customer number, unique per entity."""

    SEARCHED_FIELDS = ("name", "external_ref", "tax_id")

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="customers")
    external_ref = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="children"
    )
    currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    payment_terms_days = models.PositiveIntegerField(default=30)
    credit_limit = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    segment = models.CharField(max_length=64, blank=True, db_index=True)
    language = models.CharField(max_length=16, default="en", validators=[validators.validate_language])
    country = models.CharField(max_length=2, blank=True, validators=[validators.validate_country])
    timezone = models.CharField(max_length=64, blank=True)
    tax_id = models.CharField(max_length=32, blank=True)
    registration_id = models.CharField(max_length=64, blank=True)
    sales_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "external_ref"], name="customer_ref_unique_per_entity"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_ref})"

    def clean(self) -> None:
        """Validate the tax id against the customer's country where python-stdnum knows the format."""
        from django.core.exceptions import ValidationError

        from relance.core.errors import ValidationFailed
        from relance.core.identifiers import normalise_tax_id

        if self.tax_id and self.country:
            try:
                self.tax_id = normalise_tax_id(self.tax_id, self.country)
            except ValidationFailed as exc:
                raise ValidationError({"tax_id": exc.message}) from None


class Channel(models.TextChoices):
    """The channels a contact may prefer: relance.core.channels' names (PREFERRED_CHANNELS)."""

    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    LETTER = "letter", "Letter"
    CALL = "call", "Phone call"
    PORTAL = "portal", "Portal"


class ContactStatus(models.TextChoices):
    """The status of one address of a contact (its e-mail, phone or postal address), with a reason
    in words beside it (``Contact.<channel>_reason``). ``relance quality contacts`` sets valid,
    suspect or invalid; a hard bounce sets bounced, a letter returned by the post sets returned."""

    UNKNOWN = "unknown", "Not yet verified"
    VALID = "valid", "Valid"
    SUSPECT = "suspect", "Suspect"
    INVALID = "invalid", "Invalid"
    BOUNCING = "bouncing", "Bouncing"
    BOUNCED = "bounced", "Bounced"
    RETURNED = "returned", "Returned by the post"


class PhoneKind(models.TextChoices):
    """What a phone number is, from ``phonenumbers`` (empty: not checked yet)."""

    MOBILE = "mobile", "Mobile"
    FIXED_LINE = "fixed_line", "Fixed line"
    OTHER = "other", "Other (VoIP, toll-free, pager…)"


#: The phone kinds an SMS cannot go to (an unchecked number, empty, is tried).
NO_SMS_KINDS: tuple[str, ...] = (PhoneKind.FIXED_LINE.value, PhoneKind.OTHER.value)

#: The statuses of an address no message goes to: the one rule for the run's channel choice
#: (``dunning.binding``), the recipient (``delivery``) and compliance. A suspect address is still used.
UNUSABLE_STATUSES: tuple[str, ...] = (
    ContactStatus.INVALID.value,
    ContactStatus.BOUNCING.value,
    ContactStatus.BOUNCED.value,
    ContactStatus.RETURNED.value,
)
#: Which status field holds the status of the address a channel uses.
STATUS_FIELDS: dict[str, str] = {
    "email": "email_status",
    "sms": "phone_status",
    "call": "phone_status",
    "letter": "address_status",
    "registered_letter": "address_status",
}


class Contact(SearchTextMixin, BaseModel):
    """A person (or mailbox) at a customer to whom reminders go."""

    SEARCHED_FIELDS = ("name", "email", "phone")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    external_ref = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=32, default="billing", help_text="billing, primary, accounts payable…")
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True, validators=[validators.validate_e164])
    postal_address = models.TextField(blank=True)
    preferred_channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    opt_out_email = models.BooleanField(default=False)
    opt_out_sms = models.BooleanField(default=False)
    opt_out_letter = models.BooleanField(default=False)
    opt_out_phone = models.BooleanField(default=False)
    email_status = models.CharField(
        max_length=10, choices=ContactStatus.choices, default=ContactStatus.UNKNOWN
    )
    phone_status = models.CharField(
        max_length=10, choices=ContactStatus.choices, default=ContactStatus.UNKNOWN
    )
    address_status = models.CharField(
        max_length=10, choices=ContactStatus.choices, default=ContactStatus.UNKNOWN
    )
    phone_kind = models.CharField(
        max_length=12,
        choices=PhoneKind.choices,
        blank=True,
        help_text="What the phone number is (checked by phonenumbers): SMS go to mobiles only",
    )
    # Why each status is what it is, in words ("disposable e-mail domain", "hard bounce: 550 …").
    email_reason = models.CharField(max_length=300, blank=True)
    phone_reason = models.CharField(max_length=300, blank=True)
    address_reason = models.CharField(max_length=300, blank=True)
    confirmed_on = models.DateField(
        null=True, blank=True, help_text="Last day the customer confirmed these details (portal)"
    )

    class Meta:
        ordering = ["customer", "role", "name"]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or f"contact {self.pk}"

    def address_changed(self, address_field: str) -> None:
        """``address_field`` (email, phone, postal_address) holds a new address: whatever was known
        of the old one (valid, bounced, returned…) no longer says anything; the next check decides.
        Imports and edits call it; save ``ADDRESS_STATUS_FIELDS`` with the address."""
        status_field, reason_field = ADDRESS_STATUS[address_field]
        setattr(self, status_field, ContactStatus.UNKNOWN)
        setattr(self, reason_field, "")
        if address_field == "phone":
            self.phone_kind = ""


#: An address field → its status and reason fields.
ADDRESS_STATUS: dict[str, tuple[str, str]] = {
    "email": ("email_status", "email_reason"),
    "phone": ("phone_status", "phone_reason"),
    "postal_address": ("address_status", "address_reason"),
}
#: Every field ``Contact.address_changed`` may change.
ADDRESS_STATUS_FIELDS: tuple[str, ...] = (
    *(name for pair in ADDRESS_STATUS.values() for name in pair),
    "phone_kind",
)


class InvoiceStatus(models.TextChoices):
    OPEN = "open", "Open"
    VOID = "void", "Void"


class Invoice(BaseModel):
    """A receivable. Its open amount is ``amount`` minus dated allocations (see selectors)."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="invoices")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    external_ref = models.CharField(max_length=64)
    issue_date = models.DateField()
    due_date = models.DateField()
    currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    amount = models.DecimalField(max_digits=18, decimal_places=4, validators=POSITIVE)
    po_number = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=8, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN)
    voided_on = models.DateField(
        null=True, blank=True, help_text="When it was voided; empty for an invoice void from the start"
    )

    class Meta:
        ordering = ["due_date", "external_ref"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "external_ref"], name="invoice_ref_unique_per_entity"),
            models.CheckConstraint(
                condition=Q(due_date__gte=models.F("issue_date")), name="invoice_due_after_issue"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="invoice_amount_positive"),
        ]
        indexes = [models.Index(fields=["entity", "customer", "due_date"])]

    def __str__(self) -> str:
        return self.external_ref


class CreditNote(BaseModel):
    """A credit to the customer; applied to an invoice through an allocation, or left open."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="credit_notes")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="credit_notes")
    external_ref = models.CharField(max_length=64)
    date = models.DateField()
    currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    amount = models.DecimalField(max_digits=18, decimal_places=4, validators=POSITIVE)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date", "external_ref"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "external_ref"], name="credit_note_ref_unique_per_entity"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_note_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.external_ref


class Payment(BaseModel):
    """Cash received from a customer; applied to invoices through allocations, the rest unapplied."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="payments")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payments")
    external_ref = models.CharField(max_length=64)
    date = models.DateField()
    currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    amount = models.DecimalField(max_digits=18, decimal_places=4, validators=POSITIVE)
    method = models.CharField(max_length=32, blank=True)
    returned_on = models.DateField(
        null=True,
        blank=True,
        help_text="When the payment came back unpaid (NSF, chargeback); the ERP reverses its allocations",
    )

    class Meta:
        ordering = ["date", "external_ref"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "external_ref"], name="payment_ref_unique_per_entity"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return self.external_ref


class Allocation(BaseModel):
    """Part of a payment or credit note applied to an invoice on a date. Exactly one source."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="allocations")
    payment = models.ForeignKey(
        Payment, on_delete=models.CASCADE, null=True, blank=True, related_name="allocations"
    )
    credit_note = models.ForeignKey(
        CreditNote, on_delete=models.CASCADE, null=True, blank=True, related_name="allocations"
    )
    date = models.DateField()
    amount = models.DecimalField(max_digits=18, decimal_places=4, validators=POSITIVE)

    class Meta:
        ordering = ["date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(payment__isnull=False) & Q(credit_note__isnull=True))
                | (Q(payment__isnull=True) & Q(credit_note__isnull=False)),
                name="allocation_has_exactly_one_source",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
            models.UniqueConstraint(fields=["payment", "invoice"], name="allocation_payment_invoice_unique"),
            models.UniqueConstraint(
                fields=["credit_note", "invoice"], name="allocation_credit_note_invoice_unique"
            ),
        ]
        indexes = [models.Index(fields=["invoice", "date"])]

    def __str__(self) -> str:
        source = self.payment or self.credit_note
        return f"{source} → {self.invoice}: {self.amount}"


class OrderStatus(models.TextChoices):
    """Where an order stands in the ERP. Credit exposure counts ``open`` and ``delivered``."""

    OPEN = "open", "Open (ordered, not delivered)"
    DELIVERED = "delivered", "Delivered, not invoiced (unbilled)"
    INVOICED = "invoiced", "Invoiced"
    CANCELLED = "cancelled", "Cancelled"


class Order(BaseModel):
    """A customer order the ERP sends: not a receivable yet, but credit already extended (exposure)."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    external_ref = models.CharField(max_length=64)
    order_date = models.DateField()
    currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    amount = models.DecimalField(max_digits=18, decimal_places=4, validators=POSITIVE)
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.OPEN)

    class Meta:
        ordering = ["order_date", "external_ref"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "external_ref"], name="order_ref_unique_per_entity"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="order_amount_positive"),
        ]
        indexes = [models.Index(fields=["entity", "customer", "status"])]

    def __str__(self) -> str:
        return self.external_ref


class ExchangeRate(BaseModel):
    """1 ``base_currency`` = ``rate`` ``quote_currency`` on ``rate_date``, as the entity imported it.

    Rates are data, never fetched: ``relance.core.rates`` says which one converts an amount."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="exchange_rates")
    rate_date = models.DateField()
    base_currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    quote_currency = models.CharField(max_length=3, validators=[validators.validate_currency])
    rate = models.DecimalField(
        max_digits=18, decimal_places=8, validators=[MinValueValidator(Decimal("1e-8"))]
    )

    class Meta:
        ordering = ["rate_date", "base_currency", "quote_currency"]
        constraints = [
            # The pair before the day: the same uniqueness, and its index finds a pair's latest rate
            # on a day with one probe (the order check, relance.credit.selectors.exposure).
            models.UniqueConstraint(
                fields=["entity", "base_currency", "quote_currency", "rate_date"],
                name="exchange_rate_unique_per_day",
            ),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
            models.CheckConstraint(
                condition=~Q(base_currency=models.F("quote_currency")), name="exchange_rate_two_currencies"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rate_date} 1 {self.base_currency} = {self.rate} {self.quote_currency}"


class VersionScope(models.TextChoices):
    LEDGER = "ledger", "Ledger (customers, invoices, credit notes, payments, allocations)"
    CASES = "cases", "Collection cases (promises, disputes, payment plans, requests)"
    DOCUMENTS = "documents", "Invoice documents (the ERP's PDFs)"
    ORDERS = "orders", "Orders (open and unbilled, for credit exposure)"
    RATES = "rates", "Exchange rates"


class DataVersion(models.Model):
    """A counter per entity and scope that goes up with every committed change of that data.

    Caches key on it (the portal's pages, the dashboard's KPI snapshots) instead of guessing
    when their content went stale; readers read the version before the data it guards."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=16, choices=VersionScope.choices)
    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entity", "scope"], name="ledger_dataversion_unique")]

    def __str__(self) -> str:
        return f"{self.entity_id}/{self.scope}@{self.version}"


class DataChange(models.Model):
    """What one bump of a data version touched: the earliest business date of the rows it changed.

    The ledger as of a date D is replayed from rows dated on or before D, so a change whose
    ``earliest_date`` is after D leaves every figure as of D as it was: a KPI snapshot for D
    stays valid (docs/adr/0006-kpi-snapshots-keyed-by-data-version.md, "Refinement").
    ``earliest_date`` NULL means "every date" (a customer's segment, a change nobody dated).
    Written in the bump's transaction, so version N's row exists exactly when version N does."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=16, choices=VersionScope.choices)
    version = models.BigIntegerField()
    earliest_date = models.DateField(null=True, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "scope", "version"], name="ledger_datachange_unique")
        ]

    def __str__(self) -> str:
        return f"{self.entity_id}/{self.scope}@{self.version} from {self.earliest_date or 'every date'}"


class InvoiceDocument(BaseModel):
    """One version of an invoice's PDF as the ERP produced it.

    Versions are kept (the copy a customer downloaded stays on record when the ERP sends a
    corrected one); the newest row is the invoice's document. ``sha256`` tells a re-sent copy of
    the current version (nothing written) from a new one."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="documents")
    file = models.FileField(storage=documents.document_storage, upload_to=documents.document_upload_path)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100, default=documents.PDF_CONTENT_TYPE)
    original_name = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["invoice", "-id"]
        indexes = [models.Index(fields=["invoice", "-id"], name="ledger_invoicedoc_latest")]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.original_name or self.sha256[:12]}"


class CustomerAlias(BaseModel):
    """Another external ref that names a customer: the ref of a customer merged into it
    (``relance quality merge``). Imports and the API look refs up through
    ``relance.ledger.selectors.customer_ids_by_ref``, so rows sent later under the merged ref land
    on the survivor. A ref is a customer's or an alias, never both."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="aliases")
    external_ref = models.CharField(max_length=64)

    class Meta:
        ordering = ["external_ref"]
        verbose_name_plural = "customer aliases"
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "external_ref"], name="customer_alias_unique_per_entity"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_ref} → {self.customer_id}"
