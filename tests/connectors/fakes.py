"""Fake Odoo, ERPNext and QuickBooks servers answering from recorded payloads (fixtures/*.json).

Each fake is a plain function of the request (method, path, query, body) → (status, JSON), so the
tests mount it on respx (no network) and the benchmark serves it from a real HTTP server on
loopback. They apply the documented filters the adapters send (Odoo domains, Frappe filters,
QuickBooks query statements) to the recorded records, and record what is pushed to them.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import httpx

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def _id(value: Any) -> Any:
    return value[0] if isinstance(value, list) else value


class FakeOdoo:
    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data = copy.deepcopy(data or fixture("odoo"))
        self.calls: list[tuple[str, str]] = []
        self.pushed: list[tuple[str, str, Any, dict[str, Any]]] = []
        self.api_key = "odoo-key"
        self._found: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def changed(self) -> None:
        self._found.clear()

    def _match(self, record: dict[str, Any], domain: list[Any]) -> bool:
        for field, op, value in domain:
            if field not in record:
                continue
            actual = _id(record[field]) if op in ("=", "!=", "in") else record[field]
            if op == "=" and actual != value:
                return False
            if op == "!=" and actual == value:
                return False
            if op == ">=" and not actual >= value:
                return False
            if op == "in" and actual not in value:
                return False
        return True

    def answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The JSON-RPC answer. Searches are cached per domain: change ``data`` through ``changed()``."""
        params = body["params"]
        envelope = {"jsonrpc": "2.0", "id": body["id"]}
        if params["service"] == "common":
            database, login, key = params["args"]
            return 200, {**envelope, "result": 2 if key == self.api_key else False}
        _db, _uid, key, model, method, args, kwargs = params["args"]
        if key != self.api_key:
            return 200, {
                **envelope,
                "error": {
                    "code": 100,
                    "message": "Odoo Session Expired",
                    "data": {"name": "odoo.exceptions.AccessDenied", "message": "Access Denied"},
                },
            }
        self.calls.append((model, method))
        records = self.data.get(model, [])
        if method in ("search_read", "search"):
            key = (model, json.dumps(args[0]))
            if key not in self._found:  # the pages of one search filter and sort once
                matching = [record for record in records if self._match(record, args[0])]
                self._found[key] = sorted(
                    matching, key=lambda record: (record.get("write_date", ""), record["id"])
                )
            found = self._found[key]
            offset = kwargs.get("offset", 0)
            limit = kwargs.get("limit")
            found = found[offset : offset + limit if limit else None]
            if method == "search":
                return 200, {**envelope, "result": [record["id"] for record in found]}
            fields = kwargs.get("fields") or []
            return 200, {
                **envelope,
                "result": [{field: record.get(field, False) for field in fields} for record in found],
            }
        if method == "read":
            fields = kwargs.get("fields") or []
            wanted = set(args[0])
            return 200, {
                **envelope,
                "result": [
                    {"id": r["id"], **{f: r.get(f, False) for f in fields}}
                    for r in records
                    if r["id"] in wanted
                ],
            }
        self.pushed.append((model, method, args, kwargs))
        if method == "message_post":
            return 200, {**envelope, "result": 900 + len(self.pushed)}
        if method == "create":
            return 200, {**envelope, "result": 700 + len(self.pushed)}
        return 200, {
            **envelope,
            "result": {"type": "ir.actions.act_window", "res_model": "account.payment", "res_id": 203},
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        status, body = self.answer(json.loads(request.content))
        return httpx.Response(status, json=body)


class FakeERPNext:
    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data = copy.deepcopy(data or fixture("erpnext"))
        self.token = "token key1:secret1"
        self.pushed: list[tuple[str, dict[str, Any]]] = []
        self.gets = 0

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, auth: str
    ) -> tuple[int, Any]:
        if auth != self.token:
            return 401, {"exc_type": "AuthenticationError", "message": "Invalid token"}
        parts = unquote(path).removeprefix("/api/resource/").split("/", 1)
        doctype = parts[0]
        if method == "POST":
            self.pushed.append((doctype, body))
            return 200, {
                "data": {**body, "name": f"NEW-{doctype[:3].upper()}-{len(self.pushed)}", "doctype": doctype}
            }
        self.gets += 1
        records = self.data.get(doctype, [])
        if len(parts) == 2:
            for record in records:
                if record["name"] == parts[1]:
                    return 200, {"data": record}
            return 404, {"exc_type": "DoesNotExistError", "message": f"{doctype} {parts[1]} not found"}
        filters = json.loads(query.get("filters", ["[]"])[0])
        found = []
        for record in records:
            keep = True
            for _doctype, field, op, value in filters:
                actual = record.get(field)
                if (
                    (op == "=" and actual != value)
                    or (op == ">=" and not str(actual) >= value)
                    or (op == "in" and actual not in value)
                ):
                    keep = False
            if keep:
                found.append(record)
        found.sort(key=lambda record: (record["modified"], record["name"]))
        start = int(query.get("limit_start", ["0"])[0])
        length = int(query.get("limit_page_length", ["20"])[0])
        fields = json.loads(query.get("fields", ['["name"]'])[0])
        return 200, {
            "data": [
                {field: record.get(field) for field in fields} for record in found[start : start + length]
            ]
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        status, answer = self.answer(
            request.method,
            request.url.path,
            parse_qs(request.url.query.decode()),
            body,
            request.headers.get("authorization", ""),
        )
        return httpx.Response(status, json=answer)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class FakeQuickBooks:
    """Refresh tokens rotate: each refresh answers a new one and the old one is refused (400
    invalid_grant), as Intuit does."""

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self.data = copy.deepcopy(data or fixture("quickbooks"))
        self.refresh_token = "RT-0"
        self.access_tokens: set[str] = set()
        self.refreshes = 0
        self.queries: list[str] = []
        self.pushed: list[tuple[str, dict[str, Any]]] = []

    def token(self, form: dict[str, list[str]]) -> tuple[int, Any]:
        if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [self.refresh_token]:
            return 400, {"error": "invalid_grant"}
        self.refreshes += 1
        self.refresh_token = f"RT-{self.refreshes}"
        access = f"AT-{self.refreshes}"
        self.access_tokens.add(access)
        return 200, {**self.data["token"], "access_token": access, "refresh_token": self.refresh_token}

    def query(self, statement: str) -> dict[str, Any]:
        self.queries.append(statement)
        entity = re.search(r"from (\w+)", statement, re.I).group(1)
        records = self.data.get(entity, [])
        if m := re.search(r"LastUpdatedTime >= '([^']+)'", statement):
            since = _instant(m.group(1))
            records = [r for r in records if _instant(r["MetaData"]["LastUpdatedTime"]) >= since]
        if m := re.search(r"Id in \(([^)]*)\)", statement):
            ids = {part.strip().strip("'") for part in m.group(1).split(",")}
            records = [r for r in records if r["Id"] in ids]
        if m := re.search(r"DocNumber = '([^']+)'", statement):
            records = [r for r in records if r.get("DocNumber") == m.group(1)]
        records = sorted(records, key=lambda r: _instant(r["MetaData"]["LastUpdatedTime"]))
        start = int(m.group(1)) if (m := re.search(r"startposition (\d+)", statement, re.I)) else 1
        size = int(m.group(1)) if (m := re.search(r"maxresults (\d+)", statement, re.I)) else 100
        page = records[start - 1 : start - 1 + size]
        answer: dict[str, Any] = {"startPosition": start, "maxResults": len(page)} if page else {}
        if page:
            answer[entity] = page
        return {"QueryResponse": answer, "time": "2026-12-07T08:00:00.000-08:00"}

    def answer(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, auth: str
    ) -> tuple[int, Any]:
        if auth.removeprefix("Bearer ") not in self.access_tokens:
            return 401, {
                "fault": {
                    "error": [{"message": "message=AuthenticationFailed", "code": "3200"}],
                    "type": "AUTHENTICATION",
                }
            }
        tail = path.split("/v3/company/", 1)[1].split("/", 1)[1]
        if tail == "query":
            return 200, self.query(query["query"][0])
        if method == "GET" and tail.startswith("customer/"):
            customer_id = tail.split("/")[1]
            return 200, {"Customer": next(c for c in self.data["Customer"] if c["Id"] == customer_id)}
        self.pushed.append((tail, body))
        name = {"payment": "Payment", "invoice": "Invoice", "customer": "Customer"}[tail]
        return 200, {name: {**body, "Id": body.get("Id", str(900 + len(self.pushed))), "SyncToken": "1"}}

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/tokens/bearer"):
            status, answer = self.token(parse_qs(request.content.decode()))
            return httpx.Response(status, json=answer)
        body = json.loads(request.content) if request.content else None
        status, answer = self.answer(
            request.method,
            request.url.path,
            parse_qs(request.url.query.decode()),
            body,
            request.headers.get("authorization", ""),
        )
        return httpx.Response(status, json=answer)
