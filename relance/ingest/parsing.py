"""Row validation: canonical text cells → frozen records (see ``records.py``).

The canonical columns of each kind are declared once in ``COLUMNS`` so that the header check,
the mapping check, the error messages and docs/import.md all say the same thing.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from relance.core.calendar import parse_iso_date
from relance.core.channels import LEGACY_NAMES, PREFERRED_CHANNELS
from relance.core.errors import ErrorList, FieldError, ValidationFailed
from relance.core.identifiers import (
    PLAIN_MULTILINE_EXPECTED,
    PLAIN_TEXT_EXPECTED,
    has_unsafe_text,
    normalise_phone,
    normalise_tax_id,
    validate_country,
    validate_language,
)
from relance.core.money import iso_currencies, parse_amount, validate_currency
from relance.ingest.records import (
    KINDS,
    RATE_KIND,
    AllocationRecord,
    ContactRecord,
    CreditNoteRecord,
    CustomerRecord,
    DisputeRecord,
    ExchangeRateRecord,
    InvoiceRecord,
    OrderRecord,
    PaymentRecord,
    Record,
)

if TYPE_CHECKING:
    from relance.ledger.models import Entity

UNKNOWN_KIND = "unknown import kind {kind!r}: expected one of " + ", ".join(KINDS)
EXPECTED_REQUIRED = "a value (required)"
EXPECTED_DATE_ISO = "a date YYYY-MM-DD"
EXPECTED_DATE_FORMAT = "a date in the format {date_format}"
EXPECTED_AMOUNT = "a positive amount with '{decimal}' as decimal separator and at most 4 decimals"
EXPECTED_NON_NEGATIVE = "an amount of 0 or more with '{decimal}' as decimal separator"
EXPECTED_CURRENCY = "an ISO 4217 currency code such as EUR"
EXPECTED_COUNTRY = "an ISO 3166 alpha-2 country code such as FR"
EXPECTED_LANGUAGE = "a language code such as en, fr, zh-hans"
EXPECTED_EMAIL = "an e-mail address"
EXPECTED_PHONE = "a valid phone number (international +… or national for the customer's country {country})"
EXPECTED_INTEGER = "a whole number of days (0 or more)"
EXPECTED_BOOLEAN = "yes/no, true/false or 1/0"
EXPECTED_KNOWN_CUSTOMER = "a customer_ref already imported for this entity"
EXPECTED_DUE_AFTER_ISSUE = "a due date on or after the issue date {issue_date}"
EXPECTED_TIMEZONE = "an IANA time zone such as Europe/Paris"
EXPECTED_TEXT_MAX = "at most {max_length} characters"
EXPECTED_CHOICE = "one of {choices}"

MAX_INTEGER_DIGITS = 14  # the ledger stores money as 18 digits with 4 decimals
TRUE_WORDS = {"1", "true", "yes", "y", "t", "oui", "x"}
FALSE_WORDS = {"0", "false", "no", "n", "f", "non"}
CHANNELS = PREFERRED_CHANNELS  # a file may still say "phone": read as "call" (core.channels)
INVOICE_STATUSES = ("open", "void")
# ledger.OrderStatus: open (not delivered), delivered (not invoiced), invoiced, cancelled.
ORDER_STATUSES = ("open", "delivered", "invoiced", "cancelled")
# The cases app's choices (``relance.cases.models``), spelt here so that the columns (and
# docs/import.md) need no Django; tests/ingest/test_import_disputes.py checks they agree.
DISPUTE_REASONS = (
    "pricing",
    "quantity",
    "quality",
    "not_received",
    "duplicate",
    "already_paid",
    "po_missing",
    "short_payment",
    "other",
)
DISPUTE_RESOLUTIONS = ("credit_note", "write_off", "rejected", "withdrawn")
EXPECTED_RESOLVED_AFTER_OPENED = "a resolution date on or after opened_on {opened_on}"
EXPECTED_RETURNED_AFTER_DATE = "a return date on or after the payment date {date}"
EXPECTED_RATE = (
    "a rate above 0 with '{decimal}' as decimal separator, at most 8 decimals and 10 digits before it"
)
EXPECTED_OTHER_CURRENCY = "a currency other than base_currency {base} (a currency converts to itself at 1)"
RATE_DECIMALS = 8  # ledger.ExchangeRate.rate: Decimal(18, 8)
RATE_INTEGER_DIGITS = 10


@dataclass(frozen=True)
class Column:
    """One canonical column: documented in docs/import.md and checked against file headers."""

    name: str
    type: str
    required: bool
    example: str
    description: str


def _c(name: str, type_: str, required: bool, example: str, description: str) -> Column:
    return Column(name, type_, required, example, description)


COLUMNS: dict[str, tuple[Column, ...]] = {
    "customers": (
        _c(
            "customer_ref",
            "text ≤64",
            True,
            "C-1001",
            "the ERP's customer number; the key, unique per entity",
        ),
        _c("name", "text ≤200", True, "Dupont SARL", "account name"),
        _c("currency", "ISO 4217", False, "EUR", "account currency (default: the entity's)"),
        _c("payment_terms_days", "integer ≥0", False, "30", "standard terms (default 30)"),
        _c("credit_limit", "amount ≥0", False, "50000.00", "credit limit in the account currency"),
        _c("segment", "text ≤64", False, "SMB", "free segment label used in reports"),
        _c("language", "language code", False, "fr", "language of reminders (default: the entity's)"),
        _c("country", "ISO 3166 alpha-2", False, "FR", "country; default region for national phone numbers"),
        _c("email", "e-mail", False, "ap@dupont.fr", "creates/updates the primary billing contact"),
        _c("phone", "phone", False, "+33 1 23 45 67 89", "normalised to E.164; primary billing contact"),
        _c("parent_ref", "customer_ref", False, "C-1000", "parent account (in the database or the file)"),
        _c("tax_id", "tax id", False, "FR40303265045", "VAT/tax id, validated for the country"),
        _c("registration_id", "text ≤64", False, "303265045", "company registration number"),
        _c("timezone", "IANA zone", False, "Europe/Paris", "customer's time zone"),
    ),
    "contacts": (
        _c("customer_ref", "customer_ref", True, "C-1001", "an existing customer"),
        _c("contact_ref", "text ≤64", False, "CT-7", "the key when given; otherwise customer_ref + email"),
        _c("name", "text ≤200", False, "Marie Curie", "person or mailbox name"),
        _c("role", "text ≤32", False, "billing", "billing, accounts payable, … (default billing)"),
        _c("email", "e-mail", False, "marie@dupont.fr", "stored in lower case"),
        _c("phone", "phone", False, "06 12 34 56 78", "normalised to E.164 with the customer's country"),
        _c("preferred_channel", "choice", False, "email", "one of " + ", ".join(CHANNELS)),
        _c("postal_address", "text", False, "1 rue de la Paix, 75002 Paris", "for letters"),
        _c("opt_out_email", "boolean", False, "no", "yes/no, true/false, 1/0"),
        _c("opt_out_sms", "boolean", False, "no", "yes/no, true/false, 1/0"),
        _c("opt_out_letter", "boolean", False, "no", "yes/no, true/false, 1/0"),
        _c("opt_out_phone", "boolean", False, "no", "yes/no, true/false, 1/0"),
    ),
    "invoices": (
        _c(
            "invoice_ref", "text ≤64", True, "INV-2026-0001", "the invoice number; the key, unique per entity"
        ),
        _c("customer_ref", "customer_ref", True, "C-1001", "an existing customer"),
        _c("issue_date", "date", True, "2026-01-15", "YYYY-MM-DD (or the mapping's date_format)"),
        _c("due_date", "date", True, "2026-02-14", "on or after issue_date"),
        _c("currency", "ISO 4217", False, "EUR", "default: the customer's currency"),
        _c("amount", "amount >0", True, "1200.00", "gross amount, '.' as decimal point"),
        _c("po_number", "text ≤64", False, "PO-889", "customer's purchase order"),
        _c("status", "choice", False, "open", "open or void (default open)"),
    ),
    "credit_notes": (
        _c("credit_note_ref", "text ≤64", True, "CN-2026-0001", "the key, unique per entity"),
        _c("customer_ref", "customer_ref", True, "C-1001", "an existing customer"),
        _c("date", "date", True, "2026-01-20", "date of the credit note"),
        _c("amount", "amount >0", True, "100.00", "credited amount"),
        _c("currency", "ISO 4217", False, "EUR", "default: the customer's currency"),
        _c(
            "invoice_ref",
            "invoice_ref",
            False,
            "INV-2026-0001",
            "when given, allocated in full to it on date",
        ),
        _c("reason", "text ≤200", False, "price adjustment", "free text"),
    ),
    "payments": (
        _c("payment_ref", "text ≤64", True, "PAY-778", "rows sharing payment_ref are one payment"),
        _c("customer_ref", "customer_ref", True, "C-1001", "an existing customer"),
        _c("date", "date", True, "2026-02-10", "value date; allocations are made on this date"),
        _c("amount", "amount >0", True, "500.00", "this row's part of the payment"),
        _c("currency", "ISO 4217", False, "EUR", "default: the customer's currency"),
        _c(
            "invoice_ref",
            "invoice_ref",
            False,
            "INV-2026-0001",
            "invoice this row settles; empty = unapplied",
        ),
        _c("method", "text ≤32", False, "transfer", "transfer, card, cheque, …"),
        _c(
            "returned_on",
            "date",
            False,
            "2026-02-24",
            "when the payment came back unpaid (NSF, chargeback); on or after date",
        ),
    ),
    "orders": (
        _c(
            "order_ref",
            "text ≤64",
            True,
            "SO-2026-0042",
            "the ERP's order number; the key, unique per entity",
        ),
        _c("customer_ref", "customer_ref", True, "C-1001", "an existing customer"),
        _c("date", "date", True, "2026-03-02", "order date"),
        _c("currency", "ISO 4217", False, "EUR", "default: the customer's currency"),
        _c("amount", "amount >0", True, "4800.00", "amount not yet invoiced, '.' as decimal point"),
        _c("status", "choice", False, "open", "one of " + ", ".join(ORDER_STATUSES) + " (default open)"),
    ),
    "disputes": (
        _c("invoice_ref", "invoice_ref", True, "INV-2026-0001", "an invoice already imported"),
        _c(
            "opened_on",
            "date",
            True,
            "2026-02-01",
            "the day the customer raised it; with invoice_ref, the key",
        ),
        _c("reason_code", "choice", True, "pricing", "one of " + ", ".join(DISPUTE_REASONS)),
        _c("amount", "amount >0", False, "300.00", "the contested part (default: all open on opened_on)"),
        _c("resolved_on", "date", False, "2026-03-01", "when it was settled; on or after opened_on"),
        _c(
            "resolution",
            "choice",
            False,
            "rejected",
            "one of " + ", ".join(DISPUTE_RESOLUTIONS) + " (required with resolved_on)",
        ),
        _c("note", "text", False, "customer says 10 units missing", "free text"),
    ),
    RATE_KIND: (
        _c("date", "date", True, "2026-03-02", "the rate applies from this date until the pair's next one"),
        _c("base_currency", "ISO 4217", True, "USD", "1 unit of this currency…"),
        _c("quote_currency", "ISO 4217", True, "EUR", "…is worth rate units of this one"),
        _c("rate", "rate >0", True, "0.92153000", "at most 8 decimals, '.' as decimal point"),
    ),
}


def column_names(kind: str) -> tuple[str, ...]:
    return tuple(column.name for column in COLUMNS[check_kind(kind)])


def required_columns(kind: str) -> tuple[str, ...]:
    return tuple(column.name for column in COLUMNS[check_kind(kind)] if column.required)


def check_kind(kind: str) -> str:
    if kind not in COLUMNS:
        raise ValidationFailed(UNKNOWN_KIND.format(kind=kind))
    return kind


@dataclass(frozen=True)
class CustomerInfo:
    """What row validation needs to know about an existing customer."""

    id: int
    currency: str
    country: str
    parent_id: int | None


@dataclass(frozen=True)
class ParseOptions:
    """How text cells are written in the source (from the mapping file; defaults are canonical)."""

    date_format: str | None = None  # strptime format; None = ISO YYYY-MM-DD
    decimal_separator: str = "."
    thousands_separator: str = ""


_fromisoformat = date.fromisoformat
_PLAIN_AMOUNT = re.compile(rf"[0-9]{{1,{MAX_INTEGER_DIGITS}}}(?:\.([0-9]{{1,4}}))?").fullmatch


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class _Row:
    """Collects the FieldErrors of one row while its cells are converted."""

    def __init__(self, row: Mapping[str, str | None], line: int | None, source: str) -> None:
        self.row = row
        self.line = line
        self.source = source
        self.errors: list[FieldError] = []

    def error(self, field: str, expected: str, found: object = "") -> None:
        self.errors.append(
            FieldError(field, expected, "" if found is None else str(found), self.line, self.source)
        )

    def text(
        self, field: str, *, required: bool = False, max_length: int | None = None, multiline: bool = False
    ) -> str | None:
        """The stripped cell, or None with an error: every text cell of every kind passes here, so
        refs and names from files and from the API refuse control characters in one place."""
        value = self.row.get(field)
        value = value.strip() if value is not None else ""
        if not value:
            if required:
                self.error(field, EXPECTED_REQUIRED)
            return None
        if has_unsafe_text(value, multiline=multiline):
            self.error(field, PLAIN_MULTILINE_EXPECTED if multiline else PLAIN_TEXT_EXPECTED, value[:80])
            return None
        if max_length is not None and len(value) > max_length:
            self.error(field, EXPECTED_TEXT_MAX.format(max_length=max_length), value[:80])
            return None
        return value

    def convert(
        self, field: str, function: Callable[[str], Any], expected: str, *, required: bool = False
    ) -> Any:
        value = self.text(field, required=required)
        if value is None:
            return None
        try:
            return function(value)
        except (ValidationFailed, ValueError, ArithmeticError, ValidationError):
            self.error(field, expected, value)
            return None


class RowParser:
    """Validates rows of one kind for one entity, caching customer look-ups across rows.

    With ``preload`` every customer of the entity is read once (memory grows with the number of
    customers, not with the file); without it each distinct customer_ref costs one query.
    """

    def __init__(
        self, kind: str, *, entity: Entity, preload: bool = True, options: ParseOptions | None = None
    ) -> None:
        self.kind = check_kind(kind)
        self.entity = entity
        self.options = options or ParseOptions()
        self._customers: dict[str, CustomerInfo | None] = {}
        self._places: dict[str, int] = {}  # minor units by currency
        self._preloaded = False
        if preload:
            self._preload()
        self._parse = getattr(self, f"_parse_{kind}")
        fmt = self.options.date_format
        self._expected_date = EXPECTED_DATE_FORMAT.format(date_format=fmt) if fmt else EXPECTED_DATE_ISO
        self._expected_amount = EXPECTED_AMOUNT.format(decimal=self.options.decimal_separator)
        self._date = self._date_with_format if fmt else parse_iso_date
        plain_numbers = self.options.decimal_separator == "." and not self.options.thousands_separator
        self._fast = self._fast_invoice if kind == "invoices" and plain_numbers else None

    # -- customers cache -------------------------------------------------------------------------
    def _preload(self) -> None:
        from relance.ledger.models import Customer
        from relance.ledger.selectors import customer_aliases

        # a merged customer's ref is an alias of its survivor: its rows land there
        aliases: dict[int, list[str]] = {}
        for alias, customer_id in customer_aliases(entity_id=self.entity.pk).items():
            aliases.setdefault(customer_id, []).append(alias)
        rows = Customer.objects.filter(entity=self.entity).values_list(
            "external_ref", "id", "currency", "country", "parent_id"
        )
        for ref, pk, currency, country, parent_id in rows.iterator(chunk_size=5000):
            info = CustomerInfo(pk, currency, country, parent_id)
            self._customers[ref] = info
            for alias in aliases.get(pk, ()):
                self._customers[alias] = info
        self._preloaded = True

    def customer(self, ref: str) -> CustomerInfo | None:
        if ref not in self._customers and not self._preloaded:
            self.customers_look_up([ref])
        return self._customers.get(ref)

    def customers_look_up(self, refs: Iterable[str]) -> None:
        """Read the customers of ``refs`` not known yet in two queries a 500 (by ref or alias, then
        their rows), so that ``customer`` answers them from memory: a writer's batch looks its
        customers up at once, not two queries a ref."""
        if self._preloaded:
            return
        from relance.ledger.models import Customer
        from relance.ledger.selectors import customer_ids_by_ref

        wanted = sorted({ref for ref in refs if ref not in self._customers})
        if not wanted:
            return
        ids = customer_ids_by_ref(entity_id=self.entity.pk, refs=wanted)
        pks = sorted(set(ids.values()))
        infos: dict[int, CustomerInfo] = {}
        for start in range(0, len(pks), 500):
            for row in Customer.objects.filter(pk__in=pks[start : start + 500]).values_list(
                "id", "currency", "country", "parent_id"
            ):
                infos[row[0]] = CustomerInfo(*row)
        for ref in wanted:
            pk = ids.get(ref)
            self._customers[ref] = None if pk is None else infos.get(pk)

    def known_customers(self) -> dict[str, CustomerInfo] | None:
        """Every customer of the entity by ref, when they were preloaded (the columnar import
        looks refs up a column at a time); None otherwise."""
        if not self._preloaded:
            return None
        return {ref: info for ref, info in self._customers.items() if info is not None}

    def remember(self, customer: Any) -> None:
        """Record a customer written by this import so later rows see it."""
        self._customers[customer.external_ref] = CustomerInfo(
            customer.pk, customer.currency, customer.country, customer.parent_id
        )

    # -- cells -----------------------------------------------------------------------------------
    def _date_with_format(self, text: str) -> date:
        try:
            return datetime.strptime(text, self.options.date_format or "").date()
        except ValueError:
            # XLSX date cells arrive as ISO text whatever the mapping's format says.
            return parse_iso_date(text)

    def _number(self, text: str) -> Decimal:
        """A decimal written with the mapping's separators (never a float)."""
        options = self.options
        if options.thousands_separator:
            text = text.replace(options.thousands_separator, "")
        if options.decimal_separator != ".":
            if "." in text:
                raise ValidationFailed("unexpected '.'")
            text = text.replace(options.decimal_separator, ".")
        return parse_amount(text)

    def _decimal(self, text: str) -> Decimal:
        value = self._number(text)
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -4:
            raise ValidationFailed("more than 4 decimals")
        if value.adjusted() >= MAX_INTEGER_DIGITS:
            raise ValidationFailed("too large")
        return value

    def _amount(self, cells: _Row, field: str = "amount", *, required: bool = True) -> Decimal | None:
        expected = self._expected_amount
        value = cells.convert(field, self._decimal, expected, required=required)
        if value is not None and value <= 0:
            cells.error(field, expected, cells.row.get(field))
            return None
        return value

    def _currency(self, cells: _Row, customer: CustomerInfo | None) -> str | None:
        currency = cells.convert("currency", validate_currency, EXPECTED_CURRENCY)
        if currency is None and cells.text("currency") is None:
            return customer.currency if customer else None
        return currency

    def _customer_ref(self, cells: _Row) -> tuple[str | None, CustomerInfo | None]:
        ref = cells.text("customer_ref", required=True, max_length=64)
        if ref is None:
            return None, None
        customer = self.customer(ref)
        if customer is None:
            cells.error("customer_ref", EXPECTED_KNOWN_CUSTOMER, ref)
        return ref, customer

    def _phone(self, cells: _Row, region: str) -> str | None:
        expected = EXPECTED_PHONE.format(country=region or "unknown")
        return cells.convert("phone", lambda text: normalise_phone(text, region or None), expected)

    def _email(self, cells: _Row) -> str | None:
        def check(text: str) -> str:
            validate_email(text)
            return text.lower()

        return cells.convert("email", check, EXPECTED_EMAIL)

    def _boolean(self, cells: _Row, field: str) -> bool | None:
        def check(text: str) -> bool:
            word = text.lower()
            if word in TRUE_WORDS:
                return True
            if word in FALSE_WORDS:
                return False
            raise ValueError(text)

        return cells.convert(field, check, EXPECTED_BOOLEAN)

    def _choice(self, cells: _Row, field: str, choices: tuple[str, ...]) -> str | None:
        def check(text: str) -> str:
            value = str(LEGACY_NAMES.get(text.lower(), text.lower())) if choices is CHANNELS else text.lower()
            if value not in choices:
                raise ValueError(text)
            return value

        return cells.convert(field, check, EXPECTED_CHOICE.format(choices=", ".join(choices)))

    # -- kinds -----------------------------------------------------------------------------------
    def parse(self, row: Mapping[str, str | None], *, line: int | None = None, source: str = "") -> Record:
        if self._fast is not None:
            record = self._fast(row, line, source)
            if record is not None:
                return record  # the fast path checked the currency's minor units too
        cells = _Row(row, line, source)
        record = self._parse(cells)
        if cells.errors:
            raise ErrorList(cells.errors)
        _check_minor_units(record, row, line, source)
        return record

    def _parse_customers(self, cells: _Row) -> CustomerRecord | None:
        ref = cells.text("customer_ref", required=True, max_length=64)
        name = cells.text("name", required=True, max_length=200)
        country = cells.convert("country", validate_country, EXPECTED_COUNTRY)
        existing = self.customer(ref) if ref else None
        own_country = country or (existing.country if existing else "")
        # Phones need a region for national numbers: fall back to the entity's country. Tax ids are
        # only checked against the customer's own country, as Customer.clean does.
        region = own_country or self.entity.country
        terms = cells.convert("payment_terms_days", _non_negative_int, EXPECTED_INTEGER)
        credit_limit = cells.convert(
            "credit_limit",
            _non_negative(self._decimal),
            EXPECTED_NON_NEGATIVE.format(decimal=self.options.decimal_separator),
        )
        tax_id = cells.text("tax_id", max_length=32)
        if tax_id is not None:
            try:
                tax_id = normalise_tax_id(tax_id, own_country) if own_country else tax_id
            except ValidationFailed as exc:
                cells.error("tax_id", f"a valid tax id for {own_country} ({exc.message})", tax_id)
        timezone = cells.text("timezone", max_length=64)
        if timezone is not None and timezone not in _timezones():
            cells.error("timezone", EXPECTED_TIMEZONE, timezone)
        parent_ref = cells.text("parent_ref", max_length=64)
        if parent_ref is not None and parent_ref == ref:
            cells.error("parent_ref", "another customer's ref (not the customer itself)", parent_ref)
        record = CustomerRecord(
            customer_ref=ref or "",
            name=name or "",
            currency=cells.convert("currency", validate_currency, EXPECTED_CURRENCY),
            payment_terms_days=terms,
            credit_limit=credit_limit,
            segment=cells.text("segment", max_length=64),
            language=cells.convert("language", validate_language, EXPECTED_LANGUAGE),
            country=country,
            email=self._email(cells),
            phone=self._phone(cells, region),
            parent_ref=parent_ref,
            tax_id=tax_id,
            registration_id=cells.text("registration_id", max_length=64),
            timezone=timezone,
            line=cells.line,
            source=cells.source,
        )
        return record

    def _parse_contacts(self, cells: _Row) -> ContactRecord:
        ref, customer = self._customer_ref(cells)
        region = (customer.country if customer else "") or self.entity.country
        contact_ref = cells.text("contact_ref", max_length=64)
        email = self._email(cells)
        if contact_ref is None and email is None and not any(e.field == "email" for e in cells.errors):
            cells.error("email", "an e-mail address or a contact_ref (one of them identifies the contact)")
        return ContactRecord(
            customer_ref=ref or "",
            contact_ref=contact_ref,
            name=cells.text("name", max_length=200),
            role=cells.text("role", max_length=32),
            email=email,
            phone=self._phone(cells, region),
            preferred_channel=self._choice(cells, "preferred_channel", CHANNELS),
            postal_address=cells.text("postal_address", multiline=True),
            opt_out_email=self._boolean(cells, "opt_out_email"),
            opt_out_sms=self._boolean(cells, "opt_out_sms"),
            opt_out_letter=self._boolean(cells, "opt_out_letter"),
            opt_out_phone=self._boolean(cells, "opt_out_phone"),
            line=cells.line,
            source=cells.source,
        )

    def _parse_invoices(self, cells: _Row) -> InvoiceRecord:
        ref = cells.text("invoice_ref", required=True, max_length=64)
        customer_ref, customer = self._customer_ref(cells)
        expected_date = self._expected_date
        issue_date = cells.convert("issue_date", self._date, expected_date, required=True)
        due_date = cells.convert("due_date", self._date, expected_date, required=True)
        if issue_date is not None and due_date is not None and due_date < issue_date:
            cells.error(
                "due_date", EXPECTED_DUE_AFTER_ISSUE.format(issue_date=issue_date), cells.row.get("due_date")
            )
        return InvoiceRecord(
            invoice_ref=ref or "",
            customer_ref=customer_ref or "",
            issue_date=issue_date,
            due_date=due_date,
            currency=self._currency(cells, customer) or "",
            amount=self._amount(cells) or Decimal(0),
            po_number=cells.text("po_number", max_length=64),
            status=self._choice(cells, "status", INVOICE_STATUSES),
            line=cells.line,
            source=cells.source,
        )

    def _fast_invoice(
        self, row: Mapping[str, str | None], line: int | None, source: str
    ) -> InvoiceRecord | None:
        """The common valid invoice row, checked with fewer steps (imports of millions of rows
        spend most of their time here). Anything unusual returns None and goes through the full
        validation, which also produces the error messages; tests check both paths agree."""
        try:
            ref = row["invoice_ref"].strip()  # type: ignore[union-attr]
            customer_ref = row["customer_ref"].strip()  # type: ignore[union-attr]
            customer = self._customers.get(customer_ref)
            if customer is None or not ref or len(ref) > 64 or len(customer_ref) > 64:
                return None
            issue_text = row["issue_date"].strip()  # type: ignore[union-attr]
            due_text = row["due_date"].strip()  # type: ignore[union-attr]
            if self.options.date_format:
                issue_date, due_date = self._date(issue_text), self._date(due_text)
            elif (
                len(issue_text) == 10
                and len(due_text) == 10
                and issue_text[4] == issue_text[7] == due_text[4] == due_text[7] == "-"
            ):  # parse_iso_date's layout check, inline
                issue_date, due_date = _fromisoformat(issue_text), _fromisoformat(due_text)
            else:
                return None
            # Plain digits, at most 14 before the point and 4 after: finite and within the ledger's
            # precision without inspecting the Decimal (anything else takes the full path).
            amount_text = row["amount"].strip()  # type: ignore[union-attr]
            plain = _PLAIN_AMOUNT(amount_text)
            if plain is None or due_date < issue_date:
                return None
            amount = Decimal(amount_text)
            if amount <= 0:
                return None
            decimals = len(plain[1] or "")
            currency = (row.get("currency") or "").strip()
            if currency:
                if currency not in iso_currencies():
                    return None
            else:
                currency = customer.currency
            # Finer than the currency's minor unit as written (10.500 EUR, 10.5 JPY): the full
            # path decides (_check_minor_units).
            if decimals > self._minor_units(currency):
                return None
            po_number = (row.get("po_number") or "").strip() or None
            status = (row.get("status") or "").strip().lower() or None
            if (po_number is not None and len(po_number) > 64) or (
                status is not None and status not in INVOICE_STATUSES
            ):
                return None
            if not (ref + customer_ref + (po_number or "")).isprintable():
                return None  # maybe a control character: the full path says which field
        except (KeyError, AttributeError, ValueError, ArithmeticError, ValidationFailed):
            return None
        return InvoiceRecord(
            ref, customer_ref, issue_date, due_date, currency, amount, po_number, status, line, source
        )

    def minor_units(self, currency: str) -> int:
        return self._minor_units(currency)

    def _minor_units(self, currency: str) -> int:
        places = self._places.get(currency)
        if places is None:
            from relance.core.money import minor_units

            places = self._places[currency] = minor_units(currency)
        return places

    def _parse_credit_notes(self, cells: _Row) -> CreditNoteRecord:
        ref = cells.text("credit_note_ref", required=True, max_length=64)
        customer_ref, customer = self._customer_ref(cells)
        return CreditNoteRecord(
            credit_note_ref=ref or "",
            customer_ref=customer_ref or "",
            date=cells.convert("date", self._date, self._expected_date, required=True),
            currency=self._currency(cells, customer) or "",
            amount=self._amount(cells) or Decimal(0),
            invoice_ref=cells.text("invoice_ref", max_length=64),
            reason=cells.text("reason", max_length=200),
            line=cells.line,
            source=cells.source,
        )

    def _parse_payments(self, cells: _Row) -> PaymentRecord:
        ref = cells.text("payment_ref", required=True, max_length=64)
        customer_ref, customer = self._customer_ref(cells)
        amount = self._amount(cells) or Decimal(0)
        invoice_ref = cells.text("invoice_ref", max_length=64)
        allocations = (AllocationRecord(invoice_ref, amount, cells.line),) if invoice_ref else ()
        paid_on = cells.convert("date", self._date, self._expected_date, required=True)
        returned_on = cells.convert("returned_on", self._date, self._expected_date)
        if paid_on is not None and returned_on is not None and returned_on < paid_on:
            cells.error(
                "returned_on",
                EXPECTED_RETURNED_AFTER_DATE.format(date=paid_on),
                cells.row.get("returned_on"),
            )
        return PaymentRecord(
            payment_ref=ref or "",
            customer_ref=customer_ref or "",
            date=paid_on,
            currency=self._currency(cells, customer) or "",
            amount=amount,
            allocations=allocations,
            method=cells.text("method", max_length=32),
            line=cells.line,
            source=cells.source,
            returned_on=returned_on,
        )

    def _parse_exchange_rates(self, cells: _Row) -> ExchangeRateRecord:
        base = cells.convert("base_currency", validate_currency, EXPECTED_CURRENCY, required=True)
        quote = cells.convert("quote_currency", validate_currency, EXPECTED_CURRENCY, required=True)
        if base is not None and base == quote:
            cells.error(
                "quote_currency", EXPECTED_OTHER_CURRENCY.format(base=base), cells.row.get("quote_currency")
            )
        return ExchangeRateRecord(
            rate_date=cells.convert("date", self._date, self._expected_date, required=True),
            base_currency=base or "",
            quote_currency=quote or "",
            rate=cells.convert(
                "rate",
                self._rate,
                EXPECTED_RATE.format(decimal=self.options.decimal_separator),
                required=True,
            )
            or Decimal(0),
            line=cells.line,
            source=cells.source,
        )

    def _rate(self, text: str) -> Decimal:
        value = self._number(text)
        exponent = value.as_tuple().exponent
        if value <= 0 or (isinstance(exponent, int) and exponent < -RATE_DECIMALS):
            raise ValidationFailed("not a rate")
        if value.adjusted() >= RATE_INTEGER_DIGITS:
            raise ValidationFailed("too large")
        return value

    def _parse_disputes(self, cells: _Row) -> DisputeRecord:
        opened_on = cells.convert("opened_on", self._date, self._expected_date, required=True)
        resolved_on = cells.convert("resolved_on", self._date, self._expected_date)
        if opened_on is not None and resolved_on is not None and resolved_on < opened_on:
            cells.error(
                "resolved_on",
                EXPECTED_RESOLVED_AFTER_OPENED.format(opened_on=opened_on),
                cells.row.get("resolved_on"),
            )
        resolution = self._choice(cells, "resolution", DISPUTE_RESOLUTIONS)
        if resolved_on is not None and resolution is None and cells.text("resolution") is None:
            cells.error("resolution", EXPECTED_REQUIRED + " when resolved_on is given")
        if resolution is not None and resolved_on is None and cells.text("resolved_on") is None:
            cells.error("resolved_on", EXPECTED_REQUIRED + " when resolution is given")
        reason = self._choice(cells, "reason_code", DISPUTE_REASONS)
        if reason is None and cells.text("reason_code") is None:
            cells.error("reason_code", EXPECTED_REQUIRED)
        return DisputeRecord(
            invoice_ref=cells.text("invoice_ref", required=True, max_length=64) or "",
            opened_on=opened_on,
            reason_code=reason or "",
            amount=self._amount(cells, required=False),
            resolved_on=resolved_on,
            resolution=resolution,
            note=cells.text("note", multiline=True),
            line=cells.line,
            source=cells.source,
        )

    def _parse_orders(self, cells: _Row) -> OrderRecord:
        ref = cells.text("order_ref", required=True, max_length=64)
        customer_ref, customer = self._customer_ref(cells)
        return OrderRecord(
            order_ref=ref or "",
            customer_ref=customer_ref or "",
            date=cells.convert("date", self._date, self._expected_date, required=True),
            currency=self._currency(cells, customer) or "",
            amount=self._amount(cells) or Decimal(0),
            status=self._choice(cells, "status", ORDER_STATUSES),
            line=cells.line,
            source=cells.source,
        )


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0 or value > 3650:
        raise ValueError(text)
    return value


def _non_negative(function: Callable[[str], Decimal]) -> Callable[[str], Decimal]:
    def check(text: str) -> Decimal:
        value = function(text)
        if value < 0:
            raise ValueError(text)
        return value

    return check


EXPECTED_MINOR_UNITS = "an amount with at most {places} decimal(s), as {currency} has"


def _check_minor_units(record: Record, row: Mapping[str, str | None], line: int | None, source: str) -> None:
    """Money finer than its currency's smallest unit (JPY 10.5, EUR 0.001) cannot be paid: refuse it."""
    from relance.core.money import minor_units

    amount = getattr(record, "amount", None)
    currency = getattr(record, "currency", None)
    if amount is None or not currency:
        return
    places = minor_units(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        found = row.get("amount")
        raise ErrorList(
            [
                FieldError(
                    "amount",
                    EXPECTED_MINOR_UNITS.format(places=places, currency=currency),
                    str(found or amount),
                    line,
                    source,
                )
            ]
        )
