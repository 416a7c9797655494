"""Letters: the message rendered as a PDF (``relance.comms.pdf``) and stored with it, to download and
post (``LetterChannel``), or also handed to a print-and-post service (``PrintAndPostLetterChannel``).

The PDF is stored before anything else happens and reused on a retry, so a letter is rendered and
printed from one file. The print-and-post hand-off follows Lob's documented letters API
(``POST /v1/letters``, multipart with the PDF as ``file``, HTTP basic auth with the API key) and
sends the outbox idempotency key as ``Idempotency-Key``: the service creates one letter per key, so a
retry after a timeout cannot post a second letter (Lob keeps keys for 24 hours).

Settings (Django settings or environment): ``RELANCE_LETTER_PAPER`` (``A4`` or ``letter``; default
from the customer's country), and for the hand-off ``RELANCE_PRINTMAIL_API_KEY`` (required),
``RELANCE_PRINTMAIL_API_URL`` (default ``https://api.lob.com/v1``), ``RELANCE_PRINTMAIL_FROM`` (a saved
sender address id ``adr_…``; default: the entity's name and address), ``RELANCE_PRINTMAIL_COLOR``
(``true``/``false``), ``RELANCE_PRINTMAIL_MAIL_TYPE`` (``usps_first_class``),
``RELANCE_PRINTMAIL_ADDRESS_PLACEMENT`` (``insert_blank_page``), ``RELANCE_PRINTMAIL_REGISTERED``
(the ``extra_service`` for registered letters: ``registered``, ``certified`` or
``certified_return_receipt``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
from django.conf import settings
from django.core.files.base import ContentFile

from relance.delivery.channels.base import ChannelBackend, DeliveryReceipt, PermanentFailure, TemporaryFailure

if TYPE_CHECKING:
    from relance.delivery.models import MessageAttachment, OutboundMessage

LETTER_CONTENT_TYPE = "application/pdf"
API_URL = "https://api.lob.com/v1"
ERROR_NOT_CONFIGURED = "print-and-post is not configured: set RELANCE_PRINTMAIL_API_KEY"
ERROR_NO_ADDRESS = "letter {message}: no postal address to print"
ERROR_UNREADABLE_ADDRESS = (
    "letter {message}: cannot read a street, postcode and town from the postal address {address!r}"
)
REGISTERED_SERVICES = ("registered", "certified", "certified_return_receipt")


def letter_setting(name: str, default: str = "") -> str:
    return str(getattr(settings, name, "") or os.environ.get(name, default))


def letter_filename(message: OutboundMessage) -> str:
    return f"letter-{message.pk}.pdf"


def is_registered(message: OutboundMessage) -> bool:
    value = (message.headers or {}).get("registered")
    return value is True or str(value).lower() in {"1", "true", "yes"}


def recipient_block(message: OutboundMessage) -> str:
    """The address as printed: the customer's name first unless the address already starts with it."""
    lines = [line.strip() for line in (message.recipient or "").splitlines() if line.strip()]
    if not lines:
        raise PermanentFailure(ERROR_NO_ADDRESS.format(message=message.pk), invalid_recipient=True)
    customer = message.customer
    if customer.name and customer.name.casefold() not in lines[0].casefold():
        contact_name = getattr(message.contact, "name", "") or ""
        prefix = [customer.name] + ([contact_name] if contact_name and contact_name != customer.name else [])
        lines = prefix + lines
    return "\n".join(lines)


