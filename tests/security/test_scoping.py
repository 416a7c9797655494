"""Finding 4 of issue 12, as reported: the sales role read another owner's preview and dispute
list, and a POST wrote off another owner's dispute. Lists are checked by content here (the
permission matrix checks statuses)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client

from tests.workspace.conftest import PASSWORD, build_workspace


@pytest.fixture
def scoped(db):
    from relance.accounts.services import user_create
    from relance.cases.models import Dispute

    ws = build_workspace()
    sam = user_create(email="sam@acme.test", role="sales", entity_names=["acme"], password=PASSWORD)
    sid = user_create(email="sid@acme.test", role="sales", entity_names=["acme"], password=PASSWORD)
    for customer, owner in ((ws.late, sam), (ws.other, sid)):
        customer.sales_owner = owner
        customer.save(update_fields=["sales_owner"])
    disputes = {
        customer.external_ref: Dispute.objects.create(
            entity=ws.acme,
            customer=customer,
            invoice=customer.invoices.order_by("id").first(),
            amount=Decimal("10.00"),
            reason_code="pricing",
            opened_on=ws.today - timedelta(days=2),
        )
        for customer in (ws.late, ws.other)
    }
    client = Client()
    client.force_login(sam)
    return ws, client, disputes


def test_sales_lists_only_its_own_disputes(scoped):
    ws, client, _disputes = scoped
    for path in ("/w/disputes/",):  # the one queue (/portal/back/disputes/ redirects to it)
        page = client.get(path).content.decode()
        assert ws.late.name in page, path
        assert ws.other.name not in page, path


def test_sales_cannot_write_off_another_owners_dispute(scoped):
    from relance.cases.models import DisputeStatus

    ws, client, disputes = scoped
    theirs = disputes[ws.other.external_ref]
    confirmed = {"resolution": "write_off", "confirm": "yes"}
    response = client.post(f"/w/disputes/{theirs.pk}/resolve/", confirmed)
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == DisputeStatus.OPEN and theirs.resolution == ""
    # Its own: the role does not resolve disputes at all.
    mine = disputes[ws.late.external_ref]
    assert client.post(f"/w/disputes/{mine.pk}/resolve/", confirmed).status_code == 403
    mine.refresh_from_db()
    assert mine.status == DisputeStatus.OPEN


def test_sales_previews_only_its_own_accounts(scoped):
    ws, client, _disputes = scoped
    assert client.get("/comms/preview/", {"customer": ws.late.external_ref}).status_code == 200
    assert client.get("/comms/preview/", {"customer": ws.other.external_ref}).status_code == 404
    assert client.get("/comms/preview/frame/", {"customer": ws.other.external_ref}).status_code == 404
