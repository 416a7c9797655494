"""Data-quality tables (issue 19)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from relance.common.models import BaseModel
from relance.ledger.models import Customer, Entity

# --- contacts and quality score


class QualityProblem(models.Model):
    """A data-quality problem of a customer known at the last check (``relance.quality.report``).

    Kept so each check can tell the problems it finds for the first time (the monitoring after an
    import) from those already known, and since when a problem stands."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=40)
    detail = models.CharField(max_length=300, blank=True)
    first_seen = models.DateTimeField()

    class Meta:
        ordering = ["customer_id", "code"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "code"], name="quality_problem_once_per_customer")
        ]

    def __str__(self) -> str:
        return f"{self.code} of customer {self.customer_id}"


class QualityCheck(models.Model):
    """One quality check of an entity: its score and what changed since the previous check."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    trigger = models.CharField(max_length=40, help_text="What ran it: import:<kind>, command, page…")
    customers = models.PositiveIntegerField()
    score = models.PositiveSmallIntegerField(help_text="The entity's score, 0–100")
    problems = models.PositiveIntegerField()
    new_problems = models.PositiveIntegerField()
    resolved = models.PositiveIntegerField()
    contacts_checked = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"quality check of {self.entity_id} at {self.at:%Y-%m-%d %H:%M}"


# --- duplicates and merges


class DuplicateCandidate(models.Model):
    """Two customers of one entity that look like the same company, from the latest
    ``duplicates_find`` of the entity (replaced by the next): a score 0–100 and its reasons in
    words. ``customer_low`` has the smaller id. Derived data: a merge deletes the pair."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    customer_low = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    customer_high = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list)
    found_at = models.DateTimeField()

    class Meta:
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer_low", "customer_high"], name="quality_candidate_pair_unique"
            ),
        ]
        indexes = [models.Index(fields=["entity", "-score"])]

    def __str__(self) -> str:
        return f"{self.customer_low_id} ~ {self.customer_high_id}: {self.score}"


class NotDuplicate(BaseModel):
    """A pair someone said is not a duplicate: it never comes back as a candidate. Kept by
    external refs (not ids), so it outlives re-imports; ``ref_low`` sorts before ``ref_high``."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    ref_low = models.CharField(max_length=64)
    ref_high = models.CharField(max_length=64)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["entity", "ref_low", "ref_high"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "ref_low", "ref_high"], name="quality_not_duplicate_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ref_low} ≠ {self.ref_high}"


class CustomerMerge(BaseModel):
    """One merge: the customer ``merged_ref`` folded into the survivor, with everything needed to
    undo it (``merge_undo``) until the entity's next dunning run: the merged customer's own
    values, the ids of every row moved, by ``app.Model.field``, and the rows dropped because the
    survivor already had one (serialised). Ids, not foreign keys: a merge record must not move
    with a later merge."""

    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    survivor_id_value = models.BigIntegerField(help_text="The survivor's customer id")
    survivor_ref = models.CharField(max_length=64)
    merged_id_value = models.BigIntegerField(help_text="The merged customer's id (restored by an undo)")
    merged_ref = models.CharField(max_length=64)
    merged_values = models.JSONField(default=dict, help_text="The merged customer's fields")
    moved = models.JSONField(default=dict, help_text="{app.Model.field: [row ids]}")
    dropped = models.JSONField(default=list, help_text="Serialised rows the survivor had its own of")
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["entity", "merged_ref"])]

    def __str__(self) -> str:
        return f"{self.merged_ref} → {self.survivor_ref}"
