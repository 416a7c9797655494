"""Phone calls are made by people: a ``call`` message becomes a task for the customer's collector.

The task carries the number to dial and the talking script (the message's text, rendered from the
step's template). Creating it is the delivery; the task is one-to-one with the message, so a
second send of the same message finds the task already there instead of making another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from relance.delivery.channels.base import ChannelBackend, DeliveryReceipt

if TYPE_CHECKING:
    from relance.delivery.models import CallTask, OutboundMessage


def _phone(message: OutboundMessage) -> str:
    contact = message.contact
    if contact is not None and contact.phone:
        return contact.phone
    recipient = (message.recipient or "").strip()
    return recipient if recipient.startswith("+") and len(recipient) <= 20 else ""


class CallTaskChannel(ChannelBackend):
    channel = "call"
    provider = "call-task"

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        task = self.task_for(message)
        return DeliveryReceipt(
            provider=self.provider, provider_message_id=f"call-task-{task.pk}", delivered=True
        )

    @staticmethod
    def task_for(message: OutboundMessage) -> CallTask:
        """The message's call task, created on first delivery (assigned to the collector, due today)."""
        from relance.compliance.selectors import entity_today
        from relance.delivery.models import CallTask

        existing = CallTask.objects.filter(message=message).first()
        if existing is not None:
            return existing
        customer = message.customer
        try:
            with transaction.atomic():
                return CallTask.objects.create(
                    entity_id=message.entity_id,
                    customer=customer,
                    contact=message.contact,
                    message=message,
                    assigned_to_id=customer.collector_id,
                    due_on=entity_today(customer=customer, now=timezone.now()),
                    phone=_phone(message),
                    script=message.body_text,
                )
        except IntegrityError:  # another worker created it in the meantime
            return CallTask.objects.get(message=message)
