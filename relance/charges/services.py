"""Writes of the charges app: configure an entity's late-payment charges, checked against the floor."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import timezone

from relance.charges.models import EntityLateCharges
from relance.core.late_charges import check_contractual_terms, load_reference_rates, rule_pack
from relance.ledger.models import Entity


def late_charge_terms_check(
    *,
    jurisdiction: str,
    contractual_rate: Decimal | None = None,
    margin_pp: Decimal | None = None,
    on: date | None = None,
) -> None:
    """Raise ``ValidationFailed`` when agreed terms undercut the jurisdiction's minimum on ``on``
    (default today): France refuses a rate below 3 × the legal rate, the EU a margin below 8 pp."""
    check_contractual_terms(
        rule=rule_pack(jurisdiction),
        reference_rates=load_reference_rates(),
        on=on or timezone.localdate(),
        contractual_rate=contractual_rate,
        margin_pp=margin_pp,
    )


def late_charges_configure(
    *,
    entity: Entity,
    enabled: bool,
    jurisdiction: str,
    contractual_rate: Decimal | None = None,
    margin_pp: Decimal | None = None,
    include_compensation: bool = True,
    on: date | None = None,
) -> EntityLateCharges:
    late_charge_terms_check(
        jurisdiction=jurisdiction, contractual_rate=contractual_rate, margin_pp=margin_pp, on=on
    )
    settings, _ = EntityLateCharges.objects.update_or_create(
        entity=entity,
        defaults={
            "enabled": enabled,
            "jurisdiction": jurisdiction.upper(),
            "contractual_rate": contractual_rate,
            "margin_pp": margin_pp,
            "include_compensation": include_compensation,
        },
    )
    return settings
