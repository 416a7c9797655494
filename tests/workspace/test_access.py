"""Role limits: collectors cannot edit policies, auditors change nothing, entity A never sees entity B."""

from __future__ import annotations

import pytest
from django.urls import reverse

from relance.cases.models import Promise


def test_pages_need_a_login(client, ws):
    for url in [
        reverse("workspace:worklist"),
        reverse("workspace:customer", args=[ws.late.pk]),
        reverse("workspace:search"),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_collector_cannot_edit_policies(ws, client_for):
    ana = client_for(ws.ana)
    edit = reverse("workspace:policy_edit", args=[ws.policy.pk])
    assert ana.get(edit).status_code == 403
    assert ana.post(edit, {"spec": "key: standard", "save": "1"}).status_code == 403
    # the simulation of the stored policy is readable, an edited one is not
    simulate = reverse("workspace:policy_simulate", args=[ws.policy.pk])
    assert ana.post(simulate, {"spec": "key: standard"}).status_code == 403
    ws.policy.refresh_from_db()
    assert ws.policy.version == 1


@pytest.mark.parametrize(
    "name,data",
    [
        ("customer_outcome", {"outcome": "no_answer"}),
        ("customer_note", {"text": "hello"}),
        ("customer_reassign", {"collector": ""}),
        ("worklist_snooze", {"until": "2099-01-01"}),
    ],
)
def test_auditor_cannot_post_anything(ws, client_for, name, data):
    auditor = client_for(ws.auditor)
    assert auditor.get(reverse("workspace:customer", args=[ws.late.pk])).status_code == 200
    response = auditor.post(reverse(f"workspace:{name}", args=[ws.late.pk]), data)
    assert response.status_code == 403
    assert not ws.late.contact_logs.exists()
    assert not ws.late.workspace_notes.exists()


def test_auditor_cannot_post_bulk_or_policies(ws, client_for):
    auditor = client_for(ws.auditor)
    bulk = auditor.post(reverse("workspace:worklist_bulk"), {"customer": [ws.late.pk], "action": "statement"})
    assert bulk.status_code == 403
    assert (
        auditor.post(reverse("workspace:policy_edit", args=[ws.policy.pk]), {"save": "1"}).status_code == 403
    )


def test_entity_a_never_sees_entity_b(ws, client_for):
    globex = client_for(ws.globex_manager)
    # customer page, its parts and its actions: 404, as for a customer that does not exist
    for name in ("customer", "customer_behaviour", "customer_next"):
        assert globex.get(reverse(f"workspace:{name}", args=[ws.late.pk])).status_code == 404
    assert (
        globex.post(
            reverse("workspace:customer_outcome", args=[ws.late.pk]), {"outcome": "promise"}
        ).status_code
        == 404
    )
    assert globex.get(reverse("workspace:policy_simulate", args=[ws.policy.pk])).status_code == 404
    # worklist: only globex's customers
    html = globex.get(reverse("workspace:worklist")).content.decode()
    assert "Globex Buyer LLC" in html and "Late Payer GmbH" not in html
    assert (
        globex.get(reverse("workspace:worklist"), {"entity": "acme"}).content.decode().count("Late Payer")
        == 0
    )
    # search: nothing of acme, by name, reference, invoice number or amount
    for query in ("Late Payer", "C-LATE", "INV-L1", "4200.00"):
        assert globex.get(reverse("workspace:search"), {"q": query}).json()["results"] == []
    assert globex.get(reverse("workspace:search"), {"q": "4200", "entity": "acme"}).json()["results"] == []
    # and acme's manager sees nothing of globex
    acme = client_for(ws.manager)
    assert acme.get(reverse("workspace:customer", args=[ws.globex_customer.pk])).status_code == 404
    assert acme.get(reverse("workspace:search"), {"q": "777"}).json()["results"] == []
    # bulk actions ignore customers of other entities
    globex.post(
        reverse("workspace:worklist_bulk"), {"customer": [ws.late.pk], "action": "assign", "collector": ""}
    )
    ws.late.refresh_from_db()
    assert ws.late.collector == ws.ana
    assert not Promise.objects.exists()


def test_collector_cannot_reassign(ws, client_for):
    response = client_for(ws.ana).post(
        reverse("workspace:customer_reassign", args=[ws.late.pk]), {"collector": ws.bob.pk}
    )
    assert response.status_code == 403
    ws.late.refresh_from_db()
    assert ws.late.collector == ws.ana
