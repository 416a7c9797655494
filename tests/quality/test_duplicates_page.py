"""The review page of duplicate customers: who may use it, merge with a chosen survivor, "not a
duplicate" remembered, another entity's pair is a 404; the CLI's JSON."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from relance.ledger.models import Contact, Customer, CustomerAlias
from relance.quality.duplicates_services import duplicates_find
from relance.quality.models import DuplicateCandidate, NotDuplicate

PASSWORD = "correct horse battery 9"
QUEUE = "workspace:duplicates"


@pytest.fixture
def scene(entity, make_customer):
    from relance.accounts.services import user_create
    from relance.ledger.services import entity_create_or_update

    globex = entity_create_or_update(name="globex", currency="EUR")[0]
    first = make_customer("C1", name="Müller Maschinenbau GmbH")
    second = make_customer("C2", name="MULLER MASCHINENBAU")
    make_customer("C3", name="Northwind Traders", tax_id="FR40303265045")
    make_customer("C4", name="Blue Harbor")
    Contact.objects.create(customer=first, email="ap@mueller.de")
    make_customer("G1", name="Orion Bakery", entity=globex)
    make_customer("G2", name="ORION BAKERY LTD", entity=globex)
    duplicates_find(entity=entity)
    duplicates_find(entity=globex)
    users = {
        role: user_create(email=f"{role}@acme.test", role=role, entity_names=["acme"], password=PASSWORD)
        for role in ("credit_manager", "collector", "auditor")
    }
    users["admin"] = user_create(email="admin@acme.test", role="admin", password=PASSWORD)
    return entity, globex, first, second, users


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_cli_prints_pairs_with_refs_score_and_reasons(scene) -> None:
    out = StringIO()
    call_command("quality", "duplicates", "--entity", "acme", "--json", stdout=out)
    pairs = json.loads(out.getvalue())
    assert [pair["customer_refs"] for pair in pairs] == [["C1", "C2"]]
    assert pairs[0]["score"] == 75 and pairs[0]["reasons"][0].startswith("same name")
    text = StringIO()
    call_command("quality", "duplicates", "--entity", "acme", stdout=text)
    assert "1 candidate pair(s) among 4 customers" in text.getvalue()


def test_a_credit_manager_merges_from_the_page_choosing_the_survivor(scene) -> None:
    entity, _globex, first, second, users = scene
    client = _client(users["credit_manager"])
    html = client.get(reverse(QUEUE)).content.decode()
    pair = DuplicateCandidate.objects.get(entity=entity)
    assert f'id="pair-{pair.pk}"' in html and "Score 75 / 100" in html and "ap@mueller.de" in html
    refused = client.post(reverse("workspace:duplicate_merge", args=[pair.pk]), {"survivor": "999"})
    assert refused.status_code == 302 and Customer.objects.filter(pk=first.pk).exists()
    response = client.post(reverse("workspace:duplicate_merge", args=[pair.pk]), {"survivor": str(second.pk)})
    assert response.status_code == 302
    assert not Customer.objects.filter(pk=first.pk).exists()
    assert CustomerAlias.objects.get().customer_id == second.pk
    assert Contact.objects.get().customer_id == second.pk
    page = client.get(reverse(QUEUE)).content.decode()
    assert 'id="no-pair"' in page and "Undo</button>" in page


def test_not_a_duplicate_is_remembered(scene) -> None:
    entity, _globex, _first, _second, users = scene
    pair = DuplicateCandidate.objects.get(entity=entity)
    client = _client(users["admin"])
    assert client.post(reverse("workspace:duplicate_not", args=[pair.pk])).status_code == 302
    assert NotDuplicate.objects.filter(entity=entity, ref_low="C1", ref_high="C2").exists()
    assert duplicates_find(entity=entity).pairs == []
    assert not DuplicateCandidate.objects.filter(entity=entity).exists()


def test_another_entitys_pair_is_a_404(scene) -> None:
    _entity, globex, _first, _second, users = scene
    theirs = DuplicateCandidate.objects.get(entity=globex)
    client = _client(users["credit_manager"])  # acme only
    for name in ("workspace:duplicate_merge", "workspace:duplicate_not"):
        assert (
            client.post(
                reverse(name, args=[theirs.pk]), {"survivor": str(theirs.customer_low_id)}
            ).status_code
            == 404
        )
    assert Customer.objects.filter(entity=globex).count() == 2
    assert "Orion" not in client.get(reverse(QUEUE)).content.decode()


@pytest.mark.parametrize("role", ["collector", "auditor"])
def test_other_roles_may_not_merge_or_see_the_page(scene, role) -> None:
    entity, _globex, first, _second, users = scene
    pair = DuplicateCandidate.objects.get(entity=entity)
    client = _client(users[role])
    assert client.get(reverse(QUEUE)).status_code == 403
    response = client.post(reverse("workspace:duplicate_merge", args=[pair.pk]), {"survivor": str(first.pk)})
    assert response.status_code == 403
    assert Customer.objects.filter(entity=entity).count() == 4


def test_merge_and_undo_from_the_command_line(scene) -> None:
    out = StringIO()
    call_command("quality", "merge", "C2", "C1", "--entity", "acme", "--json", stdout=out)
    payload = json.loads(out.getvalue())
    assert (payload["survivor_ref"], payload["merged_ref"]) == ("C2", "C1")
    assert payload["moved"]["ledger.Contact.customer"] == 1
    call_command("quality", "merge", "--undo", "C1", "--entity", "acme", stdout=StringIO())
    assert Customer.objects.get(external_ref="C1").contacts.count() == 1
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no customer 'C9'"):
        call_command("quality", "merge", "C2", "C9", "--entity", "acme", stdout=StringIO())
