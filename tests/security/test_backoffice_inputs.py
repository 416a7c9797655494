"""The workspace's outcome form takes amounts too: the portal's amount corpus is a form error there."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from tests.security.corpus import lines
from tests.workspace.conftest import build_workspace


@pytest.mark.django_db
def test_a_promise_for_a_strange_amount_in_the_workspace_is_refused_not_a_server_error():
    from relance.cases.models import Promise

    ws = build_workspace()
    client = Client(raise_request_exception=False)
    client.force_login(ws.ana)
    for amount in lines("portal/amounts.txt"):
        response = client.post(
            f"/w/customers/{ws.late.pk}/outcome/",
            {"outcome": "promise", "promised_date": str(ws.today + timedelta(days=5)), "amount": amount},
        )
        # recorded (302), or refused with the form shown again and the error by the amount (400)
        assert response.status_code in (302, 400), (amount, response.status_code)
        if response.status_code == 400:
            assert 'class="field-error"' in response.content.decode(), amount
    assert not Promise.objects.filter(amount__lt=0).exists()
    assert all(promise.amount.is_finite() for promise in Promise.objects.all())
