"""Dunning policies as data: frozen dataclasses, loaded from and dumped to plain dicts (YAML).

A policy is an ordered list of steps. A step fires ``offset_days`` after an invoice's due date
(negative = before it) when its conditions hold; it performs an ``action`` through the first
channel of ``channels`` the customer can still be reached on. Policy-level ``CadenceRules``
limit how often a customer is contacted. ``policy_from_dict`` validates everything and raises
``ValidationFailed`` listing every problem as ``path: expected …, found …``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from typing import Any, TypeVar

from relance.core.channels import LEGACY_NAMES, STEP_CHANNELS
from relance.core.errors import ValidationFailed
from relance.engine.specs import (
    Problems,
    check_choice,
    check_known_keys,
    decimal_of,
    integer_at,
    number_out,
    text_at,
)

ACTIONS = ("message", "task", "notify_owner", "credit_hold", "external_collection")
# Actions that reach the customer: they count for cadence and need a channel.
CONTACT_ACTIONS = ("message", "task")
# The channels a step may list: the one vocabulary (relance.core.channels).
CHANNELS = STEP_CHANNELS
TONES = ("friendly", "neutral", "firm", "urgent", "final")
CONDITION_FIELDS = (
    "amount_due",  # the customer's open amount in the step (after disputes), in the currency
    "invoice_amount",  # the invoice's open amount
    "days_past_due",
    "risk",  # customer_profile.risk: "low", "medium", "high" or ""
    "segment",  # customers.segment
    "behaviour",  # the behavioural class: prompt, forgetful, chronic_late, at_risk, new
    "p_late",  # the invoice's stored probability of being paid late, 0..1 (none stored: false)
)
NUMERIC_FIELDS = ("amount_due", "invoice_amount", "days_past_due", "p_late")
# ``custom.NAME``: a customer attribute (the ERP's custom field NAME), compared as text.
CUSTOM_PREFIX = "custom."
CUSTOM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in")

ERROR_POLICY = "policy {key}: {problems}"


@dataclass(frozen=True)
class Condition:
    """``field operator value``: e.g. ``amount_due ge 10000`` or ``risk in [high]``."""

    field: str
    operator: str
    value: Decimal | str | tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, Decimal):
            return {"field": self.field, "op": self.operator, "value": number_out(value)}
        if isinstance(value, tuple):
            return {"field": self.field, "op": self.operator, "value": list(value)}
        return {"field": self.field, "op": self.operator, "value": value}


@dataclass(frozen=True)
class Step:
    """One touchpoint of a policy, relative to an invoice's due date."""

    key: str
    offset_days: int
    action: str
    channels: tuple[str, ...] = ()
    template_key: str = ""
    tone: str = "neutral"
    conditions: tuple[Condition, ...] = ()
    description: str = ""

    @property
    def is_contact(self) -> bool:
        return self.action in CONTACT_ACTIONS

    @property
    def kind(self) -> str:
        """``upcoming`` (before due), ``overdue`` (on or after due) or ``internal``."""
        if not self.is_contact:
            return "internal"
        return "upcoming" if self.offset_days < 0 else "overdue"


@dataclass(frozen=True)
class CadencePhase:
    """Within ``until_days_past_due`` (inclusive), at least ``min_days_between`` between contacts."""

    until_days_past_due: int
    min_days_between: int


@dataclass(frozen=True)
class CadenceRules:
    """How often one customer may be contacted, whatever the number of invoices.

    ``min_days_between`` applies everywhere; each phase raises it while the customer's most
    overdue invoice is within the phase (the seeds' rule: 15 days during the first 60 days past
    due). ``max_contacts``/``window_days`` cap contacts in a rolling window. A customer whose
    amount due is below ``small_balance`` (in the invoices' currency) is not chased.
    ``promise_grace_days``: how long after its date a promise still pauses dunning.
    """

    min_days_between: int = 0
    phases: tuple[CadencePhase, ...] = ()
    max_contacts: int | None = None
    window_days: int = 30
    small_balance: Decimal = Decimal(0)
    promise_grace_days: int = 3
    installment_reminder_days: int = 3

    def min_days_at(self, days_past_due: int) -> int:
        """The minimum gap between contacts when the most overdue invoice is this late."""
        gap = self.min_days_between
        for phase in self.phases:
            if days_past_due <= phase.until_days_past_due:
                gap = max(gap, phase.min_days_between)
        return gap


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # Monday = 0, as date.weekday()
HOLIDAYS_CUSTOMER = "customer"  # the customer's country, else the entity's
HOLIDAYS_NONE = "none"


