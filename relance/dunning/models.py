"""Collections: policies, segmentation, runs and what they did (actions, invoice steps, suppressions, worklist).

The engine (``relance.engine.dunning``) decides; these tables are its inputs and the record of
its decisions. A customer's case (promises, disputes, plans, holds, hand-offs) is
``relance.cases``. Dates are business dates; a row is "active at A" when ``start <= A`` and
(``end`` is null or ``A <= end``), as in the engine's contract.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from relance.common.models import BaseModel
from relance.ledger.models import Customer, Entity, Invoice

POSITIVE = [MinValueValidator(Decimal("0.0001"))]
policy_key_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_-]*$", "expected a key of lower-case letters, digits, _ and -"
)


class Policy(BaseModel):
    """A dunning policy of an entity. ``spec`` is the engine's dict form (``policy_to_dict``)."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="dunning_policies")
    key = models.CharField(max_length=64, validators=[policy_key_validator])
    name = models.CharField(max_length=200)
    spec = models.JSONField(help_text="Steps and cadence rules; see docs/policies.md")
    version = models.PositiveIntegerField(
        default=1, help_text="Incremented on each change of the spec; earlier specs are in PolicyVersion"
    )

    class Meta:
        verbose_name_plural = "policies"
        ordering = ["entity", "key"]
        constraints = [models.UniqueConstraint(fields=["entity", "key"], name="policy_key_unique_per_entity")]

    def clean(self) -> None:
        """The spec must load through the engine (the one validation of a policy)."""
        from relance.core.errors import ValidationFailed
        from relance.engine.dunning.policy import policy_from_dict

        if not isinstance(self.spec, dict):
            raise ValidationError({"spec": "expected a mapping"})
        try:
            policy = policy_from_dict(self.spec)
        except ValidationFailed as exc:
            raise ValidationError({"spec": exc.message}) from None
        if self.key and policy.key != self.key:
            raise ValidationError({"spec": f"the spec's key is {policy.key!r}, not {self.key!r}"})

    def __str__(self) -> str:
        return f"{self.key} ({self.entity})"


class PolicyVersion(models.Model):
    """A policy's spec as it was in one version: what a recorded ``step_index`` refers to."""

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    spec = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who saved it in the back office (empty: an import or the command line)",
    )
    comment = models.CharField(max_length=500, blank=True, help_text="Why it changed, in the author's words")
    restores = models.PositiveIntegerField(
        null=True, blank=True, help_text="The earlier version this one rolled back to, if any"
    )

    class Meta:
        ordering = ["policy", "version"]
        constraints = [models.UniqueConstraint(fields=["policy", "version"], name="policy_version_unique")]

    def __str__(self) -> str:
        return f"{self.policy.key} v{self.version}"


class SegmentPolicy(BaseModel):
    """Which policy customers of a segment follow. An empty segment is the entity's default."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="segment_policies")
    segment = models.CharField(
        max_length=64, blank=True, help_text="Customer segment; empty = every customer not mapped otherwise"
    )
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="segments")

    class Meta:
        verbose_name = "segment policy"
        verbose_name_plural = "segment policies"
        ordering = ["entity", "segment"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "segment"], name="segment_policy_unique_per_entity")
        ]

    def clean(self) -> None:
        if self.policy_id and self.entity_id and self.policy.entity_id != self.entity_id:
            raise ValidationError({"policy": "the policy belongs to another entity"})

    def __str__(self) -> str:
        return f"{self.segment or '(default)'} → {self.policy.key}"


class RunStatus(models.TextChoices):
    APPLIED = "applied", "Applied"


class DunningRun(BaseModel):
    """One daily run of an entity. Unique per entity and date: a second run of the date adds nothing."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="dunning_runs")
    as_of = models.DateField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.APPLIED)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    counts = models.JSONField(
        default=dict, help_text="decisions, actions by kind, invoices advanced, suppressed"
    )
    started_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["entity", "-as_of"]
        constraints = [models.UniqueConstraint(fields=["entity", "as_of"], name="dunning_run_unique_per_day")]

    def __str__(self) -> str:
        return f"run {self.entity} {self.as_of}"


