"""Odoo through its external JSON-RPC API (``/jsonrpc``, ``common.login`` then ``object.execute_kw``).

Pulls ``res.partner`` (companies → customers, their children → contacts), posted or cancelled
``account.move`` of type ``out_invoice`` (invoices) and ``out_refund`` (credit notes), and posted
inbound customer ``account.payment`` with their reconciliations (``account.partial.reconcile``:
which invoice each payment settled, and by how much). The cursor is ``write_date``.

Pushes holds, dispute resolutions and promises as notes in the record's chatter (``message_post``),
and payments taken in Relance through the ``account.payment.register`` wizard, which reconciles
them with the invoice.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

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

PARTNER_FIELDS = [
    "id", "name", "ref", "email", "phone", "vat", "company_registry", "lang", "country_id",
    "parent_id", "is_company", "type", "function", "write_date",
]  # fmt: skip
MOVE_FIELDS = [
    "id", "name", "move_type", "state", "commercial_partner_id", "invoice_date", "invoice_date_due",
    "amount_total", "currency_id", "ref", "reversed_entry_id", "payment_state", "amount_residual",
    "write_date",
]  # fmt: skip
PAYMENT_FIELDS = [
    "id", "name", "partner_id", "amount", "currency_id", "date", "state", "payment_type", "partner_type",
    "payment_method_line_id", "ref", "write_date",
]  # fmt: skip


class OdooAdapter:
    source = "odoo"

    def __init__(
        self,
        *,
        url: str,
        database: str,
        login: str,
        api_key: str,
        page_size: int = 500,
        journal_id: int | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/") + "/jsonrpc"
        self.database = database
        self.login = login
        self.api_key = api_key
        self.page_size = page_size
        self.journal_id = journal_id
        self.http = client or httpx.Client(timeout=30.0, follow_redirects=False)
        self._uid: int | None = None
        self._ids = itertools.count(1)
        self._partner_refs: dict[int, str] = {}
        self._move_names: dict[int, str] = {}

    # -- JSON-RPC -------------------------------------------------------------------------------

    def _call(self, service: str, method: str, *args: Any) -> Any:
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": list(args)},
            "id": next(self._ids),
        }
        response = checked(self.http.post(self.url, json=payload), f"odoo {service}.{method}")
        body = decimal_json(response)
        if body.get("error"):
            error = body["error"]
            data = error.get("data") or {}
            raise ConnectorError(
                f"odoo {service}.{method}: {data.get('name') or error.get('code')}: "
                f"{data.get('message') or error.get('message')}"
            )
        return body.get("result")

    def uid(self) -> int:
        if self._uid is None:
            uid = self._call("common", "login", self.database, self.login, self.api_key)
            if not uid:
                raise ConnectorError(f"odoo login: the database {self.database!r} refused {self.login!r}")
            self._uid = int(uid)
        return self._uid

    def execute(self, model: str, method: str, args: Sequence[Any], **kwargs: Any) -> Any:
        return self._call(
            "object", "execute_kw", self.database, self.uid(), self.api_key, model, method, list(args), kwargs
        )

    def _search_read(
        self, model: str, domain: list[Any], fields: list[str], *, offset: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"fields": fields, "order": "write_date asc, id asc", "offset": offset}
        if limit is not None:
            kwargs["limit"] = limit
        result = self.execute(model, "search_read", [domain], **kwargs)
        return list(result or [])

    def _pages(self, model: str, domain: list[Any], fields: list[str]) -> Iterator[list[dict[str, Any]]]:
        offset = 0
        while True:
            records = self._search_read(model, domain, fields, offset=offset, limit=self.page_size)
            if records:
                yield records
            if len(records) < self.page_size:
                return
            offset += len(records)

    # -- pull -----------------------------------------------------------------------------------

    def pull(self, kind: str, since: str | None) -> Iterator[PullPage]:
        changed: list[Any] = [["write_date", ">=", since]] if since else []
        if kind in ("customers", "contacts"):
            domain = [*changed, ["parent_id", "=" if kind == "customers" else "!=", False]]
            if kind == "contacts":
                domain.append(["email", "!=", False])
            for records in self._pages("res.partner", domain, PARTNER_FIELDS):
                rows = [self._partner_row(kind, record) for record in records]
                yield PullPage(kind, tuple(rows), records[-1]["write_date"])
        elif kind in ("invoices", "credit_notes"):
            move_type = "out_invoice" if kind == "invoices" else "out_refund"
            domain = [*changed, ["move_type", "=", move_type], ["state", "in", ["posted", "cancel"]]]
            for records in self._pages("account.move", domain, MOVE_FIELDS):
                for record in records:
                    self._move_names[record["id"]] = record["name"]
                rows = [
                    self._move_row(kind, record)
                    for record in records
                    if kind == "invoices" or record["state"] == "posted"
                ]
                yield PullPage(kind, tuple(rows), records[-1]["write_date"])
        elif kind == "payments":
            domain = [
                *changed,
                ["payment_type", "=", "inbound"],
                ["partner_type", "=", "customer"],
                ["state", "in", ["posted", "paid", "in_process"]],
            ]
            for records in self._pages("account.payment", domain, PAYMENT_FIELDS):
                settled = self._settled_invoices([record["id"] for record in records])
                rows = [
                    row
                    for record in records
                    for row in self._payment_row(record, settled.get(record["id"], []))
                ]
                yield PullPage(kind, tuple(rows), records[-1]["write_date"])
        else:
            raise ConnectorError(f"odoo: no stream {kind!r}")

    def _customer_ref(self, partner: Any) -> str:
        """The partner's ``ref`` (the ERP's customer number), or ``odoo-<id>`` when it has none."""
        partner_id = partner[0] if isinstance(partner, list) else int(partner)
        if partner_id not in self._partner_refs:
            for record in self.execute("res.partner", "read", [[partner_id]], fields=["ref"]):
                self._partner_refs[record["id"]] = text_cell(record["ref"]) or f"odoo-{record['id']}"
        return self._partner_refs.get(partner_id, f"odoo-{partner_id}")

    def _partner_row(self, kind: str, record: dict[str, Any]) -> PulledRow:
        where = f"odoo:res.partner/{record['id']}"
        if kind == "customers":
            ref = text_cell(record["ref"]) or f"odoo-{record['id']}"
            self._partner_refs[record["id"]] = ref
            cells = {
                "customer_ref": ref,
                "name": text_cell(record["name"]),
                "email": text_cell(record["email"]),
                "phone": text_cell(record["phone"]),
                "tax_id": text_cell(record["vat"]),
                "registration_id": text_cell(record["company_registry"]),
                "language": (text_cell(record["lang"]) or "")[:2] or None,
            }
            return PulledRow("customers", cells, where)
        cells = {
            "customer_ref": self._customer_ref(record["parent_id"]),
            "contact_ref": f"odoo-{record['id']}",
            "name": text_cell(record["name"]),
            "email": text_cell(record["email"]),
            "phone": text_cell(record["phone"]),
            "role": "billing" if record.get("type") == "invoice" else "contact",
        }
        return PulledRow("contacts", cells, where)

    def _move_row(self, kind: str, record: dict[str, Any]) -> PulledRow:
        where = f"odoo:account.move/{record['id']}"
        customer_ref = self._customer_ref(record["commercial_partner_id"])
        currency = text_cell(record["currency_id"][1]) if record["currency_id"] else None
        if kind == "invoices":
            cells = {
                "invoice_ref": record["name"],
                "customer_ref": customer_ref,
                "issue_date": date_cell(record["invoice_date"]),
                "due_date": date_cell(record["invoice_date_due"] or record["invoice_date"]),
                "amount": amount_cell(record["amount_total"]),
                "currency": currency,
                "po_number": text_cell(record["ref"]),
                "status": "void" if record["state"] == "cancel" else "open",
            }
            return PulledRow("invoices", cells, where)
        reversed_entry = record["reversed_entry_id"]
        cells = {
            "credit_note_ref": record["name"],
            "customer_ref": customer_ref,
            "date": date_cell(record["invoice_date"]),
            "amount": amount_cell(record["amount_total"]),
            "currency": currency,
            "invoice_ref": self._move_name(reversed_entry[0]) if reversed_entry else None,
            "reason": text_cell(record["ref"]),
        }
        return PulledRow("credit_notes", cells, where)

    def _move_name(self, move_id: int) -> str:
        if move_id not in self._move_names:
            for record in self.execute("account.move", "read", [[move_id]], fields=["name"]):
                self._move_names[record["id"]] = record["name"]
        return self._move_names.get(move_id, f"odoo-move-{move_id}")

    def _settled_invoices(self, payment_ids: list[int]) -> dict[int, list[tuple[str, Decimal]]]:
        """Per payment, the invoices its reconciliations settled and the amount of each.

        A payment's receivable line (``account.move.line`` with ``payment_id``) is the credit side
        of ``account.partial.reconcile`` rows whose debit side is an invoice's receivable line.
        """
        lines = self.execute(
            "account.move.line",
            "search_read",
            [[["payment_id", "in", payment_ids], ["account_type", "=", "asset_receivable"]]],
            fields=["id", "payment_id"],
        )
        payment_of_line = {line["id"]: line["payment_id"][0] for line in lines or [] if line["payment_id"]}
        if not payment_of_line:
            return {}
        partials = self.execute(
            "account.partial.reconcile",
            "search_read",
            [[["credit_move_id", "in", list(payment_of_line)]]],
            fields=["id", "debit_move_id", "credit_move_id", "amount"],
        )
        debit_ids = sorted({partial["debit_move_id"][0] for partial in partials or []})
        invoice_of_line: dict[int, int] = {}
        if debit_ids:
            for line in self.execute("account.move.line", "read", [debit_ids], fields=["id", "move_id"]):
                invoice_of_line[line["id"]] = line["move_id"][0]
        settled: dict[int, dict[str, Decimal]] = {}
        for partial in partials or []:
            payment_id = payment_of_line[partial["credit_move_id"][0]]
            invoice_id = invoice_of_line.get(partial["debit_move_id"][0])
            if invoice_id is None:
                continue
            name = self._move_name(invoice_id)
            per_invoice = settled.setdefault(payment_id, {})
            per_invoice[name] = per_invoice.get(name, Decimal(0)) + Decimal(str(partial["amount"]))
        return {payment_id: sorted(invoices.items()) for payment_id, invoices in settled.items()}

    def _payment_row_cells(self, record: dict[str, Any]) -> dict[str, str | None]:
        method = record.get("payment_method_line_id")
        return {
            "payment_ref": record["name"],
            "customer_ref": self._customer_ref(record["partner_id"]),
            "date": date_cell(record["date"]),
            "currency": text_cell(record["currency_id"][1]) if record["currency_id"] else None,
            "method": text_cell(method[1]) if method else None,
        }

    def _payment_row(self, record: dict[str, Any], settled: list[tuple[str, Decimal]]) -> list[PulledRow]:
        return payment_rows(
            self._payment_row_cells(record), Decimal(str(record["amount"])), settled,
            f"odoo:account.payment/{record['id']}", text_cell(record.get("ref")),
        )  # fmt: skip

    # -- push -----------------------------------------------------------------------------------

    def push(self, item: PushItem) -> PushResult:
        data = item.data
        if item.kind == "payment":
            return self._push_payment(item)
        model, record_id = self._target(item)
        message_id = self.execute(
            model, "message_post", [[record_id]], body=str(data["note"]), message_type="comment"
        )
        return PushResult(item.key, f"mail.message/{_first_id(message_id)}")

    def _target(self, item: PushItem) -> tuple[str, int]:
        invoice_ref = item.data.get("invoice_ref")
        if invoice_ref:
            ids = self.execute("account.move", "search", [[["name", "=", invoice_ref]]], limit=1)
            if ids:
                return "account.move", int(ids[0])
        return "res.partner", self._partner_id(item.customer_ref)

    def _partner_id(self, customer_ref: str) -> int:
        if customer_ref.startswith("odoo-") and customer_ref[5:].isdigit():
            return int(customer_ref[5:])
        ids = self.execute("res.partner", "search", [[["ref", "=", customer_ref]]], limit=1)
        if not ids:
            raise ConnectorError(f"odoo: no res.partner with ref {customer_ref!r}")
        return int(ids[0])

    def _push_payment(self, item: PushItem) -> PushResult:
        """One ``account.payment.register`` per settled invoice: Odoo posts and reconciles it."""
        data = item.data
        created: list[str] = []
        for allocation in data["allocations"]:
            ids = self.execute(
                "account.move", "search", [[["name", "=", allocation["invoice_ref"]]]], limit=1
            )
            if not ids:
                raise ConnectorError(f"odoo: no account.move named {allocation['invoice_ref']!r}")
            context = {"active_model": "account.move", "active_ids": [int(ids[0])]}
            values: dict[str, Any] = {
                "amount": str(allocation["amount"]),
                "payment_date": str(data["date"]),
                "communication": str(data["payment_ref"]),
            }
            if self.journal_id is not None:
                values["journal_id"] = self.journal_id
            wizard = self.execute("account.payment.register", "create", [values], context=context)
            self.execute(
                "account.payment.register", "action_create_payments", [[_first_id(wizard)]], context=context
            )
            created.append(f"account.payment.register/{_first_id(wizard)}")
        return PushResult(item.key, ",".join(created))

    def close(self) -> None:
        self.http.close()


def _first_id(value: Any) -> int:
    if isinstance(value, list):
        return int(value[0])
    return int(value)