@dataclass(frozen=True)
class SendWindow:
    """The hours (customer's local time, ``start`` ≤ t < ``end``) and weekdays messages go out.

    The delivery side picks the hour; the engine uses it to know the customer's *day* of
    delivery: a run after today's window has closed delivers tomorrow.
    """

    start: time
    end: time
    weekdays: tuple[int, ...]


@dataclass(frozen=True)
class BusinessDays:
    """The days a customer may be contacted: ``weekdays`` (Monday = 0) minus public holidays.

    ``holidays``: ``"customer"`` (the customer's country, else its entity's, through the
    ``holidays`` library), ``"none"``, or an ISO 3166 country code for every customer.
    """

    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    holidays: str = HOLIDAYS_CUSTOMER


@dataclass(frozen=True)
class Policy:
    key: str
    name: str
    steps: tuple[Step, ...]
    cadence: CadenceRules = field(default_factory=CadenceRules)
    description: str = ""
    send_window: SendWindow | None = None
    business_days: BusinessDays | None = None

    def step_index(self, key: str) -> int:
        for index, step in enumerate(self.steps):
            if step.key == key:
                return index
        raise KeyError(key)


# --------------------------------------------------------------------------- which step comes next
#
# The one home of "which step an invoice is at, which comes next and when". The engine evaluates
# these rules over columns (its Ibis layer passes column expressions as the tests: a test is
# anything with ``&``, a Python bool or an Ibis boolean), the workspace over one invoice's
# Python values (``next_step``). The tests come as ordered ``(test, index)`` pairs.

T = TypeVar("T")


def reached_index_cases(policy: Policy, is_reached: Callable[[str], T]) -> list[tuple[T, int]]:
    """Which step of ``policy`` an invoice reached, as ``(reached key is the step's, index)``
    pairs: the reached index is the highest index whose test holds over the invoice's reached
    step keys, −1 when none does. Steps are matched by key, not by a recorded index: after a
    policy is edited (a step inserted or removed), an invoice stays at the step key it reached,
    and a key the policy no longer has is ignored."""
    return [(is_reached(step.key), index) for index, step in enumerate(policy.steps)]


def reached_index(policy: Policy, step_keys: Iterable[str]) -> int:
    """``reached_index_cases`` for one invoice's reached step keys (any policy's)."""
    keys = set(step_keys)
    return max((index for hit, index in reached_index_cases(policy, keys.__contains__) if hit), default=-1)


def step_is_due(step: Step, days_past_due: Any, conditions_hold: Any = True) -> Any:
    """A step is due when its offset is reached and its conditions hold (Python values, or the
    engine's Ibis columns: the same expression)."""
    reached = days_past_due >= step.offset_days
    return reached if conditions_hold is True else reached & conditions_hold


def due_index_cases(policy: Policy, is_due: Callable[[Step], T]) -> list[tuple[T, int]]:
    """The step now due, as ``(is_due(step), index)`` pairs, the first true one wins (−1: none):
    the most advanced step due. When several came due since the reached one, only the most
    advanced is taken (a catch-up)."""
    return [(is_due(step), index) for index, step in reversed(list(enumerate(policy.steps)))]


@dataclass(frozen=True)
class StepAhead:
    """The step a run takes next for an invoice: ``in_days`` from today (0: due now)."""

    index: int
    step: Step
    in_days: int


def next_step(
    policy: Policy,
    *,
    reached: int,
    days_past_due: int,
    conditions_hold: Callable[[Step], bool] | None = None,
) -> StepAhead | None:
    """The step of ``policy`` a run takes next for one open invoice at step ``reached`` (−1: none
    yet) and ``days_past_due`` today, and when: the step now due (``due_index_cases``) when it
    is beyond the reached one, today; else the first later step whose conditions hold, on its
    offset; None when there is none. ``conditions_hold``: the step's conditions on today's facts
    (None: taken to hold; the engine may still skip the step when they do not)."""

    def holds(step: Step) -> bool:
        return True if conditions_hold is None else conditions_hold(step)

    due = next(
        (
            index
            for is_due, index in due_index_cases(
                policy, lambda step: bool(step_is_due(step, days_past_due, holds(step)))
            )
            if is_due
        ),
        -1,
    )
    if due > reached:
        return StepAhead(due, policy.steps[due], 0)
    for index in range(max(due, reached) + 1, len(policy.steps)):
        step = policy.steps[index]
        if step.offset_days > days_past_due and holds(step):
            return StepAhead(index, step, step.offset_days - days_past_due)
    return None


