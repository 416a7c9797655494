"""The policy step editor's form over the YAML, and the changes between two versions in words.

The YAML stays the one source: the form is built from the draft's dict form, and what is typed in
it is written back into that dict (the cadence, send window and business days the form does not
show pass through untouched), dumped as YAML and validated by the engine's ``policy_from_dict``
like any other edit. What is typed is kept as typed (a day offset of "soon" goes into the YAML as
"soon" and comes back as the engine's problem, shown next to the field in a sentence).

No Django here: the views and tests call these with plain values.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import Any

from relance.engine.dunning.policy import (
    ACTIONS,
    CHANNELS,
    NUMERIC_FIELDS,
    OPERATORS,
    TONES,
    WEEKDAYS,
    CadenceRules,
    Condition,
    Step,
)
from relance.engine.dunning.policy import Policy as EnginePolicy

STEP_FORM_FIELDS = (
    "key",
    "offset_days",
    "action",
    "channels",
    "template",
    "tone",
    "conditions",
    "description",
)
STEP_FIELD_LABELS = {
    "key": "The step key",
    "offset_days": "The day (from the due date)",
    "action": "The action",
    "channels": "The channels",
    "template": "The template",
    "tone": "The tone",
    "conditions": "The conditions",
    "description": "The description",
}
CHANNEL_LABELS = {
    "email": "e-mail",
    "sms": "SMS",
    "letter": "letter",
    "registered_letter": "registered letter",
    "call": "call",
}
OPERATOR_SYMBOLS = {
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "le": "≤",
    "gt": ">",
    "ge": "≥",
    "in": "in",
    "not_in": "not in",
}
CONDITION_SHAPE = (
    "Condition {number} needs a field, an operator and a value, as in “amount_due ge 1000” "
    "or “risk in high, medium”; it reads “{line}”."
)
NEW_STEP_DAYS_AFTER = 7
PROBLEM_PATH = re.compile(
    r"^steps\[(?P<index>\d+)\]\.(?P<field>\w+)(?:\[(?P<item>\d+)\])?(?:\.(?P<part>\w+))?$"
)


@dataclass
class StepRow:
    """One step as the form shows it: every value a text, as typed, with its problems by field."""

    key: str = ""
    offset_days: str = ""
    action: str = "message"
    channels: str = ""
    template: str = ""
    tone: str = "neutral"
    conditions: str = ""
    description: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error_list(self, name: str) -> list[str]:
        return self.errors.get(name, [])


# --------------------------------------------------------------------------- dict ⇄ form


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    return str(value)


def condition_line(condition: Mapping[str, Any]) -> str:
    """``{field, op, value}`` as the form's one line: ``amount_due ge 10000``, ``risk in high, low``."""
    return f"{_text(condition.get('field'))} {_text(condition.get('op'))} {_text(condition.get('value'))}".strip()


def step_rows_from_spec(spec: Mapping[str, Any]) -> list[StepRow]:
    """The form's rows for the draft's steps (a dict as YAML gives it, valid or not)."""
    rows = []
    for step in spec.get("steps") or []:
        if not isinstance(step, Mapping):
            step = {}
        conditions = step.get("conditions") or []
        rows.append(
            StepRow(
                key=_text(step.get("key")),
                offset_days=_text(step.get("offset_days")),
                action=_text(step.get("action")),
                channels=_text(step.get("channels")),
                template=_text(step.get("template")),
                tone=_text(step.get("tone", "neutral")),
                conditions="\n".join(
                    condition_line(item) if isinstance(item, Mapping) else _text(item) for item in conditions
                ),
                description=_text(step.get("description")),
            )
        )
    return rows


def step_rows_from_form(data: Mapping[str, Any]) -> list[StepRow]:
    """The rows posted as ``steps-N-<field>`` (N from 0 to ``steps-count`` − 1), as typed."""
    try:
        count = max(0, min(int(str(data.get("steps-count", "0"))), 200))
    except ValueError:
        count = 0

    def typed(index: int, name: str) -> str:
        return str(data.get(f"steps-{index}-{name}", "")).strip()

    return [
        StepRow(
            key=typed(index, "key"),
            offset_days=typed(index, "offset_days"),
            action=typed(index, "action"),
            channels=typed(index, "channels"),
            template=typed(index, "template"),
            tone=typed(index, "tone"),
            conditions=typed(index, "conditions"),
            description=typed(index, "description"),
        )
        for index in range(count)
    ]


def _number_or_text(value: str) -> int | str:
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    return int(number) if number == number.to_integral_value() and "." not in value else value


def _condition(line: str, number: int, row: StepRow) -> dict[str, Any] | None:
    parts = line.split(None, 2)
    if len(parts) < 3:
        row.errors.setdefault("conditions", []).append(CONDITION_SHAPE.format(number=number, line=line))
        return None
    name, operator, raw = parts
    value: Any
    if operator in ("in", "not_in"):
        value = [item.strip() for item in raw.split(",") if item.strip()]
    elif name in NUMERIC_FIELDS:
        value = _number_or_text(raw.strip())
    else:
        value = raw.strip()
    return {"field": name, "op": operator, "value": value}


