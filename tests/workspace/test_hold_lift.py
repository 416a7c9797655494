"""Ending a hold early from the workspace: who may, what it writes, and the run chasing again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from relance.audit.models import AuditEvent
from relance.cases.models import CustomerHold
from relance.cases.services import HOLD_ALREADY_OVER
from relance.dunning.models import DunningAction
from relance.workspace.hold_services import HOLD_LIFT_AUDIT_ACTION
from tests.workspace.test_holds import _hold

pytestmark = pytest.mark.django_db


def _lift(client, hold):
    return client.post(reverse("workspace:customer_hold_lift", args=[hold.customer_id, hold.pk]))


def test_the_sales_owner_lifts_their_own_hold_and_the_run_chases_again(ws, sales, client_for):
    from relance.dunning.services import run_start

    sam, _, _ = sales
    client = client_for(sam)
    _hold(client, ws.late, reason="meeting on Friday", days="7")
    hold = CustomerHold.objects.get(customer=ws.late)
    page = client.get(reverse("workspace:customer", args=[ws.late.pk])).content.decode()
    assert "Lift now" in page
    assert _lift(client, hold).status_code == 302
    hold.refresh_from_db()
    assert hold.ends_on == ws.today - timedelta(days=1)  # not in force today
    event = AuditEvent.objects.get(action=HOLD_LIFT_AUDIT_ACTION)
    assert event.actor_user == sam and event.after["ends_on"] == hold.ends_on.isoformat()
    assert event.before["ends_on"] == (ws.today + timedelta(days=7)).isoformat()
    outcome = run_start(entity=ws.acme, as_of=ws.today + timedelta(days=1))
    assert DunningAction.objects.filter(run=outcome.run, customer=ws.late).exists()


def test_a_credit_manager_lifts_anyones_hold_an_auditor_none(
    ws,
    sales,
    client_for,
):
    sam, _, _ = sales
    _hold(client_for(sam), ws.late, reason="meeting on Friday", days="7")
    hold = CustomerHold.objects.get(customer=ws.late)
    assert _lift(client_for(ws.auditor), hold).status_code == 403
    hold.refresh_from_db()
    assert hold.ends_on == ws.today + timedelta(days=7)
    assert _lift(client_for(ws.manager), hold).status_code == 302
    hold.refresh_from_db()
    assert hold.ends_on < ws.today


def test_another_accounts_hold_id_is_404(ws, sales, client_for):
    sam, _, _ = sales
    _hold(client_for(sam), ws.late, reason="meeting on Friday", days="7")
    hold = CustomerHold.objects.get(customer=ws.late)
    wrong = reverse("workspace:customer_hold_lift", args=[ws.second.pk, hold.pk])
    assert client_for(ws.manager).post(wrong).status_code == 404
    assert (
        client_for(ws.globex_manager)
        .post(reverse("workspace:customer_hold_lift", args=[ws.late.pk, hold.pk]))
        .status_code
        == 404
    )  # another entity's user: the customer itself is not found


def test_a_hold_already_over_is_said_so(ws, sales, client_for):
    sam, _, _ = sales
    client = client_for(sam)
    _hold(client, ws.late, reason="meeting on Friday", days="7")
    hold = CustomerHold.objects.get(customer=ws.late)
    _lift(client, hold)
    response = client.post(reverse("workspace:customer_hold_lift", args=[ws.late.pk, hold.pk]), follow=True)
    ended = (ws.today - timedelta(days=1)).isoformat()
    assert HOLD_ALREADY_OVER.format(ends=ended) in response.content.decode()