# --------------------------------------------------------------------------- dict / YAML form


def _condition(data: Any, path: str, problems: Problems) -> Condition:
    if not isinstance(data, Mapping):
        problems.add(path, "a mapping with field, op, value", data)
        return Condition("amount_due", "ge", Decimal(0))
    check_known_keys(data, {"field", "op", "value"}, path, problems)
    field_name = text_at(data, "field", path, problems)
    if field_name.startswith(CUSTOM_PREFIX):
        if not CUSTOM_NAME.match(field_name[len(CUSTOM_PREFIX) :]):
            problems.add(
                f"{path}.field", "custom.NAME with NAME of lower-case letters, digits, _ and -", field_name
            )
    else:
        check_choice(field_name, (*CONDITION_FIELDS, "custom.NAME"), f"{path}.field", problems)
    operator = text_at(data, "op", path, problems)
    check_choice(operator, OPERATORS, f"{path}.op", problems)
    raw = data.get("value")
    value: Decimal | str | tuple[str, ...]
    if operator in ("in", "not_in"):
        if not isinstance(raw, list) or not all(isinstance(item, str | int) for item in raw):
            problems.add(f"{path}.value", "a list", raw)
            return Condition(field_name, operator, ())
        if field_name in NUMERIC_FIELDS:
            problems.add(f"{path}.op", "a comparison (eq, ne, lt, le, gt, ge) for a number", operator)
        value = tuple(str(item) for item in raw)
    elif field_name in NUMERIC_FIELDS:
        value = decimal_of(raw, f"{path}.value", problems)
        if field_name == "p_late" and isinstance(value, Decimal) and not Decimal(0) <= value <= Decimal(1):
            problems.add(f"{path}.value", "a probability from 0 to 1", raw)
    else:
        if operator not in ("eq", "ne"):
            problems.add(f"{path}.op", "eq, ne, in or not_in for a text field", operator)
        if not isinstance(raw, str):
            problems.add(f"{path}.value", "a text", raw)
            raw = ""
        value = raw
    return Condition(field_name, operator, value)


STEP_KEYS = {"key", "offset_days", "action", "channels", "template", "tone", "conditions", "description"}
CADENCE_KEYS = {
    "min_days_between",
    "phases",
    "max_contacts",
    "window_days",
    "small_balance",
    "promise_grace_days",
    "installment_reminder_days",
}
POLICY_KEYS = {"key", "name", "description", "steps", "cadence", "send_window", "business_days"}


def _weekdays(raw: Any, path: str, problems: Problems) -> tuple[int, ...]:
    if not isinstance(raw, list) or not raw:
        problems.add(path, "a non-empty list of weekdays (" + ", ".join(WEEKDAYS) + ")", raw)
        return ()
    days = []
    for position, name in enumerate(raw):
        if not isinstance(name, str) or name.lower() not in WEEKDAYS:
            problems.add(f"{path}[{position}]", "one of " + ", ".join(WEEKDAYS), name)
            continue
        day = WEEKDAYS.index(name.lower())
        if day in days:
            problems.add(f"{path}[{position}]", "each weekday once", name)
        days.append(day)
    return tuple(sorted(set(days)))


def _time(data: Mapping[str, Any], name: str, path: str, problems: Problems) -> time:
    raw = data.get(name)
    if isinstance(raw, str):
        try:
            return time.fromisoformat(raw)
        except ValueError:
            pass
    hint = " (quote it in YAML: unquoted 08:00 reads as a number)" if isinstance(raw, int) else ""
    problems.add(f"{path}.{name}", f'a time "HH:MM"{hint}', raw)
    return time(0)


def _send_window(data: Any, path: str, problems: Problems) -> SendWindow | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        problems.add(path, "a mapping with start, end, weekdays", data)
        return None
    check_known_keys(data, {"start", "end", "weekdays"}, path, problems)
    window = SendWindow(
        start=_time(data, "start", path, problems),
        end=_time(data, "end", path, problems),
        weekdays=_weekdays(data.get("weekdays", list(WEEKDAYS[:5])), f"{path}.weekdays", problems),
    )
    if window.end <= window.start:
        problems.add(f"{path}.end", f"a time after start ({window.start.strftime('%H:%M')})", data.get("end"))
    return window