def step_dict(row: StepRow) -> dict[str, Any]:
    """The YAML form of one row; what cannot even be shaped is noted on the row (the rest is left
    to the engine's validation, which sees exactly what was typed)."""
    offset: Any = row.offset_days
    if re.fullmatch(r"[+-]?\d+", row.offset_days):
        offset = int(row.offset_days)
    item: dict[str, Any] = {
        "key": row.key,
        "offset_days": offset,
        "action": row.action,
        "channels": [part.strip() for part in re.split(r"[,+]", row.channels) if part.strip()],
        "template": row.template or row.key,
        "tone": row.tone or "neutral",
    }
    conditions = [
        made
        for number, line in enumerate((ln.strip() for ln in row.conditions.splitlines() if ln.strip()), 1)
        if (made := _condition(line, number, row)) is not None
    ]
    if conditions:
        item["conditions"] = conditions
    if row.description:
        item["description"] = row.description
    return item


def spec_with_rows(
    base: Mapping[str, Any], *, name: str, description: str, rows: list[StepRow]
) -> dict[str, Any]:
    """``base`` (the draft the form was shown from) with the form's name, description and steps."""
    spec = {key: value for key, value in base.items() if key not in ("name", "description", "steps")}
    result: dict[str, Any] = {"key": base.get("key"), "name": name}
    if description:
        result["description"] = description
    result.update({key: value for key, value in spec.items() if key != "key"})
    result["steps"] = [step_dict(row) for row in rows]
    return result


def rows_apply(operation: str, rows: list[StepRow]) -> list[StepRow]:
    """``add``, ``remove-N``, ``up-N`` or ``down-N`` (N from 0) on the rows; anything else: as is."""
    rows = list(rows)
    verb, _, raw_index = operation.partition("-")
    if verb == "add":
        keys = {row.key for row in rows}
        number = len(rows) + 1
        while f"step_{number}" in keys:
            number += 1
        last = rows[-1].offset_days if rows else "0"
        offset = int(last) + NEW_STEP_DAYS_AFTER if re.fullmatch(r"[+-]?\d+", last) else NEW_STEP_DAYS_AFTER
        rows.append(
            StepRow(
                key=f"step_{number}", offset_days=str(offset), channels="email", template=f"step_{number}"
            )
        )
        return rows
    if not raw_index.isdigit() or int(raw_index) >= len(rows):
        return rows
    index = int(raw_index)
    if verb == "remove":
        del rows[index]
    elif verb == "up" and index > 0:
        rows[index - 1], rows[index] = rows[index], rows[index - 1]
    elif verb == "down" and index < len(rows) - 1:
        rows[index + 1], rows[index] = rows[index], rows[index + 1]
    return rows


# --------------------------------------------------------------------------- problems in sentences


def problem_sentence(label: str, message: str) -> str:
    """``expected an integer, found 'soon'`` about ``label`` as a sentence people read."""
    expected, found = message, ""
    if message.startswith("expected "):
        expected = message[len("expected ") :]
        if ", found " in expected:
            expected, found = expected.rsplit(", found ", 1)
    if found == "'an unknown key'":
        return f"{label} is not something a policy has (expected {expected})."
    if found in ("", "nothing", "'nothing'", "None"):
        return f"{label} is missing: it must be {expected}."
    return f"{label} must be {expected}; it is {found}."


def problems_on_rows(problems: list[Any], rows: list[StepRow]) -> list[str]:
    """Put each engine problem (``PolicyProblem``: field path and message) on its row and field;
    return, as sentences, those that are about no step field (name, cadence, the whole list)."""
    general = []
    for problem in problems:
        match = PROBLEM_PATH.match(problem.field or "")
        if match is None or int(match.group("index")) >= len(rows):
            label = f"“{problem.field}”" if problem.field else "The policy"
            general.append(problem_sentence(label, problem.message))
            continue
        row, name = rows[int(match.group("index"))], match.group("field")
        label = STEP_FIELD_LABELS.get(name, f"“{name}”")
        if match.group("item") is not None:
            number = int(match.group("item")) + 1
            label = {
                "channels": f"Channel {number}",
                "conditions": f"Condition {number}"
                + (f"'s {match.group('part')}" if match.group("part") else ""),
            }.get(name, label)
        row.errors.setdefault(name if name in STEP_FORM_FIELDS else "key", []).append(
            problem_sentence(label, problem.message)
        )
    return general


# --------------------------------------------------------------------------- changes in words


def channels_text(channels: tuple[str, ...] | list[str]) -> str:
    return " + ".join(CHANNEL_LABELS.get(channel, channel) for channel in channels) or "no channel"


def condition_text(condition: Condition) -> str:
    value = condition.value
    shown = ", ".join(value) if isinstance(value, tuple) else str(value)
    return f"{condition.field.replace('_', ' ')} {OPERATOR_SYMBOLS.get(condition.operator, condition.operator)} {shown}"


def conditions_text(conditions: tuple[Condition, ...]) -> str:
    return " and ".join(condition_text(condition) for condition in conditions) or "none"


