"""Django field validators wrapping the pure ones in ``relance.core`` (module-level for migrations)."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError

from relance.core import identifiers, money
from relance.core.errors import ValidationFailed


def _check(check: Callable[[str], object], value: str) -> None:
    if not value:
        return
    try:
        check(value)
    except ValidationFailed as exc:
        raise ValidationError(exc.message) from None


def validate_currency(value: str) -> None:
    _check(money.validate_currency, value)
    if value != value.upper():
        raise ValidationError(f"currency {value!r} must be upper case")


def validate_iban(value: str) -> None:
    _check(identifiers.normalise_iban, value)


def validate_bic(value: str) -> None:
    _check(identifiers.normalise_bic, value)


def validate_country(value: str) -> None:
    _check(identifiers.validate_country, value)


def validate_language(value: str) -> None:
    _check(identifiers.validate_language, value)


def validate_e164(value: str) -> None:
    if not value:
        return
    try:
        normalised = identifiers.normalise_phone(value)
    except ValidationFailed as exc:
        raise ValidationError(exc.message) from None
    if normalised != value:
        raise ValidationError(f"phone number {value!r} is not in E.164 form ({normalised})")
