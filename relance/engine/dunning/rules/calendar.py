"""Business days: no contact on a day that is not a business day where the customer is."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from relance.engine.dunning.policy import (
    HOLIDAYS_CUSTOMER,
    HOLIDAYS_NONE,
    WEEKDAYS,
    Policy,
)
from relance.engine.dunning.rules.common import _Suppressed


def _uses_calendar(policies: Mapping[str, Policy]) -> bool:
    return any(p.business_days is not None or p.send_window is not None for p in policies.values())


def _zone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(name) if isinstance(name, str) and name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@lru_cache(maxsize=512)
def _holiday_name(country: str, day: date) -> str | None:
    import holidays

    if country not in holidays.list_supported_countries():
        return None
    calendar = holidays.country_holidays(country, years=day.year)
    name = calendar.get(day)
    return None if name is None else str(name)


def delivery_day(run_at: datetime, timezone: str | None, policy: Policy) -> date:
    """The customer's local date of delivery of a message released at ``run_at``: that date,
    or the next one when the policy's send window has already closed there."""
    local = run_at.astimezone(_zone(timezone))
    window = policy.send_window
    if window is not None and local.time() >= window.end:
        return local.date() + timedelta(days=1)
    return local.date()


def non_business_reason(
    run_at: datetime, timezone: str | None, country: str | None, policy: Policy
) -> str | None:
    """Why the customer's day of delivery is not a business day under ``policy`` (None: it is)."""
    if policy.business_days is None and policy.send_window is None:
        return None
    day = delivery_day(run_at, timezone, policy)
    zone = _zone(timezone).key
    where = f"{WEEKDAYS[day.weekday()]} {day.isoformat()} in {zone}"
    window = policy.send_window
    if window is not None and day.weekday() not in window.weekdays:
        return f"{where}: no send window that day"
    rules = policy.business_days
    if rules is None:
        return None
    if day.weekday() not in rules.weekdays:
        return f"{where}: not a business day (weekend)"
    if rules.holidays == HOLIDAYS_NONE:
        return None
    holiday_country = (country or "").upper() if rules.holidays == HOLIDAYS_CUSTOMER else rules.holidays
    name = _holiday_name(holiday_country, day) if holiday_country else None
    if name is not None:
        return f"{where}: public holiday in {holiday_country} ({name})"
    return None


def _non_business(rows: pd.DataFrame, policies: Mapping[str, Policy], run_at: datetime) -> np.ndarray:
    """Per row (customer_id, policy_key, timezone, country): the reason its day is not a business
    day, or None. Computed once per distinct (policy, zone, country)."""
    keys = pd.DataFrame(
        {
            "policy_key": rows.policy_key.astype(object).to_numpy(),
            "timezone": rows.timezone.astype(object).where(rows.timezone.notna(), "").to_numpy(),
            "country": rows.country.astype(object).where(rows.country.notna(), "").to_numpy(),
        }
    )
    distinct = keys.drop_duplicates()
    reasons = {
        (key, zone, country): (
            non_business_reason(run_at, zone, country, policies[key]) if key in policies else None
        )
        for key, zone, country in distinct.itertuples(index=False)
    }
    return np.array(
        [reasons[item] for item in keys.itertuples(index=False, name=None)], dtype=object
    ).reshape(len(rows))


def _defer_non_business_days(
    decisions: pd.DataFrame,
    candidates: pd.DataFrame,
    policies: Mapping[str, Policy],
    run_at: datetime,
    is_contact: np.ndarray,
    out: _Suppressed,
) -> np.ndarray:
    """No contact on a day that is not a business day for the customer (where they are, on the
    day it would be delivered). Nothing is recorded, so the next business day's run decides
    again (the catch-up rule sends the most advanced step then due). Returns the blocked mask."""
    blocked = np.zeros(len(decisions), dtype=bool)
    if _uses_calendar(policies) and is_contact.any():
        off = _non_business(decisions, policies, run_at)
        deferred = is_contact & pd.notna(off)
        if deferred.any():
            out.groups(
                candidates, decisions.group_no.to_numpy()[deferred], "non_business_day", list(off[deferred])
            )
            blocked |= deferred
    return blocked
