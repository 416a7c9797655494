"""The QuickBooks Online connector: OAuth 2.0 with refresh-token rotation, the query endpoint,
push back (fixtures/quickbooks.json, respx)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import respx
from cryptography.fernet import Fernet

from relance.connectors.adapters.base import ConnectorError
from relance.connectors.adapters.quickbooks import MemoryTokenStore, OAuthTokens, QuickBooksAdapter
from relance.connectors.credentials import EncryptedTokenStore
from relance.connectors.models import Connector
from relance.connectors.services import adapter_for, connector_set, sync_run
from relance.ledger.models import Allocation, CreditNote, Customer, Invoice, Payment
from tests.connectors.fakes import FakeQuickBooks

API = "https://sandbox-quickbooks.api.intuit.com"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"


@pytest.fixture
def qbo(monkeypatch):
    monkeypatch.setenv("RELANCE_QUICKBOOKS_CLIENT_ID", "client")
    monkeypatch.setenv("RELANCE_QUICKBOOKS_CLIENT_SECRET", "secret")
    monkeypatch.setenv("RELANCE_QUICKBOOKS_REFRESH_TOKEN", "RT-0")
    monkeypatch.setenv("RELANCE_CONNECTOR_KEY", Fernet.generate_key().decode())
    fake = FakeQuickBooks()
    with respx.mock(assert_all_called=False) as router:
        router.route(host="sandbox-quickbooks.api.intuit.com").mock(side_effect=fake.handler)
        router.post(TOKEN_URL).mock(side_effect=fake.handler)
        yield fake


@pytest.fixture
def connector(entity):
    return connector_set(
        entity=entity, source="quickbooks", url=API, options={"realm_id": "9130", "page_size": "1"}
    )


def test_sync_imports_and_stores_the_rotated_refresh_token_encrypted(entity, connector, qbo):
    outcome = sync_run(connector=connector)

    assert outcome.committed and not outcome.errors
    assert Customer.objects.get(external_ref="58").name == "Dupont SARL"
    assert Invoice.objects.get(external_ref="1037").amount == Decimal("1200")
    assert CreditNote.objects.get(external_ref="CM-1001").amount == Decimal("100")
    allocation = Allocation.objects.get(payment__external_ref="QBO-PAY-151")
    assert (allocation.invoice.external_ref, allocation.amount) == ("1038", Decimal("100"))
    assert Payment.objects.get(external_ref="QBO-PAY-151").amount == Decimal("250")  # 150 unapplied
    connector.refresh_from_db()
    assert connector.cursors["payments"] == "2026-11-05T08:00:00-08:00"
    # The refresh token Intuit rotated is kept, encrypted; never in plain text.
    assert qbo.refresh_token == "RT-1"
    assert "RT-1" not in connector.token_ciphertext
    assert EncryptedTokenStore(connector).load().refresh_token == "RT-1"


def test_the_next_sync_uses_the_rotated_token_not_the_first_one(entity, connector, qbo):
    sync_run(connector=connector)
    connector.refresh_from_db()
    Connector.objects.filter(pk=connector.pk).update(token_ciphertext=_expired(connector))
    connector.refresh_from_db()

    again = sync_run(connector=connector)  # RT-0 is dead at Intuit: only RT-1 works

    assert again.committed and qbo.refreshes == 2 and qbo.refresh_token == "RT-2"
    assert all(stream.result.created == 0 for stream in again.streams.values())


def _expired(connector: Connector) -> str:
    store = EncryptedTokenStore(connector)
    tokens = store.load()
    store.save(OAuthTokens("AT-stale", tokens.refresh_token, datetime(2020, 1, 1, tzinfo=UTC)))
    return store.connector.token_ciphertext


def test_a_401_refreshes_once_and_retries(qbo):
    store = MemoryTokenStore(OAuthTokens("AT-revoked", "RT-0", datetime(2100, 1, 1, tzinfo=UTC)))
    adapter = QuickBooksAdapter(
        realm_id="9130", client_id="client", client_secret="secret", tokens=store, url=API
    )

    pages = list(adapter.pull("customers", None))

    assert [row.cells["customer_ref"] for page in pages for row in page.rows] == ["58", "59"]
    assert store.tokens.refresh_token == "RT-1"


def test_a_dead_refresh_token_is_a_clear_error(qbo):
    adapter = QuickBooksAdapter(
        realm_id="9130", client_id="client", client_secret="secret", tokens=MemoryTokenStore(),
        initial_refresh_token="RT-old", url=API,
    )  # fmt: skip
    with pytest.raises(ConnectorError, match="quickbooks token refresh: POST .* answered 400"):
        list(adapter.pull("customers", None))


def test_payments_linking_invoices_outside_the_page_read_their_numbers(entity, connector, qbo):
    sync_run(connector=connector)
    connector.refresh_from_db()
    qbo.data["Payment"].append(
        {"Id": "152", "TxnDate": "2026-11-10", "TotalAmt": 80.0, "CustomerRef": {"value": "58"},
         "CurrencyRef": {"value": "EUR"}, "Line": [{"Amount": 80.0, "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]}],
         "MetaData": {"LastUpdatedTime": "2026-11-10T08:00:00-08:00"}}
    )  # fmt: skip

    adapter = adapter_for(connector)
    outcome = sync_run(connector=connector, adapter=adapter)

    assert outcome.streams["payments"].result.created == 1
    assert Allocation.objects.get(payment__external_ref="QBO-PAY-152").invoice.external_ref == "1037"
    assert "select * from Invoice where Id in ('130')" in qbo.queries
    assert all(
        "ORDERBY Metadata.LastUpdatedTime" in query for query in qbo.queries if "STARTPOSITION" in query
    )


def test_pushes_a_linked_payment_and_sparse_updates_notes(entity, connector, qbo, relance_changes):
    sync_run(connector=connector)
    connector.refresh_from_db()
    relance_changes(entity, customer_ref="58", invoice_ref="1037")

    outcome = sync_run(connector=connector)

    assert sorted(item["kind"] for item in outcome.pushed) == [
        "dispute_resolution",
        "hold",
        "payment",
        "promise",
    ]
    payment = next(body for path, body in qbo.pushed if path == "payment")
    assert payment["CustomerRef"] == {"value": "58"} and payment["PaymentRefNum"] == "pi_3PORTAL"
    assert payment["Line"] == [{"Amount": "100.00", "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]}]
    customer_update = next(body for path, body in qbo.pushed if path == "customer")
    assert customer_update["sparse"] is True and customer_update["SyncToken"] == "0"
    assert "bankruptcy filing checked" in customer_update["Notes"]
    assert sum(1 for path, _ in qbo.pushed if path == "invoice") == 2
