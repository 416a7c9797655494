"""ERPNext (Frappe) through its REST API (``/api/resource/<DocType>``, token authentication).

Pulls ``Customer``, ``Contact`` (linked to a customer through its ``links``), submitted or cancelled
``Sales Invoice`` (``is_return`` = a credit note against ``return_against``) and submitted
``Payment Entry`` of type ``Receive`` with their ``references`` (the invoices each one settled).
The cursor is ``modified``; pages are ``limit_start``/``limit_page_length``.

Pushes holds, dispute resolutions and promises as ``Comment`` documents on the customer or the
invoice, and payments taken in Relance as submitted ``Payment Entry`` documents.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote

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

LIST_FIELDS = {
    "Customer": ["name", "customer_name", "default_currency", "tax_id", "email_id", "mobile_no", "language", "modified"],
    "Contact": ["name", "modified"],
    "Sales Invoice": [
        "name", "customer", "posting_date", "due_date", "grand_total", "currency", "po_no", "docstatus",
        "is_return", "return_against", "modified",
    ],
    "Payment Entry": ["name", "modified"],
}  # fmt: skip
DOCTYPE = {
    "customers": "Customer",
    "contacts": "Contact",
    "invoices": "Sales Invoice",
    "credit_notes": "Sales Invoice",
    "payments": "Payment Entry",
}


class ERPNextAdapter:
    source = "erpnext"

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        api_secret: str,
        page_size: int = 500,
        company: str | None = None,
        paid_to_account: str | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.page_size = page_size
        self.company = company
        self.paid_to_account = paid_to_account
        self.http = client or httpx.Client(timeout=30.0, follow_redirects=False)
        self.headers = {"Authorization": f"token {api_key}:{api_secret}", "Accept": "application/json"}

    def _resource(self, doctype: str, name: str | None = None) -> str:
        path = f"{self.url}/api/resource/{quote(doctype)}"
        return f"{path}/{quote(name, safe='')}" if name is not None else path

    def _get(self, url: str, params: dict[str, Any] | None = None) -> Any:
        response = checked(self.http.get(url, params=params, headers=self.headers), "erpnext")
        return decimal_json(response)["data"]

    def _post(self, doctype: str, document: dict[str, Any]) -> dict[str, Any]:
        response = checked(
            self.http.post(self._resource(doctype), json=document, headers=self.headers), f"erpnext {doctype}"
        )
        data: dict[str, Any] = decimal_json(response)["data"]
        return data

    def _list(self, doctype: str, filters: list[Any]) -> Iterator[list[dict[str, Any]]]:
        start = 0
        while True:
            params = {
                "fields": json.dumps(LIST_FIELDS[doctype]),
                "filters": json.dumps(filters),
                "order_by": "modified asc, name asc",
                "limit_start": start,
                "limit_page_length": self.page_size,
            }
            records = list(self._get(self._resource(doctype), params))
            if records:
                yield records
            if len(records) < self.page_size:
                return
            start += len(records)

    # -- pull -----------------------------------------------------------------------------------

    def pull(self, kind: str, since: str | None) -> Iterator[PullPage]:
        if kind not in DOCTYPE:
            raise ConnectorError(f"erpnext: no stream {kind!r}")
        doctype = DOCTYPE[kind]
        filters: list[Any] = [[doctype, "modified", ">=", since]] if since else []
        if kind in ("invoices", "credit_notes"):
            filters += [
                [
                    doctype,
                    "docstatus",
                    "in" if kind == "invoices" else "=",
                    [1, 2] if kind == "invoices" else 1,
                ]
            ]
            filters += [[doctype, "is_return", "=", 0 if kind == "invoices" else 1]]
        elif kind == "payments":
            filters += [[doctype, "docstatus", "=", 1], [doctype, "payment_type", "=", "Receive"],
                        [doctype, "party_type", "=", "Customer"]]  # fmt: skip
        for records in self._list(doctype, filters):
            rows: list[PulledRow] = []
            for record in records:
                rows.extend(self._rows(kind, record))
            yield PullPage(kind, tuple(rows), str(records[-1]["modified"]))

    def _rows(self, kind: str, record: dict[str, Any]) -> list[PulledRow]:
        where = f"erpnext:{DOCTYPE[kind]}/{record['name']}"
        if kind == "customers":
            cells = {
                "customer_ref": record["name"],
                "name": text_cell(record.get("customer_name")) or record["name"],
                "currency": text_cell(record.get("default_currency")),
                "tax_id": text_cell(record.get("tax_id")),
                "email": text_cell(record.get("email_id")),
                "phone": text_cell(record.get("mobile_no")),
                "language": text_cell(record.get("language")),
            }
            return [PulledRow(kind, cells, where)]
        if kind == "contacts":
            return self._contact_rows(record["name"], where)
        if kind == "invoices":
            cells = {
                "invoice_ref": record["name"],
                "customer_ref": record["customer"],
                "issue_date": date_cell(record["posting_date"]),
                "due_date": date_cell(record.get("due_date") or record["posting_date"]),
                "amount": amount_cell(record["grand_total"]),
                "currency": text_cell(record.get("currency")),
                "po_number": text_cell(record.get("po_no")),
                "status": "void" if int(record["docstatus"]) == 2 else "open",
            }
            return [PulledRow(kind, cells, where)]
        if kind == "credit_notes":
            # A return's grand_total is negative: the credit is its absolute value.
            cells = {
                "credit_note_ref": record["name"],
                "customer_ref": record["customer"],
                "date": date_cell(record["posting_date"]),
                "amount": amount_cell(abs(Decimal(str(record["grand_total"])))),
                "currency": text_cell(record.get("currency")),
                "invoice_ref": text_cell(record.get("return_against")),
            }
            return [PulledRow(kind, cells, where)]
        return self._payment_rows(record["name"], where)

    def _contact_rows(self, name: str, where: str) -> list[PulledRow]:
        """A contact, once per customer it is linked to (its ``links`` come with the document)."""
        contact = self._get(self._resource("Contact", name))
        full_name = " ".join(part for part in (contact.get("first_name"), contact.get("last_name")) if part)
        rows = []
        for link in contact.get("links") or []:
            if link.get("link_doctype") != "Customer":
                continue
            cells = {
                "customer_ref": link["link_name"],
                "contact_ref": f"{name}@{link['link_name']}" if len(contact["links"]) > 1 else name,
                "name": full_name or None,
                "email": text_cell(contact.get("email_id")),
                "phone": text_cell(contact.get("mobile_no") or contact.get("phone")),
                "role": "billing" if contact.get("is_billing_contact") else "contact",
            }
            rows.append(PulledRow("contacts", cells, where))
        return rows

    def _payment_rows(self, name: str, where: str) -> list[PulledRow]:
        entry = self._get(self._resource("Payment Entry", name))
        cells = {
            "payment_ref": entry["name"],
            "customer_ref": entry["party"],
            "date": date_cell(entry["posting_date"]),
            "currency": text_cell(entry.get("paid_from_account_currency")),
            "method": text_cell(entry.get("mode_of_payment")),
        }
        settled = [
            (reference["reference_name"], Decimal(str(reference["allocated_amount"])))
            for reference in entry.get("references") or []
            if reference.get("reference_doctype") == "Sales Invoice"
            and Decimal(str(reference["allocated_amount"])) > 0
        ]
        echo_of = text_cell(entry.get("reference_no"))
        return payment_rows(cells, Decimal(str(entry["paid_amount"])), settled, where, echo_of)

    # -- push -----------------------------------------------------------------------------------

    def push(self, item: PushItem) -> PushResult:
        data = item.data
        if item.kind == "payment":
            document: dict[str, Any] = {
                "doctype": "Payment Entry",
                "payment_type": "Receive",
                "party_type": "Customer",
                "party": item.customer_ref,
                "posting_date": str(data["date"]),
                "paid_amount": str(data["amount"]),
                "received_amount": str(data["amount"]),
                "reference_no": str(data["payment_ref"]),
                "reference_date": str(data["date"]),
                "references": [
                    {
                        "reference_doctype": "Sales Invoice",
                        "reference_name": allocation["invoice_ref"],
                        "allocated_amount": str(allocation["amount"]),
                    }
                    for allocation in data["allocations"]
                ],
                "docstatus": 1,
            }
            if self.company:
                document["company"] = self.company
            if self.paid_to_account:
                document["paid_to"] = self.paid_to_account
            created = self._post("Payment Entry", document)
            return PushResult(item.key, f"Payment Entry/{created['name']}")
        invoice_ref = data.get("invoice_ref")
        comment = self._post(
            "Comment",
            {
                "comment_type": "Comment",
                "reference_doctype": "Sales Invoice" if invoice_ref else "Customer",
                "reference_name": invoice_ref or item.customer_ref,
                "content": str(data["note"]),
            },
        )
        return PushResult(item.key, f"Comment/{comment['name']}")

    def close(self) -> None:
        self.http.close()