def _business_days(data: Any, path: str, problems: Problems) -> BusinessDays | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        problems.add(path, "a mapping with weekdays, holidays", data)
        return None
    check_known_keys(data, {"weekdays", "holidays"}, path, problems)
    weekdays = _weekdays(data.get("weekdays", list(WEEKDAYS[:5])), f"{path}.weekdays", problems)
    holidays = data.get("holidays", HOLIDAYS_CUSTOMER)
    if not isinstance(holidays, str) or not (
        holidays in (HOLIDAYS_CUSTOMER, HOLIDAYS_NONE) or (len(holidays) == 2 and holidays.isalpha())
    ):
        problems.add(f"{path}.holidays", "customer, none or a two-letter country code", holidays)
        holidays = HOLIDAYS_NONE
    elif holidays not in (HOLIDAYS_CUSTOMER, HOLIDAYS_NONE):
        import holidays as holiday_calendars

        holidays = holidays.upper()
        if holidays not in holiday_calendars.list_supported_countries():
            problems.add(f"{path}.holidays", "a country the holidays library knows", holidays)
    return BusinessDays(weekdays=weekdays, holidays=holidays)


def _step(data: Any, path: str, problems: Problems) -> Step:
    if not isinstance(data, Mapping):
        problems.add(path, "a mapping", data)
        return Step("", 0, "message")
    check_known_keys(data, STEP_KEYS, path, problems)
    key = text_at(data, "key", path, problems)
    if not key or "," in key:
        problems.add(f"{path}.key", "a non-empty key without commas", key)
    action = text_at(data, "action", path, problems)
    check_choice(action, ACTIONS, f"{path}.action", problems)
    raw_channels = data.get("channels", [])
    channels: tuple[str, ...] = ()
    if not isinstance(raw_channels, list) or not all(isinstance(item, str) for item in raw_channels):
        problems.add(f"{path}.channels", "a list of channels", raw_channels)
    else:
        # A policy file written before the one vocabulary says ``phone`` for a call.
        channels = tuple(str(LEGACY_NAMES.get(item, item)) for item in raw_channels)
        for position, channel in enumerate(channels):
            check_choice(channel, CHANNELS, f"{path}.channels[{position}]", problems)
        if action in CONTACT_ACTIONS and not channels:
            problems.add(f"{path}.channels", f"at least one channel for a {action}", raw_channels)
    tone = text_at(data, "tone", path, problems, default="neutral")
    check_choice(tone, TONES, f"{path}.tone", problems)
    raw_conditions = data.get("conditions", [])
    if not isinstance(raw_conditions, list):
        problems.add(f"{path}.conditions", "a list", raw_conditions)
        raw_conditions = []
    conditions = tuple(
        _condition(item, f"{path}.conditions[{position}]", problems)
        for position, item in enumerate(raw_conditions)
    )
    return Step(
        key=key,
        offset_days=integer_at(data, "offset_days", path, problems),
        action=action,
        channels=channels,
        template_key=text_at(data, "template", path, problems, default=key),
        tone=tone,
        conditions=conditions,
        description=text_at(data, "description", path, problems, default=""),
    )


def _cadence(data: Any, path: str, problems: Problems) -> CadenceRules:
    if data is None:
        return CadenceRules()
    if not isinstance(data, Mapping):
        problems.add(path, "a mapping", data)
        return CadenceRules()
    check_known_keys(data, CADENCE_KEYS, path, problems)
    phases = []
    raw_phases = data.get("phases", [])
    if not isinstance(raw_phases, list):
        problems.add(f"{path}.phases", "a list", raw_phases)
        raw_phases = []
    for position, item in enumerate(raw_phases):
        phase_path = f"{path}.phases[{position}]"
        if not isinstance(item, Mapping):
            problems.add(phase_path, "a mapping with until_days_past_due, min_days_between", item)
            continue
        check_known_keys(item, {"until_days_past_due", "min_days_between"}, phase_path, problems)
        phases.append(
            CadencePhase(
                until_days_past_due=integer_at(item, "until_days_past_due", phase_path, problems),
                min_days_between=integer_at(item, "min_days_between", phase_path, problems),
            )
        )
    rules = CadenceRules(
        min_days_between=integer_at(data, "min_days_between", path, problems, default=0),
        phases=tuple(phases),
        max_contacts=integer_at(data, "max_contacts", path, problems, default=None),
        window_days=integer_at(data, "window_days", path, problems, default=30),
        small_balance=decimal_of(data.get("small_balance", 0), f"{path}.small_balance", problems),
        promise_grace_days=integer_at(data, "promise_grace_days", path, problems, default=3),
        installment_reminder_days=integer_at(data, "installment_reminder_days", path, problems, default=3),
    )
    for name in ("min_days_between", "window_days", "promise_grace_days", "installment_reminder_days"):
        if getattr(rules, name) < 0:
            problems.add(f"{path}.{name}", "zero or more", getattr(rules, name))
    if rules.max_contacts is not None and rules.max_contacts < 1:
        problems.add(f"{path}.max_contacts", "at least 1 (or nothing for no cap)", rules.max_contacts)
    if rules.window_days < 1:
        problems.add(f"{path}.window_days", "at least 1", rules.window_days)
    if rules.small_balance < 0:
        problems.add(f"{path}.small_balance", "zero or more", str(rules.small_balance))
    return rules


