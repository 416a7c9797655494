"""The call-task and portal channel backends."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings
from django.utils import timezone

from relance.delivery.channels import get_channel_backend
from relance.delivery.channels.call import CallTaskChannel
from relance.delivery.channels.portal import PortalChannel
from relance.delivery.models import CallTask

CHANNELS = {
    "call": "relance.delivery.channels.call.CallTaskChannel",
    "portal": "relance.delivery.channels.portal.PortalChannel",
}


@pytest.fixture
def collector(db):
    return get_user_model().objects.create_user("carl", "carl@acme.test", "pw")


@override_settings(RELANCE_CHANNELS=CHANNELS)
def test_a_call_message_becomes_one_task_for_the_collector(
    make_customer, make_contact, make_message, collector
):
    customer = make_customer("C1", collector=collector)
    contact = make_contact(customer, phone="+33611111111")
    message = make_message(
        customer, channel="call", contact=contact, body_text="Hello, this is ACME about INV-1."
    )
    backend = get_channel_backend("call")
    assert isinstance(backend, CallTaskChannel)
    with backend:
        receipt = backend.send(message)
        again = backend.send(message)  # a resend finds the same task
    task = CallTask.objects.get()
    assert receipt.delivered and receipt == again and receipt.provider_message_id == f"call-task-{task.pk}"
    assert task.message == message and task.assigned_to == collector and task.contact == contact
    assert (task.phone, task.script, task.status) == (
        "+33611111111",
        "Hello, this is ACME about INV-1.",
        "open",
    )
    assert task.due_on == timezone.now().date()  # the entity's zone is UTC


def test_a_call_without_contact_takes_the_number_from_the_recipient(make_customer, make_message):
    customer = make_customer("C1")
    message = make_message(customer, channel="call", recipient="+33622222222")
    task = CallTaskChannel.task_for(message)
    assert task.phone == "+33622222222" and task.assigned_to is None


@override_settings(RELANCE_CHANNELS=CHANNELS)
def test_a_portal_notification_is_delivered_by_being_accepted(make_customer, make_message):
    message = make_message(make_customer("C1"), channel="portal", recipient="portal")
    backend = get_channel_backend("portal")
    assert isinstance(backend, PortalChannel)
    receipt = backend.send(message)
    assert (
        receipt.delivered
        and receipt.provider == "portal"
        and receipt.provider_message_id == message.message_id
    )
