"""The one reader of an entity's credit settings: the model's defaults until some are saved."""

from __future__ import annotations

from decimal import Decimal

import pytest

from relance.credit.models import CreditSettings
from relance.credit.selectors.settings import credit_settings_for, credit_settings_of

pytestmark = pytest.mark.django_db


def test_defaults_until_saved_then_the_saved_ones(entity, make_customer) -> None:
    customer = make_customer("C1")
    unsaved = credit_settings_for(entity=entity)
    assert unsaved.pk is None
    assert (unsaved.four_eyes_above, unsaved.exposure_includes_open_orders) == (Decimal("50000"), True)
    assert credit_settings_of(customer).check_max_days_past_due == 30
    CreditSettings.objects.create(
        entity=entity, exposure_includes_open_orders=False, check_max_days_past_due=10
    )
    assert credit_settings_for(entity=entity).exposure_includes_open_orders is False
    customer.refresh_from_db()
    assert credit_settings_of(customer).check_max_days_past_due == 10
