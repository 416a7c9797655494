"""Whether and how an entity charges statutory late-payment interest and compensation (§5)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from relance.common.models import BaseModel
from relance.ledger.models import Entity


class Jurisdiction(models.TextChoices):
    EU = "EU", "EU Late Payment Directive 2011/7/EU"
    FR = "FR", "France (Code de commerce L441-10, D441-5)"
    UK = "UK", "United Kingdom (Late Payment of Commercial Debts Act 1998)"
    FI = "FI", "Finland (Interest Act, reference rounded up to 0.5 pp)"


class EntityLateCharges(BaseModel):
    """An entity's late-charge settings. Off unless enabled: charging is the creditor's decision."""

    entity = models.OneToOneField(Entity, on_delete=models.CASCADE, related_name="late_charges")
    enabled = models.BooleanField(default=False)
    jurisdiction = models.CharField(max_length=2, choices=Jurisdiction.choices, default=Jurisdiction.EU)
    contractual_rate = models.DecimalField(
        max_digits=7,
        decimal_places=4,
        null=True,
        blank=True,
        help_text="Agreed annual rate in percent, replacing reference rate + margin (France: at least "
        "3 × the legal rate)",
    )
    margin_pp = models.DecimalField(
        "margin (pp)",
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="Agreed margin over the reference rate in percentage points (EU: at least 8)",
    )
    include_compensation = models.BooleanField(
        default=True, help_text="Claim the fixed compensation per late invoice (EU/FR €40, UK £40–£100)"
    )

    class Meta:
        verbose_name = "late-payment charges"
        verbose_name_plural = "late-payment charges"

    def clean(self) -> None:
        from relance.charges.services import late_charge_terms_check
        from relance.core.errors import ValidationFailed

        try:
            late_charge_terms_check(
                jurisdiction=self.jurisdiction,
                contractual_rate=self.contractual_rate,
                margin_pp=self.margin_pp,
            )
        except ValidationFailed as exc:
            field = "margin_pp" if exc.code == "margin_below_minimum" else "contractual_rate"
            raise ValidationError({field: exc.message}) from None

    def __str__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"{self.entity}: {self.jurisdiction} ({state})"
