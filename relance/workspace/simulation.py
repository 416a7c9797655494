"""'What would tomorrow's run do': the engine's decisions for a policy on today's ledger, saving nothing.

The engine's ``decide`` is pure; what ``run_start`` does around it (settle promises and
installments) writes, so the simulation does that inside a transaction it always rolls back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml
from django.db import transaction

from relance.core.errors import ValidationFailed
from relance.engine.dunning.policy import Policy as EnginePolicy
from relance.engine.dunning.policy import policy_from_dict
from relance.ledger.models import Customer, Entity

PROBLEM_PATH = __import__("re").compile(
    r"(?P<path>[A-Za-z_][\w.\[\]]*): expected (?P<rest>.*?)(?=; [A-Za-z_][\w.\[\]]*: expected |$)"
)


@dataclass(frozen=True)
class PolicyProblem:
    """One validation problem, with the line of the YAML text it points at (0: not located)."""

    line: int
    field: str
    message: str


def _node_lines(text: str) -> dict[str, int]:
    """``path → 1-based line`` for every mapping key and list item of a YAML document."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    lines: dict[str, int] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = f"{path}.{key.value}" if path else str(key.value)
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = f"{path}[{index}]"
                lines[child] = item.start_mark.line + 1
                walk(item, child)

    if root is not None:
        walk(root, "")
    return lines


def policy_problems(*, text: str, message: str) -> list[PolicyProblem]:
    """Split the engine's one-line error into problems, each located on its line of ``text``."""
    lines = _node_lines(text)
    body = message.split(": ", 1)[1] if message.startswith("policy ") else message
    problems = []
    for match in PROBLEM_PATH.finditer(body):
        path = match.group("path")
        located = path.removeprefix("policy.")
        line = 0
        probe = located
        while probe:
            if probe in lines:
                line = lines[probe]
                break
            probe = (
                probe.rsplit(".", 1)[0] if "." in probe else (probe.rsplit("[", 1)[0] if "[" in probe else "")
            )
        problems.append(PolicyProblem(line, located, f"expected {match.group('rest')}"))
    if not problems:
        problems.append(PolicyProblem(0, "", body))
    return problems


def policy_parse(
    *, text: str, key: str
) -> tuple[EnginePolicy | None, dict[str, Any] | None, list[PolicyProblem]]:
    """The edited YAML as an engine policy, or the problems (line, field, message). The key is fixed."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, None, [PolicyProblem(mark.line + 1 if mark else 0, "", f"not valid YAML: {exc}")]
    if not isinstance(data, dict):
        return None, None, [PolicyProblem(1, "", "expected a mapping with key, name, steps, cadence")]
    if data.get("key", key) != key:
        return (
            None,
            None,
            [
                PolicyProblem(
                    _node_lines(text).get("key", 0), "key", f"expected {key!r} (the key cannot change here)"
                )
            ],
        )
    data.setdefault("key", key)
    try:
        return policy_from_dict(data), data, []
    except ValidationFailed as exc:
        return None, data, policy_problems(text=text, message=exc.message)


@dataclass(frozen=True)
class Simulation:
    as_of: date
    policy_key: str
    decisions: int
    by_step_channel: list[tuple[str, str, str, int]]
    suppressed: dict[str, int]
    samples: list[dict[str, Any]] = field(default_factory=list)
    customers_on_policy: int = 0
    #: customer id → (step key, action, channel) of the most advanced step the run would take
    contacts: dict[int, tuple[str, str, str]] = field(default_factory=dict)


def simulate(*, entity: Entity, as_of: date, policy: EnginePolicy, samples: int = 3) -> Simulation:
    """What a run of ``entity`` on ``as_of`` would decide with ``policy`` in place of the stored
    one of the same key, for the customers that follow it. Nothing is written."""
    from relance.cases.services import plan_installments_settle
    from relance.comms.services import message_render
    from relance.dunning.binding import app_dunning_tables
    from relance.dunning.selectors import policy_map
    from relance.dunning.services import promise_settle, run_instant
    from relance.engine.dunning.decide import decide

    policies = dict(policy_map(entity=entity))
    policies[policy.key] = policy
    with transaction.atomic():
        plan_installments_settle(entity=entity, as_of=as_of)
        promise_settle(entity=entity, as_of=as_of, policies=policies)
        backend, tables = app_dunning_tables(entity=entity)
        result = decide(tables, policies, as_of=as_of, backend=backend, run_at=run_instant(entity, as_of))
        rows = [row for row in result.decisions.to_pylist() if row["policy_key"] == policy.key]
        suppressed = Counter(row["reason"] for row in result.suppressed.to_pylist())
        counts = Counter((row["step_key"], row["action"], row["channel"] or "—") for row in rows)
        rendered = []
        for row in [r for r in rows if r["template_key"] and r["channel"]][:samples]:
            customer = Customer.objects.select_related("entity").get(pk=row["customer_id"])
            try:
                message = message_render(
                    customer=customer,
                    template_key=row["template_key"],
                    channel=row["channel"],
                    as_of=as_of,
                    preview=True,
                )
                rendered.append(
                    {
                        "customer": customer,
                        "step": row["step_key"],
                        "channel": row["channel"],
                        "subject": message.subject,
                        "text": message.text,
                        "error": "",
                    }
                )
            except Exception as exc:
                rendered.append(
                    {
                        "customer": customer,
                        "step": row["step_key"],
                        "channel": row["channel"],
                        "error": str(exc),
                    }
                )
        transaction.set_rollback(True)
    return Simulation(
        as_of=as_of,
        policy_key=policy.key,
        decisions=len(rows),
        by_step_channel=sorted(
            ((step, action, channel, count) for (step, action, channel), count in counts.items()),
            key=lambda item: (
                [s.key for s in policy.steps].index(item[0])
                if item[0] in [s.key for s in policy.steps]
                else 99,
                item[2],
            ),
        ),
        suppressed=dict(sorted(suppressed.items())),
        samples=rendered,
        contacts=_contacts(rows, policy),
    )


def _contacts(rows: list[dict[str, Any]], policy: EnginePolicy) -> dict[int, tuple[str, str, str]]:
    """Per customer, the most advanced step of ``policy`` among the run's decisions for them."""
    order = {step.key: index for index, step in enumerate(policy.steps)}
    contacts: dict[int, tuple[str, str, str]] = {}
    for row in rows:
        customer_id = int(row["customer_id"])
        chosen = contacts.get(customer_id)
        if chosen is None or order.get(row["step_key"], -1) > order.get(chosen[0], -1):
            contacts[customer_id] = (row["step_key"], row["action"], row["channel"] or "")
    return contacts
