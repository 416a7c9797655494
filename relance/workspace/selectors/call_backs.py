"""Call backs due: the calls a collector promised to make."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from relance.accounts.selectors import customer_scope
from relance.ledger.models import Entity


@dataclass(frozen=True)
class CallBack:
    """A call the user said they would make ("call back on…"), due today or overdue."""

    task_id: int
    customer_id: int
    customer_name: str
    customer_ref: str
    due_on: date
    script: str
    phone: str
    days_overdue: int

    @property
    def state(self) -> str:
        return "overdue" if self.days_overdue > 0 else "due today"


CALL_BACKS_SHOWN = 50


def call_backs_due(*, user: Any, today: date, entity: Entity | None = None) -> list[CallBack]:
    """The open call tasks assigned to ``user`` due by ``today`` (overdue first), on customers
    they may see: what the worklist and My accounts put first. A task shows from its day on and
    is done when the next outcome of its customer is logged."""
    from relance.delivery.models import CallTask, CallTaskStatus

    tasks = CallTask.objects.filter(assigned_to=user, status=CallTaskStatus.OPEN, due_on__lte=today)
    if entity is not None:
        tasks = tasks.filter(entity=entity)
    tasks = customer_scope(user, tasks, customer_field="customer").select_related("customer")
    return [
        CallBack(
            task.pk,
            task.customer_id,
            task.customer.name,
            task.customer.external_ref,
            task.due_on,
            task.script,
            task.phone,
            (today - task.due_on).days,
        )
        for task in tasks.order_by("due_on", "id")[:CALL_BACKS_SHOWN]
    ]
