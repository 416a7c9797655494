"""Data-quality tables (issue 19)."""

from django.db import models

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
