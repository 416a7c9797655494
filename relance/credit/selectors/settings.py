"""An entity's credit settings (``CreditSettings``): the one reader. An entity that never saved
any has the model's defaults (an unsaved row), so every caller reads the same values."""

from __future__ import annotations

from relance.credit.models import CreditSettings
from relance.ledger.models import Customer, Entity


def credit_settings_for(*, entity: Entity) -> CreditSettings:
    """The entity's credit settings (an unsaved row with the defaults when none is stored)."""
    found = CreditSettings.objects.filter(entity=entity).first()
    return found if found is not None else CreditSettings(entity=entity)


def credit_settings_of(customer: Customer) -> CreditSettings:
    """The credit settings of the customer's entity, without a query when the customer was read
    with ``entity__credit_settings`` (``selectors.exposure.customers_for_exposure`` does)."""
    try:
        return customer.entity.credit_settings
    except CreditSettings.DoesNotExist:
        return CreditSettings(entity_id=customer.entity_id)