def step_text(step: Step) -> str:
    """``day 14, message by e-mail + SMS (template overdue_firm, firm)``."""
    how = f" by {channels_text(step.channels)}" if step.channels else ""
    text = f"day {step.offset_days}, {step.action.replace('_', ' ')}{how} (template {step.template_key}, {step.tone})"
    if step.conditions:
        text += f" when {conditions_text(step.conditions)}"
    return text


def _step_changes(old: Step, new: Step) -> list[str]:
    parts = []
    if old.offset_days != new.offset_days:
        parts.append(f"day {old.offset_days} → day {new.offset_days}")
    if old.action != new.action:
        parts.append(f"action {old.action.replace('_', ' ')} → {new.action.replace('_', ' ')}")
    if old.channels != new.channels:
        parts.append(f"channel {channels_text(old.channels)} → {channels_text(new.channels)}")
    if old.template_key != new.template_key:
        parts.append(f"template {old.template_key} → {new.template_key}")
    if old.tone != new.tone:
        parts.append(f"tone {old.tone} → {new.tone}")
    if old.conditions != new.conditions:
        parts.append(f"conditions {conditions_text(old.conditions)} → {conditions_text(new.conditions)}")
    if old.description != new.description:
        parts.append("description changed")
    return parts


def _days(weekdays: tuple[int, ...]) -> str:
    return ", ".join(WEEKDAYS[day] for day in weekdays)


def _calendar_changes(old: EnginePolicy, new: EnginePolicy) -> list[str]:
    lines = []
    if old.send_window != new.send_window:

        def window(value: Any) -> str:
            if value is None:
                return "none"
            return f"{value.start:%H:%M}–{value.end:%H:%M} on {_days(value.weekdays)}"

        lines.append(f"Send window: {window(old.send_window)} → {window(new.send_window)}")
    if old.business_days != new.business_days:

        def business(value: Any) -> str:
            return "none" if value is None else f"{_days(value.weekdays)}, holidays {value.holidays}"

        lines.append(f"Business days: {business(old.business_days)} → {business(new.business_days)}")
    return lines


def _cadence_changes(old: CadenceRules, new: CadenceRules) -> list[str]:
    lines = []
    for item in fields(CadenceRules):
        before, after = getattr(old, item.name), getattr(new, item.name)
        if before == after:
            continue
        if item.name == "phases":

            def phases(value: Any) -> str:
                shown = [f"{p.min_days_between} days until day {p.until_days_past_due}" for p in value]
                return "; ".join(shown) or "none"

            before, after = phases(before), phases(after)
        lines.append(f"Cadence: {item.name.replace('_', ' ')} {_shown(before)} → {_shown(after)}")
    return lines


def _shown(value: Any) -> str:
    return "no cap" if value is None else str(value)


def policy_changes(old: EnginePolicy, new: EnginePolicy) -> list[str]:
    """What changes from ``old`` to ``new``, one sentence per step or setting, in the new order.

    Steps are matched by **key**, as the engine matches the steps invoices reached: a step whose
    key changed reads as one removed and one added, which is also what the run will do.
    """
    lines = []
    if old.name != new.name:
        lines.append(f"Name: {old.name} → {new.name}")
    if old.description != new.description:
        lines.append("Description changed")
    lines += _cadence_changes(old.cadence, new.cadence)
    lines += _calendar_changes(old, new)
    old_steps = {step.key: (index, step) for index, step in enumerate(old.steps)}
    new_keys = {step.key for step in new.steps}
    common_old = [step.key for step in old.steps if step.key in new_keys]
    common_new = [step.key for step in new.steps if step.key in old_steps]
    for index, step in enumerate(new.steps):
        label = f"Step {index + 1} ({step.key})"
        if step.key not in old_steps:
            lines.append(f"{label} added: {step_text(step)}")
            continue
        old_index, old_step = old_steps[step.key]
        parts = _step_changes(old_step, step)
        if common_old.index(step.key) != common_new.index(step.key):
            parts.insert(0, f"moved from step {old_index + 1}")
        if parts:
            lines.append(f"{label}: " + "; ".join(parts))
    for index, step in enumerate(old.steps):
        if step.key not in new_keys:
            lines.append(f"Step {index + 1} ({step.key}) removed (was {step_text(step)})")
    return lines


@dataclass(frozen=True)
class DiffLine:
    """One line of a unified diff: ``kind`` is ``add``, ``remove``, ``hunk``, ``file`` or ``same``."""

    kind: str
    text: str


def yaml_diff(old_text: str, new_text: str, *, old_label: str, new_label: str) -> list[DiffLine]:
    """The unified diff (difflib) of two YAML texts, each line with its kind for the page."""
    lines = []
    for line in difflib.unified_diff(
        old_text.splitlines(), new_text.splitlines(), fromfile=old_label, tofile=new_label, lineterm=""
    ):
        if line.startswith(("---", "+++")):
            kind = "file"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "remove"
        else:
            kind = "same"
        lines.append(DiffLine(kind, line))
    return lines


FORM_CHOICES = {"actions": ACTIONS, "channels": CHANNELS, "tones": TONES, "operators": OPERATORS}
