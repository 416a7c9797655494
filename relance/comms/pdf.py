"""PDF letters and account statements, rendered by WeasyPrint from HTML and CSS (ADR 0005).

A letter is the rendered message's HTML placed in the creditor's letterhead, with the recipient's
address where a window envelope shows it (DIN 5008 form B on A4, the #10 envelope window on US
letter), date and place, subject, "Page X of Y" footers and a remittance block (IBAN/BIC, RF
reference, SEPA QR code). Stylesheets and fonts are parsed once per process and reused: that, not
the layout, is most of the cost of a one-page letter (docs/benchmarks.md).

Only ``data:`` URLs are fetched while rendering: a user-edited template cannot make the server
request internal URLs or read local files through an ``<img>`` or a stylesheet.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from relance.comms.types import RenderedMessage
from relance.core.formatting import format_day, format_money, format_number
from relance.core.payment_refs import data_uri, epc_qr_png, rf_reference

if TYPE_CHECKING:
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    from relance.ledger.models import Customer, Entity

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "comms" / "pdf"
PAPERS = ("A4", "letter")
#: Countries whose post uses US letter paper and #10 window envelopes.
LETTER_PAPER_COUNTRIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "PR"})
UNKNOWN_PAPER = "paper must be 'A4' or 'letter', found {paper!r}"

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "registered": "Registered mail",
        "page": "Page {page} of {pages}",
        "date": "Date",
        "reference": "Payment reference",
        "customer_number": "Customer number",
        "remittance": "How to pay",
        "beneficiary": "Beneficiary",
        "iban": "IBAN",
        "bic": "BIC",
        "amount_due": "Amount due",
        "scan": "Scan with your banking app to pay",
        "statement": "Statement of account",
        "as_of": "Open items as of {date}",
        "document": "Document",
        "issue_date": "Issued",
        "due_date": "Due",
        "days_past_due": "Days overdue",
        "amount": "Amount",
        "open": "Open",
        "invoice": "Invoice",
        "credit_note": "Credit note",
        "payment": "Payment on account",
        "totals": "Balance by currency",
        "balance": "Balance",
        "overdue": "Overdue",
        "current": "Not yet due",
        "days": "{low}–{high} days",
        "days_over": "over {low} days",
        "nothing_open": "Your account has no open items. Thank you.",
        "vat_id": "VAT",
        "registration_id": "Reg.",
    },
    "fr": {
        "registered": "Lettre recommandée",
        "page": "Page {page} sur {pages}",
        "date": "Date",
        "reference": "Référence de paiement",
        "customer_number": "Numéro client",
        "remittance": "Comment payer",
        "beneficiary": "Bénéficiaire",
        "iban": "IBAN",
        "bic": "BIC",
        "amount_due": "Montant dû",
        "scan": "Scannez avec votre application bancaire pour payer",
        "statement": "Relevé de compte",
        "as_of": "Éléments ouverts au {date}",
        "document": "Pièce",
        "issue_date": "Émise le",
        "due_date": "Échéance",
        "days_past_due": "Jours de retard",
        "amount": "Montant",
        "open": "Reste dû",
        "invoice": "Facture",
        "credit_note": "Avoir",
        "payment": "Paiement non affecté",
        "totals": "Solde par devise",
        "balance": "Solde",
        "overdue": "Échu",
        "current": "Non échu",
        "days": "{low} à {high} jours",
        "days_over": "plus de {low} jours",
        "nothing_open": "Votre compte ne présente aucun élément ouvert. Merci.",
        "vat_id": "TVA",
        "registration_id": "SIREN",
    },
    "de": {
        "registered": "Einschreiben",
        "page": "Seite {page} von {pages}",
        "date": "Datum",
        "reference": "Zahlungsreferenz",
        "customer_number": "Kundennummer",
        "remittance": "Zahlungsinformationen",
        "beneficiary": "Empfänger",
        "iban": "IBAN",
        "bic": "BIC",
        "amount_due": "Fälliger Betrag",
        "scan": "Mit Ihrer Banking-App scannen und bezahlen",
        "statement": "Kontoauszug",
        "as_of": "Offene Posten zum {date}",
        "document": "Beleg",
        "issue_date": "Datum",
        "due_date": "Fällig",
        "days_past_due": "Tage überfällig",
        "amount": "Betrag",
        "open": "Offen",
        "invoice": "Rechnung",
        "credit_note": "Gutschrift",
        "payment": "Nicht zugeordnete Zahlung",
        "totals": "Saldo je Währung",
        "balance": "Saldo",
        "overdue": "Überfällig",
        "current": "Noch nicht fällig",
        "days": "{low}–{high} Tage",
        "days_over": "über {low} Tage",
        "nothing_open": "Ihr Konto weist keine offenen Posten auf. Vielen Dank.",
        "vat_id": "USt-IdNr.",
        "registration_id": "HRB",
    },
    "es": {
        "registered": "Correo certificado",
        "page": "Página {page} de {pages}",
        "date": "Fecha",
        "reference": "Referencia de pago",
        "customer_number": "Número de cliente",
        "remittance": "Cómo pagar",
        "beneficiary": "Beneficiario",
        "iban": "IBAN",
        "bic": "BIC",
        "amount_due": "Importe pendiente",
        "scan": "Escanee con su aplicación bancaria para pagar",
        "statement": "Extracto de cuenta",
        "as_of": "Partidas abiertas a {date}",
        "document": "Documento",
        "issue_date": "Emitida",
        "due_date": "Vencimiento",
        "days_past_due": "Días de retraso",
        "amount": "Importe",
        "open": "Pendiente",
        "invoice": "Factura",
        "credit_note": "Abono",
        "payment": "Pago a cuenta",
        "totals": "Saldo por divisa",
        "balance": "Saldo",
        "overdue": "Vencido",
        "current": "No vencido",
        "days": "{low}–{high} días",
        "days_over": "más de {low} días",
        "nothing_open": "Su cuenta no tiene partidas abiertas. Gracias.",
        "vat_id": "NIF-IVA",
        "registration_id": "Reg.",
    },
    "it": {
        "registered": "Raccomandata",
        "page": "Pagina {page} di {pages}",
        "date": "Data",
        "reference": "Riferimento di pagamento",
        "customer_number": "Codice cliente",
        "remittance": "Come pagare",
        "beneficiary": "Beneficiario",
        "iban": "IBAN",
        "bic": "BIC",
        "amount_due": "Importo dovuto",
        "scan": "Scansiona con l'app della tua banca per pagare",
        "statement": "Estratto conto",
        "as_of": "Partite aperte al {date}",
        "document": "Documento",
        "issue_date": "Emessa",
        "due_date": "Scadenza",
        "days_past_due": "Giorni di ritardo",
        "amount": "Importo",
        "open": "Residuo",
        "invoice": "Fattura",
        "credit_note": "Nota di credito",
        "payment": "Pagamento in acconto",
        "totals": "Saldo per valuta",
        "balance": "Saldo",
        "overdue": "Scaduto",
        "current": "Non scaduto",
        "days": "{low}–{high} giorni",
        "days_over": "oltre {low} giorni",
        "nothing_open": "Il suo conto non presenta partite aperte. Grazie.",
        "vat_id": "P. IVA",
        "registration_id": "REA",
    },
    "zh-hans": {
        "registered": "挂号信",
        "page": "第 {page} 页，共 {pages} 页",
        "date": "日期",
        "reference": "付款参考号",
        "customer_number": "客户编号",
        "remittance": "付款方式",
        "beneficiary": "收款人",
        "iban": "IBAN",
        "bic": "BIC",
        "amount_due": "应付金额",
        "scan": "使用银行应用扫码付款",
        "statement": "对账单",
        "as_of": "截至 {date} 的未结项目",
        "document": "单据",
        "issue_date": "开具日期",
        "due_date": "到期日",
        "days_past_due": "逾期天数",
        "amount": "金额",
        "open": "未付",
        "invoice": "发票",
        "credit_note": "贷项通知单",
        "payment": "预付款",
        "totals": "按币种余额",
        "balance": "余额",
        "overdue": "已逾期",
        "current": "未到期",
        "days": "{low}–{high} 天",
        "days_over": "超过 {low} 天",
        "nothing_open": "您的账户没有未结项目。谢谢。",
        "vat_id": "税号",
        "registration_id": "注册号",
    },
}


# --- shared pieces ---------------------------------------------------------------------------------


def language_of(language: str | None) -> str:
    """The closest language we have labels for (``de-AT`` → ``de``, ``zh-Hans`` → ``zh-hans``)."""
    code = (language or "en").lower().replace("_", "-")
    if code in LABELS:
        return code
    if code.startswith("zh"):
        return "zh-hans"
    return code.split("-")[0] if code.split("-")[0] in LABELS else "en"


def paper_for(country: str) -> str:
    """US letter where the post uses it, A4 everywhere else."""
    return "letter" if (country or "").upper() in LETTER_PAPER_COUNTRIES else "A4"


def _check_paper(paper: str) -> str:
    if paper not in PAPERS:
        raise ValueError(UNKNOWN_PAPER.format(paper=paper))
    return paper


@lru_cache(maxsize=1)
def font_config() -> FontConfiguration:
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@lru_cache(maxsize=4)
def stylesheets(paper: str) -> tuple[CSS, ...]:
    """The parsed stylesheets for a paper size, built once per process."""
    from weasyprint import CSS

    fonts = font_config()
    base = (TEMPLATE_DIR / "pdf_letter.css").read_text(encoding="utf-8")
    page = (TEMPLATE_DIR / f"pdf_paper_{paper.lower()}.css").read_text(encoding="utf-8")
    return (CSS(string=base, font_config=fonts), CSS(string=page, font_config=fonts))


def _url_fetcher() -> Any:
    from weasyprint import URLFetcher

    return URLFetcher(allowed_protocols={"data"}, timeout=1)


def html_to_pdf(document: str, *, paper: str, reuse: bool = True) -> bytes:
    """Render an HTML document with the letter stylesheets. ``reuse=False`` parses everything afresh
    (the simple approach, kept for the benchmark's comparison)."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    _check_paper(paper)
    if reuse:
        fonts, sheets = font_config(), stylesheets(paper)
    else:
        fonts = FontConfiguration()
        sheets = tuple(
            CSS(string=(TEMPLATE_DIR / name).read_text(encoding="utf-8"), font_config=fonts)
            for name in ("pdf_letter.css", f"pdf_paper_{paper.lower()}.css")
        )
    pdf: bytes = HTML(string=document, url_fetcher=_url_fetcher()).write_pdf(
        stylesheets=list(sheets), font_config=fonts
    )
    return pdf


@lru_cache(maxsize=4)
def paper_only_stylesheet(paper: str) -> CSS:
    """Just the paper size, over whatever the document says (for complete letter documents)."""
    from weasyprint import CSS

    size = "A4" if paper == "A4" else "letter"
    return CSS(string=f"@page {{ size: {size} !important; }}", font_config=font_config())


def is_complete_letter(document: str) -> bool:
    """A whole letter laid out by its template (its own ``<html>`` and ``@page`` rules), as opposed to
    a body for our letterhead: it is printed as it is, on the requested paper."""
    return bool(re.search(r"<html[\s>]", document, flags=re.I)) and "@page" in document


def _page_footer_css(labels: Mapping[str, str]) -> str:
    """``Page {page} of {pages}`` as a CSS ``content`` value with page counters."""
    parts = []
    for piece in re.split(r"(\{page\}|\{pages\})", labels["page"]):
        if piece == "{page}":
            parts.append("counter(page)")
        elif piece == "{pages}":
            parts.append("counter(pages)")
        elif piece:
            parts.append('"' + piece.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return " ".join(parts)


def _body_of(document: str) -> str:
    """The inside of ``<body>`` when given a whole HTML document, else the fragment itself."""
    match = re.search(r"<body[^>]*>(.*)</body>", document, flags=re.S | re.I)
    return match.group(1) if match else document


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").replace("\r", "").split("\n") if line.strip()]


def _grouped(code: str) -> str:
    compact = re.sub(r"\s+", "", code or "")
    return " ".join(compact[index : index + 4] for index in range(0, len(compact), 4))


def _logo_data_uri(entity: Entity) -> str:
    if not getattr(entity, "logo", None):
        return ""
    import base64
    import mimetypes

    try:
        with entity.logo.open("rb") as handle:
            content = handle.read()
    except (OSError, ValueError):
        return ""
    content_type = mimetypes.guess_type(entity.logo.name or "")[0] or "image/png"
    return f"data:{content_type};base64,{base64.b64encode(content).decode('ascii')}"


def _place(entity: Entity) -> str:
    """The town of the entity's address (last line, without the postcode) for "Paris, 1 March 2025"."""
    lines = _lines(entity.address)
    if not lines:
        return ""
    last = lines[-1]
    if len(lines) > 1 and len(last) <= 3 and last.isalpha():  # a trailing country code
        last = lines[-2]
    last = re.sub(r"^[A-Z]{1,2}-?\s*", "", last) if re.match(r"^[A-Z]{1,2}-\d", last) else last
    town = re.sub(r"^\d[\d\s-]*\s+", "", last)  # 75002 Paris, 10115 Berlin
    town = re.sub(r",?\s+[A-Z]{2}\s+\d{5}(-\d{4})?$", "", town)  # Springfield, IL 62701
    return town.strip(" ,")


def _qr_data_uri(*, entity: Entity, amount: Decimal | None, currency: str, reference: str) -> str:
    """The SEPA (EPC069-12) QR code: euro amounts to an entity with an IBAN only."""
    if currency != "EUR" or not entity.iban or not amount or amount <= 0:
        return ""
    try:
        # PNG, drawn without smoothing (image-rendering: pixelated): as sharp as SVG on paper, and
        # WeasyPrint embeds it in a fraction of the time it takes to parse the SVG path.
        png = epc_qr_png(
            name=entity.legal_name or entity.name,
            iban=entity.iban,
            bic=entity.bic,
            amount=amount,
            currency=currency,
            reference=reference,
            scale=4,
        )
    except Exception:  # a name or reference the QR standard refuses: print the details without it
        return ""
    return data_uri(png, "image/png")


def _has_qr(body: str) -> bool:
    return bool(re.search(r"epc-qr|data-epc|alt=\"[^\"]*QR", body, flags=re.I))


@dataclass(frozen=True)
class Remittance:
    beneficiary: str
    iban: str
    bic: str
    reference: str
    amount_due: str
    qr: str


def _remittance(
    *, entity: Entity, amount: Decimal | None, currency: str, reference: str, language: str, body: str
) -> Remittance | None:
    if not entity.iban and not reference:
        return None
    amount_text = format_money(amount, currency, language) if amount and currency else ""
    qr = (
        ""
        if _has_qr(body)
        else _qr_data_uri(entity=entity, amount=amount, currency=currency, reference=reference)
    )
    return Remittance(
        beneficiary=entity.legal_name or entity.name,
        iban=_grouped(entity.iban),
        bic=entity.bic,
        reference=_grouped(reference),
        amount_due=amount_text,
        qr=qr,
    )


def _letterhead(entity: Entity, labels: Mapping[str, str]) -> dict[str, Any]:
    legal = [
        f"{labels['vat_id']} {entity.vat_id}" if entity.vat_id else "",
        f"{labels['registration_id']} {entity.registration_id}" if entity.registration_id else "",
    ]
    return {
        "name": entity.legal_name or entity.name,
        "address_lines": _lines(entity.address),
        "one_line": " · ".join([entity.legal_name or entity.name, *_lines(entity.address)]),
        "legal": " · ".join(part for part in legal if part),
        "logo": _logo_data_uri(entity),
        "primary": entity.primary_colour or "#1F4E79",
        "accent": entity.accent_colour or "#E07A1F",
    }


def _entity_today(entity: Entity) -> date:
    try:
        zone = ZoneInfo(entity.timezone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone).date()


def _document(
    *,
    entity: Entity,
    language: str,
    paper: str,
    recipient_address: str,
    subject: str,
    body: str,
    on: date,
    customer_number: str,
    remittance: Remittance | None,
    endorsement: str = "",
) -> str:
    lang = language_of(language)
    labels = LABELS[lang]
    place = _place(entity)
    day = format_day(on, lang, "long")
    return render_to_string(
        "comms/pdf/pdf_letter.html",
        {
            "lang": lang,
            "paper": paper.lower(),
            "labels": labels,
            "footer_content": mark_safe(_page_footer_css(labels)),  # built from our labels
            "letterhead": _letterhead(entity, labels),
            "recipient_lines": _lines(recipient_address),
            "place_and_date": f"{place}, {day}" if place else day,
            "customer_number": customer_number,
            "subject": subject,
            "body": mark_safe(body),  # rendered by the sandboxed engine (comms)
            "remittance": remittance,
            "endorsement": endorsement,
        },
    )


# --- letters ---------------------------------------------------------------------------------------


def letter_html(
    rendered: RenderedMessage,
    *,
    entity: Entity,
    recipient_address: str,
    paper: str = "A4",
    letter_date: date | None = None,
    customer_number: str = "",
    registered: bool = False,
) -> str:
    """The letter as one HTML document (what ``letter_pdf`` renders)."""
    _check_paper(paper)
    body = (
        _body_of(rendered.html)
        if rendered.html
        else (
            "".join(
                f"<p>{html_lib.escape(block).replace(chr(10), '<br>')}</p>"
                for block in rendered.text.split("\n\n")
            )
        )
    )
    lang = language_of(rendered.language)
    remittance = _remittance(
        entity=entity,
        amount=rendered.amount_due,
        currency=rendered.currency,
        reference=rendered.rf_reference,
        language=lang,
        body=body,
    )
    return _document(
        entity=entity,
        language=lang,
        paper=paper,
        recipient_address=recipient_address,
        subject=rendered.subject,
        body=body,
        on=letter_date or _entity_today(entity),
        customer_number=customer_number,
        remittance=remittance,
        endorsement=LABELS[lang]["registered"] if registered else "",
    )


def letter_pdf(
    rendered: RenderedMessage,
    *,
    entity: Entity,
    recipient_address: str,
    paper: str = "A4",
    letter_date: date | None = None,
    customer_number: str = "",
    registered: bool = False,
) -> bytes:
    """The message as a printable letter for a window envelope (A4: DIN 5008 B; letter: #10).

    ``registered`` prints the postal endorsement ("Registered mail", "Einschreiben") above the address.
    When ``rendered.html`` is already a complete letter (``is_complete_letter``: its template lays out
    letterhead, address and payment details itself), it is printed as it is, on ``paper``, with the
    same safe resource fetching, rather than framed a second time.
    """
    if rendered.html and is_complete_letter(rendered.html):
        from weasyprint import HTML

        _check_paper(paper)
        pdf: bytes = HTML(string=rendered.html, url_fetcher=_url_fetcher()).write_pdf(
            stylesheets=[paper_only_stylesheet(paper)], font_config=font_config()
        )
        return pdf
    document = letter_html(
        rendered,
        entity=entity,
        recipient_address=recipient_address,
        paper=paper,
        letter_date=letter_date,
        customer_number=customer_number,
        registered=registered,
    )
    return html_to_pdf(document, paper=paper)


# --- statements ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    kind: str
    reference: str
    issue_date: date
    due_date: date | None
    currency: str
    amount: Decimal
    open_amount: Decimal
    days_past_due: int | None
    bucket: str
    disputed: Decimal = Decimal(0)
    """Under dispute: left out of ``open_amount`` (what is due), shown apart."""


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    balance: Decimal
    overdue: Decimal
    buckets: tuple[tuple[str, Decimal], ...]


def aging_bounds() -> tuple[int, ...]:
    text = getattr(settings, "RELANCE_AGING_BUCKETS", "0,30,60,90")
    return tuple(int(part) for part in text.split(",") if part.strip())


def _bucket_labels(labels: Mapping[str, str], bounds: Sequence[int]) -> list[str]:
    names = [labels["current"]]
    for low, high in zip(bounds, bounds[1:], strict=False):
        names.append(labels["days"].format(low=low + 1, high=high))
    names.append(labels["days_over"].format(low=bounds[-1]))
    return names


def _bucket(days_past_due: int, bounds: Sequence[int], names: Sequence[str]) -> str:
    for index, upper in enumerate(bounds):
        if days_past_due <= upper:
            return names[index]
    return names[-1]


def statement_lines(*, customer: Customer, as_of: date, labels: Mapping[str, str]) -> list[StatementLine]:
    """The customer's open items as of ``as_of``: invoices (what is due: open minus disputed,
    ``relance.dunning.selectors.owed_summary``, as in every message and the portal), open credit
    notes and unapplied payments."""
    from relance.dunning.selectors import owed_summary

    bounds = aging_bounds()
    names = _bucket_labels(labels, bounds)
    lines = []
    summary = owed_summary(customer=customer, as_of=as_of)
    for invoice in summary.lines:
        days = invoice.days_past_due
        lines.append(
            StatementLine(
                kind=labels["invoice"],
                reference=invoice.ref,
                issue_date=invoice.issue_date,
                due_date=invoice.due_date,
                currency=invoice.currency,
                amount=invoice.amount,
                open_amount=invoice.owed,
                days_past_due=max(days, 0),
                bucket=_bucket(days, bounds, names),
                disputed=invoice.disputed,
            )
        )
    for item in summary.unapplied:
        lines.append(
            StatementLine(
                kind=labels[item.kind],
                reference=item.ref,
                issue_date=item.date,
                due_date=None,
                currency=item.currency,
                amount=-item.amount,
                open_amount=-item.left,
                days_past_due=None,
                bucket=names[0],  # unaged: with "not yet due", so the buckets add up to the balance
            )
        )
    return lines


def statement_totals(lines: Sequence[StatementLine], bucket_names: Sequence[str]) -> list[CurrencyTotal]:
    totals = []
    for currency in sorted({line.currency for line in lines}):
        mine = [line for line in lines if line.currency == currency]
        buckets = tuple(
            (name, sum((line.open_amount for line in mine if line.bucket == name), Decimal(0)))
            for name in bucket_names
        )
        overdue = sum(
            (line.open_amount for line in mine if line.days_past_due and line.days_past_due > 0), Decimal(0)
        )
        totals.append(
            CurrencyTotal(
                currency=currency,
                balance=sum((line.open_amount for line in mine), Decimal(0)),
                overdue=overdue,
                buckets=buckets,
            )
        )
    return totals


def _statement_address(customer: Customer) -> str:
    contacts = list(customer.contacts.exclude(postal_address="").order_by("role", "id"))
    billing = [contact for contact in contacts if contact.role == "billing"] or contacts
    if billing:
        contact = billing[0]
        address = contact.postal_address
        first = _lines(address)[:1]
        return address if first and first[0] == customer.name else f"{customer.name}\n{address}"
    return customer.name


def statement_reference(customer: Customer) -> str:
    """One RF reference per customer account, so a payment against the statement finds the account."""
    return rf_reference(f"statement:{customer.entity_id}:{customer.external_ref}")


def statement_html(
    *, customer: Customer, as_of: date, language: str | None = None, paper: str | None = None
) -> str:
    entity = customer.entity
    lang = language_of(language or customer.language or entity.language)
    labels = LABELS[lang]
    paper = _check_paper(paper or paper_for(customer.country or entity.country))
    bucket_names = _bucket_labels(labels, aging_bounds())
    lines = statement_lines(customer=customer, as_of=as_of, labels=labels)
    totals = statement_totals(lines, bucket_names)

    def money(amount: Decimal, currency: str) -> str:
        return format_money(amount, currency, lang)

    def day(value: date | None) -> str:
        return format_day(value, lang, "short") if value else ""

    from relance.comms import defaults

    under_review = defaults.labels(lang).get("under_review", "{amount}")
    body = render_to_string(
        "comms/pdf/pdf_statement_body.html",
        {
            "labels": labels,
            "as_of": labels["as_of"].format(date=format_day(as_of, lang, "long")),
            "rows": [
                {
                    "kind": line.kind,
                    "reference": line.reference,
                    "issue_date": day(line.issue_date),
                    "due_date": day(line.due_date),
                    "days_past_due": format_number(line.days_past_due, lang) if line.days_past_due else "",
                    "amount": money(line.amount, line.currency),
                    "open_amount": money(line.open_amount, line.currency),
                    "under_review": (
                        under_review.replace("{amount}", money(line.disputed, line.currency))
                        if line.disputed
                        else ""
                    ),
                    "overdue": bool(line.days_past_due),
                }
                for line in lines
            ],
            "totals": [
                {
                    "currency": total.currency,
                    "balance": money(total.balance, total.currency),
                    "overdue": money(total.overdue, total.currency),
                    "buckets": [(name, money(amount, total.currency)) for name, amount in total.buckets],
                }
                for total in totals
            ],
            "bucket_names": bucket_names,
        },
    )
    reference = statement_reference(customer)
    own_currency = next((total for total in totals if total.currency == entity.currency), None)
    due_now = own_currency.overdue if own_currency and own_currency.overdue > 0 else None
    remittance = _remittance(
        entity=entity,
        amount=due_now,
        currency=entity.currency if due_now else "",
        reference=reference,
        language=lang,
        body="",
    )
    return _document(
        entity=entity,
        language=lang,
        paper=paper,
        recipient_address=_statement_address(customer),
        subject=f"{labels['statement']} · {customer.name}",
        body=body,
        on=as_of,
        customer_number=customer.external_ref,
        remittance=remittance,
    )


def statement_pdf(
    *, customer: Customer, as_of: date, language: str | None = None, paper: str | None = None
) -> bytes:
    """The customer's statement of account as of ``as_of``: open items with aging, balance per
    currency, payment details. Language: given → customer's → entity's; paper from the country."""
    document = statement_html(customer=customer, as_of=as_of, language=language, paper=paper)
    return html_to_pdf(document, paper=paper or paper_for(customer.country or customer.entity.country))
