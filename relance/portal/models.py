"""The customer portal: magic links, what customers did through them, and the requests they left.

A customer reaches the portal through a signed link (``PortalLink``) scoped to one customer account
and its child accounts; there is no customer login. Every action is recorded (``PortalEvent``).
Promises, disputes and plans themselves live in ``relance.dunning``; this app keeps what the
portal adds around them: the dispute's case (owner, SLA, attachments), plan requests waiting for a
credit manager, payment sessions with a provider, one-time codes.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.functional import LazyObject

from relance.common.models import BaseModel
from relance.ledger.models import Contact, Customer, Entity


class UploadStorage(LazyObject):
    """Uploaded attachments live outside the static and media roots and have no public URL:
    the portal streams them, after the token check, as downloads."""

    def _setup(self) -> None:
        root = getattr(settings, "RELANCE_PORTAL_UPLOAD_ROOT", None) or (
            Path(settings.RELANCE_VAR_DIR) / "portal-uploads"
        )
        self._wrapped = FileSystemStorage(location=str(root), base_url=None)


upload_storage = UploadStorage()


def _upload_storage() -> FileSystemStorage:
    return upload_storage  # type: ignore[return-value]  # a lazy FileSystemStorage


class LinkSource(models.TextChoices):
    MESSAGE = "message", "In a message"
    SUPPORT = "support", "Printed by support (relance portal link)"
    RENEWAL = "renewal", "Fresh link after a one-time code"
    ADMIN = "admin", "Created in the admin"


class PortalLink(BaseModel):
    """One magic link. The URL carries ``token_id`` signed with the portal's salt; the row decides
    whether it is still good (expiry, revocation)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="portal_links")
    contact = models.ForeignKey(
        Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="portal_links"
    )
    token_id = models.CharField(max_length=32, unique=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=LinkSource.choices, default=LinkSource.MESSAGE)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "created_at"])]

    def __str__(self) -> str:
        return f"link {self.pk} of {self.customer.external_ref}"


class PortalEvent(models.Model):
    """Who did what through which link, when and from where: the portal's audit trail."""

    link = models.ForeignKey(
        PortalLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="events"
    )
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="portal_events")
    action = models.CharField(max_length=32, db_index=True)
    at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.customer.external_ref} {self.action}"


class PortalSettings(BaseModel):
    """An entity's limits for what customers may do alone; without a row the defaults apply."""

    entity = models.OneToOneField(Entity, on_delete=models.CASCADE, related_name="portal_settings")
    link_days = models.PositiveIntegerField(default=30, help_text="Validity of links in messages")
    promise_max_days = models.PositiveIntegerField(default=30, help_text="Latest promised date, in days")
    promise_min_share = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        default=Decimal("1.0000"),
        help_text="Smallest share of the chosen invoices' open amount a promise may cover (0–1)",
    )
    dispute_sla_days = models.PositiveIntegerField(default=10, help_text="Days to answer a dispute")
    attachment_max_bytes = models.PositiveIntegerField(default=5 * 1024 * 1024)
    plan_max_installments = models.PositiveIntegerField(default=6)
    plan_max_first_delay_days = models.PositiveIntegerField(default=30)
    plan_min_installment = models.DecimalField(max_digits=18, decimal_places=4, default=Decimal("50"))
    plan_every_days = models.PositiveIntegerField(default=30)
    contact_changes = models.CharField(
        max_length=8,
        default="propose",
        choices=[("propose", "A collector accepts each change"), ("apply", "Changes apply at once")],
        help_text="What a customer's edit of their contact details in the portal does",
    )

    class Meta:
        verbose_name = "portal settings"
        verbose_name_plural = "portal settings"

    def __str__(self) -> str:
        return f"portal settings of {self.entity}"


class CodePurpose(models.TextChoices):
    RENEW = "renew", "Fresh link"
    EMAIL = "email", "New billing email"
    PHONE = "phone", "New billing phone"


class PortalCode(BaseModel):
    """A one-time code sent to an address; only its hash is kept."""

    link = models.ForeignKey(PortalLink, on_delete=models.CASCADE, related_name="codes")
    purpose = models.CharField(max_length=8, choices=CodePurpose.choices)
    target = models.CharField(max_length=254, help_text="The address the code was sent to")
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    code_hash = models.CharField(max_length=128)
    expires_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.purpose} code for link {self.link_id}"