def policy_from_dict(data: Any) -> Policy:
    """A validated ``Policy`` from its dict form (what YAML gives); every problem is listed."""
    problems = Problems()
    if not isinstance(data, Mapping):
        raise ValidationFailed(ERROR_POLICY.format(key="?", problems=f"expected a mapping, found {data!r}"))
    check_known_keys(data, POLICY_KEYS, "policy", problems)
    key = text_at(data, "key", "policy", problems)
    name = text_at(data, "name", "policy", problems, default=key)
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.add("policy.steps", "a non-empty list of steps", raw_steps)
        raw_steps = []
    steps = tuple(_step(item, f"steps[{position}]", problems) for position, item in enumerate(raw_steps))
    seen: set[str] = set()
    for position, step in enumerate(steps):
        if step.key in seen:
            problems.add(f"steps[{position}].key", "a key not used by another step", step.key)
        seen.add(step.key)
        if position and step.offset_days < steps[position - 1].offset_days:
            problems.add(
                f"steps[{position}].offset_days",
                f"at least the previous step's ({steps[position - 1].offset_days}): steps are in order",
                step.offset_days,
            )
    cadence = _cadence(data.get("cadence"), "cadence", problems)
    send_window = _send_window(data.get("send_window"), "send_window", problems)
    business_days = _business_days(data.get("business_days"), "business_days", problems)
    if problems.items:
        raise ValidationFailed(ERROR_POLICY.format(key=key or "?", problems="; ".join(problems.items)))
    return Policy(
        key=key,
        name=name,
        steps=steps,
        cadence=cadence,
        description=text_at(data, "description", "policy", problems, ""),
        send_window=send_window,
        business_days=business_days,
    )


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    """The dict form of ``policy``: ``policy_from_dict(policy_to_dict(p)) == p``."""
    cadence = policy.cadence
    cadence_dict: dict[str, Any] = {
        "min_days_between": cadence.min_days_between,
        "phases": [
            {"until_days_past_due": phase.until_days_past_due, "min_days_between": phase.min_days_between}
            for phase in cadence.phases
        ],
        "max_contacts": cadence.max_contacts,
        "window_days": cadence.window_days,
        "small_balance": number_out(cadence.small_balance),
        "promise_grace_days": cadence.promise_grace_days,
        "installment_reminder_days": cadence.installment_reminder_days,
    }
    steps = []
    for step in policy.steps:
        item: dict[str, Any] = {
            "key": step.key,
            "offset_days": step.offset_days,
            "action": step.action,
            "channels": list(step.channels),
            "template": step.template_key,
            "tone": step.tone,
        }
        if step.conditions:
            item["conditions"] = [condition.to_dict() for condition in step.conditions]
        if step.description:
            item["description"] = step.description
        steps.append(item)
    result: dict[str, Any] = {"key": policy.key, "name": policy.name}
    if policy.description:
        result["description"] = policy.description
    result["cadence"] = cadence_dict
    if policy.send_window is not None:
        window = policy.send_window
        result["send_window"] = {
            "start": window.start.strftime("%H:%M"),
            "end": window.end.strftime("%H:%M"),
            "weekdays": [WEEKDAYS[day] for day in window.weekdays],
        }
    if policy.business_days is not None:
        result["business_days"] = {
            "weekdays": [WEEKDAYS[day] for day in policy.business_days.weekdays],
            "holidays": policy.business_days.holidays,
        }
    result["steps"] = steps
    return result