def letter_attachment(message: OutboundMessage) -> MessageAttachment:
    """The message's letter PDF: stored on the first call, the same file on every later one."""
    from relance.comms.pdf import letter_pdf, paper_for
    from relance.comms.types import RenderedMessage
    from relance.delivery.models import MessageAttachment

    filename = letter_filename(message)
    existing = message.attachments.filter(filename=filename).first()
    if existing is not None:
        return existing
    entity, customer = message.entity, message.customer
    rendered = RenderedMessage(
        template_key=message.template_key,
        channel="letter",
        language=message.language,
        subject=message.subject,
        text=message.body_text,
        html=message.body_html,
        rf_reference=message.rf_reference,
        amount_due=message.amount_due,
        currency=message.currency,
        links=dict(message.links or {}),
    )
    try:
        zone = ZoneInfo(entity.timezone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    paper = letter_setting("RELANCE_LETTER_PAPER") or paper_for(customer.country or entity.country)
    content = letter_pdf(
        rendered,
        entity=entity,
        recipient_address=recipient_block(message),
        paper=paper,
        letter_date=datetime.now(zone).date(),
        customer_number=customer.external_ref,
        registered=is_registered(message),
    )
    attachment = MessageAttachment(
        message=message, filename=filename, content_type=LETTER_CONTENT_TYPE, size=len(content)
    )
    attachment.file.save(filename, ContentFile(content), save=True)
    return attachment


class LetterChannel(ChannelBackend):
    """Renders and stores the letter; people download, print and post it (``/delivery/letters/…``)."""

    channel = "letter"
    provider = "letter-pdf"

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        attachment = letter_attachment(message)
        return DeliveryReceipt(provider=self.provider, provider_message_id=f"attachment:{attachment.pk}")


# --- print and post ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostalAddress:
    """An address in the fields print-and-post APIs want (Lob's ``address_*`` names)."""

    name: str
    line1: str
    line2: str
    city: str
    state: str
    postcode: str
    country: str

    def as_form(self, prefix: str) -> dict[str, str]:
        fields = {
            "name": self.name,
            "address_line1": self.line1,
            "address_line2": self.line2,
            "address_city": self.city,
            "address_state": self.state,
            "address_zip": self.postcode,
            "address_country": self.country,
        }
        return {f"{prefix}[{key}]": value for key, value in fields.items() if value}


US_LAST_LINE = re.compile(r"^(?P<city>.+?),?\s+(?P<state>[A-Z]{2})\s+(?P<zip>\d{5}(?:-\d{4})?)$")
UK_POSTCODE = re.compile(r"^[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}$", re.I)
POSTCODE_FIRST = re.compile(
    r"^(?:[A-Z]{1,2}-)?(?P<zip>\d[\d -]{2,8}\d|\d{4,5}|[A-Z]\d[A-Z] ?\d[A-Z]\d)\s+(?P<city>.+)$"
)
CITY_THEN_POSTCODE = re.compile(r"^(?P<city>.+?)\s+(?P<zip>\d{4,6}|[A-Z]\d[A-Z] ?\d[A-Z]\d)$")


def _country_code(line: str) -> str:
    """ISO code of a trailing country line ("FR", "France", "Germany"), or ""."""
    text = line.strip().rstrip(".")
    if len(text) == 2 and text.isalpha():
        return text.upper()
    from babel import Locale

    for language in ("en", "fr", "de"):
        for code, name in Locale.parse(language).territories.items():
            if len(code) == 2 and name.casefold() == text.casefold():
                return code
    return ""


def parse_postal_address(text: str, *, default_country: str) -> PostalAddress | None:
    """Name, street lines, postcode, town and country from a printed address block (None: unreadable)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 3:
        return None
    country = _country_code(lines[-1])
    if country:
        lines = lines[:-1]
    country = (country or default_country or "").upper()
    name, rest = lines[0], lines[1:]
    state = ""
    if country == "GB" and len(rest) >= 3 and UK_POSTCODE.match(rest[-1]):
        postcode, city, street = rest[-1].upper(), rest[-2], rest[:-2]
    else:
        last = rest[-1]
        match = US_LAST_LINE.match(last) if country in ("US", "") else None
        if match:
            country = country or "US"
            city, state, postcode = match["city"], match["state"], match["zip"]
        else:
            match = POSTCODE_FIRST.match(last) or CITY_THEN_POSTCODE.match(last)
            if not match:
                return None
            city, postcode = match["city"].strip(" ,"), match["zip"]
        street = rest[:-1]
    if not street or not country:
        return None
    return PostalAddress(
        name=name,
        line1=street[0],
        line2=", ".join(street[1:]),
        city=city,
        state=state,
        postcode=postcode,
        country=country,
    )


class PrintAndPostLetterChannel(LetterChannel):
    """Stores the letter as ``LetterChannel`` does, then hands the PDF to a print-and-post service."""

    provider = "lob"

    def __init__(self) -> None:
        self.api_key = letter_setting("RELANCE_PRINTMAIL_API_KEY")
        self.api_url = letter_setting("RELANCE_PRINTMAIL_API_URL", API_URL).rstrip("/")
        self.sender = letter_setting("RELANCE_PRINTMAIL_FROM")
        self.color = letter_setting("RELANCE_PRINTMAIL_COLOR", "false").lower() in {"1", "true", "yes"}
        self.mail_type = letter_setting("RELANCE_PRINTMAIL_MAIL_TYPE", "usps_first_class")
        self.address_placement = letter_setting("RELANCE_PRINTMAIL_ADDRESS_PLACEMENT", "insert_blank_page")
        self.registered_service = letter_setting("RELANCE_PRINTMAIL_REGISTERED", "registered")
        if self.registered_service not in REGISTERED_SERVICES:
            raise ValueError(f"RELANCE_PRINTMAIL_REGISTERED must be one of {REGISTERED_SERVICES}")
        self.client: httpx.Client | None = None

    def open(self) -> None:
        if self.client is None:
            self.client = httpx.Client(auth=(self.api_key, ""), timeout=httpx.Timeout(60.0))

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def letter_request(self, message: OutboundMessage) -> dict[str, str]:
        """The form fields of ``POST /letters`` (the PDF goes as the ``file`` part)."""
        entity, customer = message.entity, message.customer
        to = parse_postal_address(
            recipient_block(message), default_country=customer.country or entity.country or ""
        )
        if to is None:
            raise PermanentFailure(
                ERROR_UNREADABLE_ADDRESS.format(message=message.pk, address=message.recipient),
                invalid_recipient=True,
            )
        form = {
            "description": f"{message.template_key} {customer.external_ref}"[:255],
            "color": "true" if self.color else "false",
            "use_type": "operational",
            "mail_type": self.mail_type,
            "address_placement": self.address_placement,
            "metadata[message_id]": message.message_id[:500].replace('"', "").replace("\\", ""),
            "metadata[customer]": customer.external_ref[:500].replace('"', "").replace("\\", ""),
            **to.as_form("to"),
        }
        if self.sender:
            form["from"] = self.sender
        else:
            sender = parse_postal_address(
                "\n".join([entity.legal_name or entity.name, *entity.address.splitlines()]),
                default_country=entity.country or "",
            )
            if sender is not None:
                form.update(sender.as_form("from"))
        if is_registered(message):
            form["extra_service"] = self.registered_service
        return form

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        if not self.api_key:
            raise TemporaryFailure(ERROR_NOT_CONFIGURED)
        attachment = letter_attachment(message)
        form = self.letter_request(message)
        self.open()
        assert self.client is not None
        with attachment.file.open("rb") as handle:
            content = handle.read()
        try:
            response = self.client.post(
                f"{self.api_url}/letters",
                data=form,
                files={"file": (attachment.filename, content, LETTER_CONTENT_TYPE)},
                headers={"Idempotency-Key": message.idempotency_key[:256]},
            )
        except httpx.HTTPError as exc:
            # Safe to retry: the same Idempotency-Key returns the letter already created, if any.
            raise TemporaryFailure(f"print-and-post: {exc.__class__.__name__}: {exc}") from exc
        return self._receipt(response)

    def _receipt(self, response: httpx.Response) -> DeliveryReceipt:
        try:
            payload: dict[str, Any] = response.json()
        except ValueError:
            payload = {}
        if response.status_code in (200, 201):
            return DeliveryReceipt(provider=self.provider, provider_message_id=str(payload.get("id", "")))
        error = payload.get("error") or {}
        text = f"print-and-post: HTTP {response.status_code}: {error.get('message') or response.text[:200]}"
        if response.status_code in (401, 403, 429) or response.status_code >= 500:
            raise TemporaryFailure(text)  # credentials, rate limit, outage: a retry can succeed
        address_problem = "address" in str(error.get("message", "")).lower() or str(
            error.get("code", "")
        ).startswith(("invalid_address", "failed_deliverability", "address"))
        raise PermanentFailure(text, invalid_recipient=address_problem)