class DisputeCase(BaseModel):
    """What the portal keeps around a dispute: its owner, its SLA and the customer's words and files."""

    dispute = models.OneToOneField("cases.Dispute", on_delete=models.CASCADE, related_name="portal_case")
    link = models.ForeignKey(PortalLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sla_due_on = models.DateField()
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["sla_due_on", "id"]

    def __str__(self) -> str:
        return f"case of dispute {self.dispute_id}"


class DisputeAttachment(models.Model):
    """A file a customer attached to a dispute. Stored under a random name, never served inline."""

    case = models.ForeignKey(DisputeCase, on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    file = models.FileField(storage=_upload_storage, upload_to="disputes/%Y/%m/")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["case", "id"]

    def __str__(self) -> str:
        return self.filename


class PlanRequestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a credit manager"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class PlanRequest(BaseModel):
    """A payment plan asked for outside the entity's limits: a credit manager approves or rejects it."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="plan_requests")
    link = models.ForeignKey(PortalLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    installments = models.PositiveIntegerField()
    first_due = models.DateField()
    every_days = models.PositiveIntegerField(default=30)
    total = models.DecimalField(max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3)
    invoice_ids = models.JSONField(default=list)
    note = models.TextField(blank=True)
    reasons = models.JSONField(default=list, help_text="Which limits the request is outside of")
    status = models.CharField(
        max_length=10, choices=PlanRequestStatus.choices, default=PlanRequestStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    plan = models.ForeignKey(
        "cases.PaymentPlan", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["entity", "status"])]

    def __str__(self) -> str:
        return f"plan request {self.pk} of {self.customer.external_ref} ({self.status})"


class CheckoutStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    EXPIRED = "expired", "Expired"


class PortalCheckout(BaseModel):
    """A payment started from the portal with a provider: which invoices, how much, what came of it."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="portal_checkouts")
    link = models.ForeignKey(PortalLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    provider = models.CharField(max_length=20)
    provider_ref = models.CharField(max_length=255, unique=True, help_text="e.g. Stripe's cs_… session id")
    amount = models.DecimalField(
        max_digits=18, decimal_places=4, validators=[MinValueValidator(Decimal("0.01"))]
    )
    currency = models.CharField(max_length=3)
    invoices = models.JSONField(default=list, help_text='[{"id": 1, "amount": "10.00"}, …]')
    status = models.CharField(max_length=10, choices=CheckoutStatus.choices, default=CheckoutStatus.PENDING)
    payment = models.ForeignKey(
        "ledger.Payment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.provider} {self.provider_ref} ({self.status})"


class WebhookEvent(models.Model):
    """A provider event already handled: the webhook is idempotent on the provider's event id."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="portal_webhook_event_once")
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_id}"


class SavedCard(BaseModel):
    """A card a customer saved with the payment provider: what Relance may know of it (never the
    number), so that it can tell the customer before it expires (issue 15, item 9)."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="saved_cards")
    provider = models.CharField(max_length=20)
    provider_ref = models.CharField(max_length=255, unique=True, help_text="e.g. Stripe's pm_… id")
    brand = models.CharField(max_length=20, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField()
    exp_year = models.PositiveSmallIntegerField()
    removed_at = models.DateTimeField(null=True, blank=True, help_text="Detached from the customer")

    class Meta:
        ordering = ["customer", "exp_year", "exp_month"]

    def __str__(self) -> str:
        return f"{self.brand} ••••{self.last4} {self.exp_month:02d}/{self.exp_year}"


class ContactChanges(models.TextChoices):
    """What becomes of a customer's edit of their contact details in the portal."""

    PROPOSE = "propose", "A collector accepts each change"
    APPLY = "apply", "Changes apply at once"


class ProposalStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a collector"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    APPLIED = "applied", "Applied at once"


class ContactProposal(BaseModel):
    """A change of a contact's details the customer made in the portal (issue 19): applied when a
    collector accepts it, or at once when the entity says so (``PortalSettings.contact_changes``).
    ``changes`` maps each field to ``[old, new]``. A new contact the customer proposes has no
    ``contact`` until it is accepted (then the contact made from it)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    link = models.ForeignKey(PortalLink, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    changes = models.JSONField()
    status = models.CharField(max_length=10, choices=ProposalStatus.choices, default=ProposalStatus.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"proposal {self.pk} for contact {self.contact_id} ({self.status})"
