"""The search box: customers, contacts, invoices and amounts the user may see."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q
from django.utils.translation import get_language

from relance.accounts.selectors import customers_visible
from relance.core.formatting import format_money
from relance.ledger.models import Entity, Invoice

# --------------------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchHit:
    kind: str
    label: str
    detail: str
    url: str
    customer_id: int
    extra: dict[str, Any] = field(default_factory=dict)


AMOUNT_PATTERN = re.compile(r"^-?[\d\s.,']+$")


def _amount(text: str) -> Decimal | None:
    """An amount typed by a person: ``1234.5``, ``1 234,50``, ``1,234.50``; None if it is not one."""
    if not AMOUNT_PATTERN.match(text) or not any(ch.isdigit() for ch in text):
        return None
    cleaned = text.replace(" ", "").replace("'", "")
    if "," in cleaned and "." in cleaned:
        cleaned = (
            cleaned.replace(",", "")
            if cleaned.rfind(".") > cleaned.rfind(",")
            else cleaned.replace(".", "").replace(",", ".")
        )
    elif "," in cleaned:
        head, _, tail = cleaned.rpartition(",")
        cleaned = f"{head.replace(',', '')}.{tail}" if len(tail) != 3 else cleaned.replace(",", "")
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


def search(*, user: Any, query: str, entity: Entity | None = None, limit: int = 10) -> list[SearchHit]:
    """Customers by name, reference or tax id, contacts by name, e-mail or phone, invoices by
    number, and invoices whose amount or open amount is exactly the amount typed; only in the
    entities (and accounts) the user sees.

    Names are compared folded (``relance.core.text.fold``: no accents, no case) through the
    ``search_text`` column the ledger keeps on every write: "jimenez" finds "Jiménez" in SQLite
    and PostgreSQL alike. A prefix match comes first, then a contains match fills up.
    """
    from django.urls import reverse

    from relance.core.text import fold
    from relance.ledger.models import Contact
    from relance.ledger.selectors import invoice_list_with_open

    query = query.strip()
    folded = fold(query)
    if len(folded) < 2:
        return []
    customers = customers_visible(user, entity=entity)
    hits: list[SearchHit] = []
    seen: set[int] = set()
    for lookup in ("startswith", "contains"):
        if len(hits) >= limit:
            break
        matches = (
            customers.filter(**{f"search_text__{lookup}": folded})
            .exclude(pk__in=seen)
            .order_by("name")[: limit - len(hits)]
        )
        for customer in matches.values("pk", "name", "external_ref", "entity__name"):
            seen.add(customer["pk"])
            hits.append(
                SearchHit(
                    "customer",
                    customer["name"],
                    f"{customer['external_ref']} · {customer['entity__name']}",
                    reverse("workspace:customer", args=[customer["pk"]]),
                    customer["pk"],
                )
            )
    contacts = (
        Contact.objects.filter(customer__in=customers, search_text__contains=folded)
        .order_by("name", "pk")
        .values("name", "email", "phone", "customer_id", "customer__name")[:limit]
    )
    for contact in contacts:
        hits.append(
            SearchHit(
                "contact",
                contact["name"] or contact["email"] or contact["phone"],
                " · ".join(
                    part for part in (contact["email"], contact["phone"], contact["customer__name"]) if part
                ),
                reverse("workspace:customer", args=[contact["customer_id"]]),
                contact["customer_id"],
            )
        )
    invoices = Invoice.objects.filter(customer__in=customers)
    invoice_rows: list[Any] = list(
        invoices.filter(Q(external_ref__istartswith=query) | Q(po_number__istartswith=query))
        .order_by("external_ref")
        .values("pk", "external_ref", "amount", "currency", "customer_id", "customer__name")[:limit]
    )
    amount = _amount(query)
    if amount is not None and amount > 0:
        exact = invoices.filter(amount=amount).values(
            "pk", "external_ref", "amount", "currency", "customer_id", "customer__name"
        )[:limit]
        invoice_rows += list(exact)
        if entity is not None:
            open_match = (
                invoice_list_with_open(entity=entity)
                .filter(customer__in=customers, open_amount=amount)
                .exclude(amount=amount)
                .values("pk", "external_ref", "amount", "currency", "customer_id", "customer__name")[:limit]
            )
            invoice_rows += list(open_match)
    seen_invoices: set[int] = set()
    for row in invoice_rows:
        if row["pk"] in seen_invoices:
            continue
        seen_invoices.add(row["pk"])
        hits.append(
            SearchHit(
                "invoice",
                row["external_ref"],
                f"{format_money(row['amount'], row['currency'], get_language())} · {row['customer__name']}",
                reverse("workspace:customer", args=[row["customer_id"]]),
                row["customer_id"],
            )
        )
    return hits[: limit * 3]
