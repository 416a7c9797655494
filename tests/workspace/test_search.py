"""Search without accents or case, over customers, contacts, invoices and amounts, from every page
(the top bar's box opens /w/find/), with a "no result" state; the folded column is kept by every
write path: save, the importer's bulk writes, and the migration for rows that existed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from relance.ledger.models import Contact, Customer


@pytest.fixture
def jimenez(ws):
    customer = Customer.objects.create(
        entity=ws.acme, external_ref="C-JIM", name="Jiménez Hermanos SL", currency="EUR", collector=ws.ana
    )
    Contact.objects.create(customer=customer, name="Zoë Núñez", email="zoe@jimenez.test")
    from tests.workspace.conftest import _invoice

    _invoice(customer, "INV-JIM-1", "777.77", 12, ws.today)
    return customer


def _hits(client, q):
    return [
        (hit["kind"], hit["label"])
        for hit in client.get(reverse("workspace:search"), {"q": q}).json()["results"]
    ]


@pytest.mark.parametrize("query", ["jimenez", "JIMENEZ", "Jiménez", "jiménez hermanos", "hermanos"])
def test_customer_names_match_without_accents_or_case(ws, client_for, jimenez, query):
    assert ("customer", "Jiménez Hermanos SL") in _hits(client_for(ws.manager), query)


def test_contacts_invoices_and_amounts(ws, client_for, jimenez):
    client = client_for(ws.manager)
    assert ("contact", "Zoë Núñez") in _hits(client, "nunez")
    assert ("contact", "Zoë Núñez") in _hits(client, "ZOE@JIMENEZ")
    assert ("invoice", "INV-JIM-1") in _hits(client, "inv-jim")
    assert ("invoice", "INV-JIM-1") in _hits(client, "777,77")


def test_the_search_page_from_the_top_bar_and_its_no_result_state(ws, client_for, jimenez):
    client = client_for(ws.manager)
    dashboard = client.get(reverse("web:dashboard")).content.decode()
    assert f'action="{reverse("workspace:find")}"' in dashboard  # the box is on every page
    found = client.get(reverse("workspace:find"), {"q": "jimenez"}).content.decode()
    assert "Jiménez Hermanos SL" in found and reverse("workspace:customer", args=[jimenez.pk]) in found
    nothing = client.get(reverse("workspace:find"), {"q": "zzqx"}).content.decode()
    assert 'id="search-empty"' in nothing and "No result for “zzqx”" in nothing


def test_search_stays_in_the_users_accounts(ws, client_for, jimenez):
    assert _hits(client_for(ws.globex_manager), "jimenez") == []


def test_customers_and_invoices_lists_search_without_accents(ws, client_for, jimenez):
    client = client_for(ws.manager)
    assert (
        "Jiménez Hermanos SL" in client.get(reverse("web:customer_list"), {"q": "JIMENEZ"}).content.decode()
    )
    invoices = client.get(reverse("web:invoice_list"), {"q": "jimenez", "state": "all"}).content.decode()
    assert "INV-JIM-1" in invoices


def test_saves_and_bulk_writes_keep_the_folded_column(ws):
    customer = Customer.objects.create(entity=ws.acme, external_ref="C-Q", name="Québec Inc", currency="EUR")
    assert customer.search_text == "quebec inc | c-q"
    customer.name = "Société Générale"
    customer.save(update_fields=["name"])
    assert Customer.objects.get(pk=customer.pk).search_text == "societe generale | c-q"
    [bulk] = Customer.objects.bulk_create(
        [Customer(entity=ws.acme, external_ref="C-B", name="Ærø", currency="EUR")]
    )
    assert Customer.objects.get(external_ref="C-B").search_text == "aero | c-b"
    bulk = Customer.objects.get(external_ref="C-B")
    bulk.name = "Čapek"
    Customer.objects.bulk_update([bulk], ["name"])
    assert Customer.objects.get(pk=bulk.pk).search_text == "capek | c-b"


def test_the_importer_fills_the_folded_column(ws, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_ref,name,currency,email\nC-IMP,Öztürk Ltd,EUR,muhasebe@ozturk.test\n", encoding="utf-8"
    )
    call_command("import", "customers", str(path), "--entity", "acme", stdout=StringIO())
    imported = Customer.objects.get(external_ref="C-IMP")
    assert imported.search_text == "ozturk ltd | c-imp"
    assert imported.contacts.get().search_text == "ozturk ltd | muhasebe@ozturk.test"


def test_the_migration_fills_existing_rows(ws):
    from importlib import import_module

    from django.apps import apps

    Customer.objects.filter(pk=ws.late.pk).update(search_text="")
    import_module("relance.ledger.migrations.0007_search_text").fill_search_text(apps, None)
    assert Customer.objects.get(pk=ws.late.pk).search_text == "late payer gmbh | c-late"


def test_amount_search_still_matches_exact_decimals(ws, client_for):
    assert Decimal("1234.56") and ("invoice", "INV-S1") in _hits(client_for(ws.manager), "1234.56")
