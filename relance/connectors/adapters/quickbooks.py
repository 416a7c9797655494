"""QuickBooks Online through its Accounting API (OAuth 2.0, the ``query`` endpoint).

Pulls ``Customer``, ``Invoice``, ``CreditMemo`` and ``Payment`` with
``select * from <Entity> where Metadata.LastUpdatedTime >= '<cursor>' STARTPOSITION n MAXRESULTS m``
(the cursor is ``MetaData.LastUpdatedTime``; the CDC endpoint is limited to the last 30 days, the
query endpoint is not). A payment's ``Line[].LinkedTxn`` names the invoices it settled by their
``Id``; the import knows invoices by ``DocNumber``, so unknown ids are read with one query (the
query language has no projections: ``select *``). Sorting is ``ORDERBY``, one word.

OAuth 2.0: the access token lives an hour and is refreshed with the refresh token, which Intuit
*rotates* — every refresh may answer a new refresh token, and the old one stops working. The
adapter hands each new pair to its ``TokenStore`` before using it (ADR 0028).

Pushes payments taken in Relance as ``Payment`` objects linked to the invoices, and holds, dispute
resolutions and promises as the invoice's ``PrivateNote`` (or the customer's ``Notes``) by a
sparse update.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import httpx

from relance.connectors.adapters.base import (
    ConnectorError,
    PulledRow,
    PullPage,
    PushItem,
    PushResult,
    amount_cell,
    checked,
    date_cell,
    decimal_json,
    payment_rows,
    text_cell,
)

TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
PRODUCTION_URL = "https://quickbooks.api.intuit.com"
MINOR_VERSION = "75"
QBO_ENTITY = {
    "customers": "Customer",
    "invoices": "Invoice",
    "credit_notes": "CreditMemo",
    "payments": "Payment",
}


@dataclass(frozen=True)
class OAuthTokens:
    access_token: str
    refresh_token: str
    expires_at: datetime


class TokenStore(Protocol):
    """Where the rotating tokens live between syncs (encrypted in the database: ADR 0028)."""

    def load(self) -> OAuthTokens | None: ...

    def save(self, tokens: OAuthTokens) -> None: ...


class MemoryTokenStore:
    def __init__(self, tokens: OAuthTokens | None = None) -> None:
        self.tokens = tokens

    def load(self) -> OAuthTokens | None:
        return self.tokens

    def save(self, tokens: OAuthTokens) -> None:
        self.tokens = tokens


class QuickBooksAdapter:
    source = "quickbooks"

    def __init__(
        self,
        *,
        realm_id: str,
        client_id: str,
        client_secret: str,
        tokens: TokenStore,
        initial_refresh_token: str | None = None,
        url: str = PRODUCTION_URL,
        token_url: str = TOKEN_URL,
        page_size: int = 500,
        client: httpx.Client | None = None,
        now: Any = None,
    ) -> None:
        self.base = f"{url.rstrip('/')}/v3/company/{realm_id}"
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens = tokens
        self.initial_refresh_token = initial_refresh_token
        self.token_url = token_url
        self.page_size = page_size
        self.http = client or httpx.Client(timeout=30.0, follow_redirects=False)
        self._now = now or (lambda: datetime.now(UTC))
        self._invoice_numbers: dict[str, str] = {}
        self._customer_refs: dict[str, str] = {}

    # -- OAuth 2.0 ------------------------------------------------------------------------------

    def _refresh(self) -> OAuthTokens:
        current = self.tokens.load()
        refresh_token = current.refresh_token if current else self.initial_refresh_token
        if not refresh_token:
            raise ConnectorError(
                "quickbooks: no refresh token (set the connector's REFRESH_TOKEN variable once)"
            )
        response = self.http.post(
            self.token_url,
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(self.client_id, self.client_secret),
            headers={"Accept": "application/json"},
        )
        body = decimal_json(checked(response, "quickbooks token refresh"))
        tokens = OAuthTokens(
            access_token=body["access_token"],
            # Intuit may rotate the refresh token on any refresh: keep the one it answered.
            refresh_token=body.get("refresh_token") or refresh_token,
            expires_at=self._now() + timedelta(seconds=int(body.get("expires_in", 3600)) - 60),
        )
        self.tokens.save(tokens)
        return tokens

    def _access_token(self) -> str:
        tokens = self.tokens.load()
        if tokens is None or tokens.expires_at <= self._now():
            tokens = self._refresh()
        return tokens.access_token

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        params = {**kwargs.pop("params", {}), "minorversion": MINOR_VERSION}
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._access_token()}", "Accept": "application/json"}
            response = self.http.request(
                method, f"{self.base}/{path}", params=params, headers=headers, **kwargs
            )
            if response.status_code == 401 and attempt == 1:
                self._refresh()  # revoked or expired early: one refresh, then one retry
                continue
            body = decimal_json(checked(response, f"quickbooks {path}"))
            if "Fault" in body:
                errors = body["Fault"].get("Error") or [{}]
                raise ConnectorError(
                    f"quickbooks {path}: {errors[0].get('Message')}: {errors[0].get('Detail')}"
                )
            return body
        raise ConnectorError(f"quickbooks {path}: unauthorised after a token refresh")

    def query(self, statement: str) -> dict[str, Any]:
        body = self._request("GET", "query", params={"query": statement})
        result: dict[str, Any] = body.get("QueryResponse") or {}
        return result

    # -- pull -----------------------------------------------------------------------------------

    def pull(self, kind: str, since: str | None) -> Iterator[PullPage]:
        if kind == "contacts":
            return  # a QuickBooks customer carries its billing e-mail and phone: no separate contacts
        if kind not in QBO_ENTITY:
            raise ConnectorError(f"quickbooks: no stream {kind!r}")
        entity = QBO_ENTITY[kind]
        where = f" where Metadata.LastUpdatedTime >= '{_quoted(since)}'" if since else ""
        start = 1
        while True:
            records = self.query(
                f"select * from {entity}{where} ORDERBY Metadata.LastUpdatedTime "
                f"STARTPOSITION {start} MAXRESULTS {self.page_size}"
            ).get(entity, [])
            if records:
                if kind == "payments":
                    self._learn_invoice_numbers(records)
                rows = [row for record in records for row in self._rows(kind, record)]
                yield PullPage(kind, tuple(rows), records[-1]["MetaData"]["LastUpdatedTime"])
            if len(records) < self.page_size:
                return
            start += len(records)

    def _customer_ref(self, reference: dict[str, Any]) -> str:
        return str(reference["value"])

    def _rows(self, kind: str, record: dict[str, Any]) -> list[PulledRow]:
        where = f"quickbooks:{QBO_ENTITY[kind]}/{record['Id']}"
        currency = (record.get("CurrencyRef") or {}).get("value")
        if kind == "customers":
            cells = {
                "customer_ref": str(record["Id"]),
                "name": text_cell(record.get("DisplayName") or record.get("CompanyName")),
                "currency": text_cell(currency),
                "email": text_cell((record.get("PrimaryEmailAddr") or {}).get("Address")),
                "phone": text_cell((record.get("PrimaryPhone") or {}).get("FreeFormNumber")),
                "parent_ref": text_cell((record.get("ParentRef") or {}).get("value")),
            }
            return [PulledRow(kind, cells, where)]
        if kind == "invoices":
            self._invoice_numbers[str(record["Id"])] = _invoice_ref(record)
            if Decimal(str(record["TotalAmt"])) == 0:
                return []  # a voided invoice: QuickBooks zeroes it, so it has no amount to import
            cells = {
                "invoice_ref": _invoice_ref(record),
                "customer_ref": self._customer_ref(record["CustomerRef"]),
                "issue_date": date_cell(record["TxnDate"]),
                "due_date": date_cell(record.get("DueDate") or record["TxnDate"]),
                "amount": amount_cell(record["TotalAmt"]),
                "currency": text_cell(currency),
            }
            return [PulledRow(kind, cells, where)]
        if kind == "credit_notes":
            cells = {
                "credit_note_ref": _invoice_ref(record),
                "customer_ref": self._customer_ref(record["CustomerRef"]),
                "date": date_cell(record["TxnDate"]),
                "amount": amount_cell(record["TotalAmt"]),
                "currency": text_cell(currency),
                "reason": text_cell(record.get("PrivateNote")),
            }
            return [PulledRow(kind, cells, where)]
        settled = []
        for line in record.get("Line") or []:
            for linked in line.get("LinkedTxn") or []:
                if linked.get("TxnType") == "Invoice":
                    settled.append(
                        (self._invoice_numbers[str(linked["TxnId"])], Decimal(str(line["Amount"])))
                    )
        cells = {
            "payment_ref": f"QBO-PAY-{record['Id']}",
            "customer_ref": self._customer_ref(record["CustomerRef"]),
            "date": date_cell(record["TxnDate"]),
            "currency": text_cell(currency),
            "method": text_cell((record.get("PaymentMethodRef") or {}).get("name")),
        }
        echo_of = text_cell(record.get("PaymentRefNum"))
        return payment_rows(cells, Decimal(str(record["TotalAmt"])), settled, where, echo_of)

    def _learn_invoice_numbers(self, payments: list[dict[str, Any]]) -> None:
        """Read the DocNumber of every invoice a page of payments links to and is not yet known."""
        unknown = sorted(
            {
                str(linked["TxnId"])
                for payment in payments
                for line in payment.get("Line") or []
                for linked in line.get("LinkedTxn") or []
                if linked.get("TxnType") == "Invoice" and str(linked["TxnId"]) not in self._invoice_numbers
            }
        )
        if unknown:
            ids = ", ".join(f"'{_quoted(txn_id)}'" for txn_id in unknown)
            for invoice in self.query(f"select * from Invoice where Id in ({ids})").get("Invoice", []):
                self._invoice_numbers[str(invoice["Id"])] = _invoice_ref(invoice)
        missing = [txn_id for txn_id in unknown if txn_id not in self._invoice_numbers]
        if missing:
            raise ConnectorError(
                f"quickbooks: payments link to invoices that cannot be read: {', '.join(missing)}"
            )

    # -- push -----------------------------------------------------------------------------------

    def _invoice(self, invoice_ref: str) -> dict[str, Any]:
        found = self.query(f"select * from Invoice where DocNumber = '{_quoted(invoice_ref)}'").get(
            "Invoice", []
        )
        if not found:
            raise ConnectorError(f"quickbooks: no Invoice with DocNumber {invoice_ref!r}")
        invoice: dict[str, Any] = found[0]
        return invoice

    def push(self, item: PushItem) -> PushResult:
        data = item.data
        if item.kind == "payment":
            lines = [
                {
                    "Amount": str(allocation["amount"]),
                    "LinkedTxn": [
                        {"TxnId": self._invoice(allocation["invoice_ref"])["Id"], "TxnType": "Invoice"}
                    ],
                }
                for allocation in data["allocations"]
            ]
            body = self._request(
                "POST",
                "payment",
                json={
                    "CustomerRef": {"value": item.customer_ref},
                    "TotalAmt": str(data["amount"]),
                    "TxnDate": str(data["date"]),
                    "PaymentRefNum": str(data["payment_ref"])[:21],
                    "Line": lines,
                },
            )
            return PushResult(item.key, f"Payment/{body['Payment']['Id']}")
        if data.get("invoice_ref"):
            invoice = self._invoice(str(data["invoice_ref"]))
            note = "\n".join(part for part in (invoice.get("PrivateNote"), str(data["note"])) if part)
            body = self._request(
                "POST",
                "invoice",
                json={
                    "Id": invoice["Id"],
                    "SyncToken": invoice["SyncToken"],
                    "sparse": True,
                    "PrivateNote": note[:4000],
                },
            )
            return PushResult(item.key, f"Invoice/{body['Invoice']['Id']}")
        customer = self._request("GET", f"customer/{item.customer_ref}")["Customer"]
        note = "\n".join(part for part in (customer.get("Notes"), str(data["note"])) if part)
        body = self._request(
            "POST",
            "customer",
            json={
                "Id": customer["Id"],
                "SyncToken": customer["SyncToken"],
                "sparse": True,
                "Notes": note[:2000],
            },
        )
        return PushResult(item.key, f"Customer/{body['Customer']['Id']}")

    def close(self) -> None:
        self.http.close()


def _invoice_ref(record: dict[str, Any]) -> str:
    """The invoice number the customer sees (``DocNumber``), or ``QBO-<Id>`` when numbering is off."""
    return str(record.get("DocNumber") or f"QBO-{record['Id']}")


def _quoted(value: str) -> str:
    """A value inside a QuickBooks query's single quotes (its escape is a backslash)."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