class DunningLock(models.Model):
    """One row per entity, locked for the length of a run so that two runs cannot overlap."""

    entity = models.OneToOneField(Entity, on_delete=models.CASCADE, primary_key=True, related_name="+")
    locked_at = models.DateTimeField(null=True, blank=True)
    locked_by = models.CharField(max_length=150, blank=True)

    def __str__(self) -> str:
        return f"run lock of entity {self.entity_id}"


class ActionStatus(models.TextChoices):
    """Follows the action's messages (``relance.delivery.services.action_status_follow``)."""

    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class DunningAction(BaseModel):
    """One decision of a run: an action for a customer covering one or more invoices, with its reasons."""

    run = models.ForeignKey(DunningRun, on_delete=models.CASCADE, related_name="actions")
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="dunning_actions")
    on = models.DateField(help_text="The run's date")
    kind = models.CharField(max_length=12, help_text="upcoming, overdue, installment or internal")
    policy_key = models.CharField(max_length=64)
    policy_version = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The policy version the step was decided with (step_index refers to it)",
    )
    step_key = models.CharField(max_length=64)
    step_index = models.IntegerField()
    offset_days = models.IntegerField()
    action = models.CharField(max_length=24)
    channel = models.CharField(max_length=24, blank=True)
    step_channels = models.JSONField(
        default=list,
        blank=True,
        help_text="The step's channels in the policy's order of preference, as the engine decided "
        "with them (``channel`` is the first the customer could be reached on); delivery falls back "
        "along this list",
    )
    is_contact = models.BooleanField(
        help_text="The customer is reached (message or call), not an internal step"
    )
    tone = models.CharField(max_length=16, blank=True)
    template_key = models.CharField(max_length=64, blank=True)
    currency = models.CharField(max_length=3)
    amount_due = models.DecimalField(max_digits=18, decimal_places=4)
    invoice_count = models.IntegerField()
    max_days_past_due = models.IntegerField()
    broken_promise = models.BooleanField(default=False)
    catch_up = models.BooleanField(default=False)
    reasons = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=ActionStatus.choices, default=ActionStatus.QUEUED)
    invoices = models.ManyToManyField(
        Invoice, related_name="dunning_actions", db_table="dunning_action_invoice"
    )

    class Meta:
        ordering = ["run", "id"]
        indexes = [
            models.Index(fields=["entity", "customer", "on"]),
            models.Index(fields=["entity", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.on} {self.customer.external_ref}: {self.action} {self.step_key}"


class InvoiceStep(models.Model):
    """The step an invoice reached in a run (history; the highest ``step_index`` is the current one)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="dunning_steps")
    run = models.ForeignKey(DunningRun, on_delete=models.CASCADE, related_name="invoice_steps")
    action = models.ForeignKey(DunningAction, on_delete=models.CASCADE, related_name="invoice_steps")
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    policy_key = models.CharField(max_length=64)
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    step_key = models.CharField(max_length=64)
    step_index = models.IntegerField()
    reached_on = models.DateField()

    class Meta:
        ordering = ["invoice", "reached_on"]
        constraints = [models.UniqueConstraint(fields=["invoice", "run"], name="invoice_step_once_per_run")]

    def __str__(self) -> str:
        return f"{self.invoice} reached {self.step_key} on {self.reached_on}"


class Suppression(models.Model):
    """Why something that was due got nothing in a run (audit: dunning never skips silently).

    Summarised: when the next run holds back the same thing for the same reason with the same
    detail, this row is extended (``last_run``, ``count``) instead of a new one being written;
    the row stands for every run from ``run`` to ``last_run`` (``suppression_list_of_run``).
    """

    run = models.ForeignKey(DunningRun, on_delete=models.CASCADE, related_name="suppressions")
    last_run = models.ForeignKey(
        DunningRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The latest consecutive run that held it back the same way (empty: only ``run``)",
    )
    count = models.PositiveIntegerField(default=1, help_text="Consecutive runs this row stands for")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=32)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "customer", "invoice"]
        indexes = [models.Index(fields=["last_run"])]

    def __str__(self) -> str:
        return f"{self.reason}: customer {self.customer_id}, invoice {self.invoice_id or '—'}"


class WorklistEntry(models.Model):
    """A customer's collection priority as of a run, with every factor that makes it up."""

    run = models.ForeignKey(DunningRun, on_delete=models.CASCADE, related_name="worklist")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    currency = models.CharField(max_length=3)
    priority = models.FloatField()
    overdue_amount = models.DecimalField(max_digits=18, decimal_places=4)
    max_days_past_due = models.IntegerField()
    risk = models.CharField(max_length=16, blank=True)
    broken_promises = models.IntegerField()
    days_since_contact = models.IntegerField(null=True, blank=True)
    factors = models.JSONField(default=dict)

    class Meta:
        verbose_name_plural = "worklist entries"
        ordering = ["run", "-priority", "customer"]

    def __str__(self) -> str:
        return f"customer {self.customer_id}: {self.priority:.1f}"


class SegmentationRules(BaseModel):
    """An entity's ordered segmentation rules (first match wins), in the engine's list form.

    ``[{segment: key_accounts, when: [{field: open_amount, op: ge, value: 50000}]}, …]`` over
    the customer fields and behaviour metrics of ``relance.engine.dunning.behaviour``.
    """

    entity = models.OneToOneField(Entity, on_delete=models.CASCADE, related_name="segmentation_rules")
    rules = models.JSONField(default=list)
    default_segment = models.CharField(
        max_length=64, blank=True, help_text="Segment of customers no rule matches; empty = keep theirs"
    )

    class Meta:
        verbose_name = "segmentation rules"
        verbose_name_plural = "segmentation rules"

    def clean(self) -> None:
        from relance.core.errors import ValidationFailed
        from relance.engine.dunning.behaviour import segment_rules_from_list

        try:
            segment_rules_from_list(self.rules)
        except ValidationFailed as exc:
            raise ValidationError({"rules": exc.message}) from None

    def __str__(self) -> str:
        return f"segmentation rules of {self.entity}"


class CustomerAttribute(BaseModel):
    """A free attribute of a customer (an ERP custom field such as ``industry``), as text.

    Policy step conditions read it as ``custom.NAME``. Kept here until the ledger's Customer
    has its own custom fields (see docs/dunning.md).
    """

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="attributes")
    name = models.CharField(
        max_length=64, validators=[policy_key_validator], help_text="lower-case letters, digits, _ and -"
    )
    value = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["customer", "name"]
        constraints = [models.UniqueConstraint(fields=["customer", "name"], name="customer_attribute_unique")]

    def __str__(self) -> str:
        return f"{self.customer.external_ref}.{self.name} = {self.value}"


class SegmentChange(models.Model):
    """A customer's segment changed by the rules (``relance segment apply`` or the run), and why."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="segment_changes")
    run = models.ForeignKey(
        DunningRun, on_delete=models.CASCADE, null=True, blank=True, related_name="segment_changes"
    )
    on = models.DateField(help_text="The as-of date the rules were applied for")
    from_segment = models.CharField(max_length=64, blank=True)
    to_segment = models.CharField(max_length=64, blank=True)
    rule = models.PositiveIntegerField(help_text="1-based rule that matched; 0 = the default segment")
    evidence = models.TextField(blank=True)
    changed_by = models.CharField(
        max_length=150, blank=True, help_text="'relance run', 'relance segment apply', …"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["customer", "on", "id"]
        indexes = [models.Index(fields=["entity", "customer", "on"])]

    def __str__(self) -> str:
        return f"{self.on} {self.customer.external_ref}: {self.from_segment or '(none)'} → {self.to_segment}"
