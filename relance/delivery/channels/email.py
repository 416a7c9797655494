"""Email: SMTP (``EMAIL_URL``) spoken directly, or any Django email backend (django-anymail's providers).

Over SMTP the channel runs the transaction itself with ``smtplib`` so that it knows where a failure
happened: anything before the final "." of DATA means the server did not take the message (a safe
retry: ``TemporaryFailure``); a lost connection *after* the "." means it may have (``UncertainDelivery``,
never resent automatically). One connection serves a whole batch (``open``/``close``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import re
import smtplib
import ssl
from email.mime.image import MIMEImage
from email.utils import formataddr
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from relance.delivery.channels.base import (
    ChannelBackend,
    DeliveryReceipt,
    PermanentFailure,
    TemporaryFailure,
    UncertainDelivery,
)

if TYPE_CHECKING:
    from relance.delivery.models import OutboundMessage

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
CRLF = b"\r\n"
# Headers of the row that are instructions to us, not email headers.
INTERNAL_HEADERS = {"registered", "internal", "one_time_secret"}


# An <img> whose source is an inline data: image (the payment QR code). Gmail and Outlook hide
# those, so the e-mail carries the image as a part of its own, referenced by Content-ID.
DATA_IMAGE = re.compile(
    r'(<img\b[^>]*?\bsrc=")data:image/(png|jpeg|gif);base64,([A-Za-z0-9+/=\s]+)(")', re.IGNORECASE
)


def inline_images(html: str) -> tuple[str, list[MIMEImage]]:
    """``html`` with each ``data:`` image replaced by ``cid:…``, and the image parts to attach
    (``Content-Disposition: inline``; the same image twice is one part)."""
    parts: dict[str, MIMEImage] = {}

    def to_cid(match: re.Match[str]) -> str:
        try:
            content = base64.b64decode(re.sub(r"\s", "", match.group(3)), validate=True)
        except (binascii.Error, ValueError):
            return match.group(0)  # not valid base64: leave it as it was
        digest = hashlib.sha256(content).hexdigest()[:16]
        cid = f"img-{digest}@relance"
        if cid not in parts:
            part = MIMEImage(content, match.group(2).lower())
            part.add_header("Content-ID", f"<{cid}>")
            part.add_header("Content-Disposition", "inline", filename=f"{digest}.{match.group(2).lower()}")
            parts[cid] = part
        return f"{match.group(1)}cid:{cid}{match.group(4)}"

    return DATA_IMAGE.sub(to_cid, html), list(parts.values())


def _fix_eols(data: bytes) -> bytes:
    return re.sub(rb"(?:\r\n|\n|\r(?!\n))", CRLF, data)


def _quote_periods(data: bytes) -> bytes:
    return re.sub(rb"(?m)^\.", b"..", data)


def sender_address(message: OutboundMessage) -> str:
    """``"ACME SAS" <relance@acme.example>``: the entity's name on the configured sender."""
    address = str(getattr(settings, "DEFAULT_FROM_EMAIL", "relance@localhost"))
    if "<" in address:
        return address
    entity = message.entity
    return formataddr((entity.legal_name or entity.name, address))


def envelope_sender() -> str:
    """The SMTP envelope sender (where bounces go): RELANCE_BOUNCE_ADDRESS or the sender."""
    configured = getattr(settings, "RELANCE_BOUNCE_ADDRESS", "")
    if configured:
        return str(configured)
    address = str(getattr(settings, "DEFAULT_FROM_EMAIL", "relance@localhost"))
    match = re.search(r"<([^>]+)>", address)
    return match.group(1) if match else address


def build_email(message: OutboundMessage, *, connection: Any = None) -> EmailMultiAlternatives:
    """The email as the customer receives it: text and HTML alternatives, attachments and headers."""
    headers: dict[str, str] = {
        "Message-ID": message.message_id,
        "Content-Language": message.language,
        "Auto-Submitted": "auto-generated",
    }
    opt_out = (message.links or {}).get("opt_out")
    if opt_out:
        headers["List-Unsubscribe"] = f"<{opt_out}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in (message.headers or {}).items():
        if name.lower() not in INTERNAL_HEADERS and isinstance(value, str):
            headers[name] = value
    reply_to = []
    collector = getattr(message.customer, "collector", None)
    if collector is not None and collector.email:
        reply_to = [formataddr((collector.get_full_name() or collector.username, collector.email))]
    contact = message.contact
    to = (
        formataddr((contact.name, message.recipient))
        if contact is not None and contact.name
        else message.recipient
    )
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=sender_address(message),
        to=[to],
        reply_to=reply_to,
        headers=headers,
        connection=connection,
    )
    files = list(message.attachments.all())
    if message.body_html:
        html, images = inline_images(message.body_html)
        email.attach_alternative(html, "text/html")
        for image in images:  # django-anymail sends parts with a Content-ID as inline images too
            email.attach(image)
        if images and not files:
            email.mixed_subtype = "related"  # type: ignore[attr-defined]  # html + its images only
    for attachment in files:
        with attachment.file.open("rb") as handle:
            email.attach(attachment.filename, handle.read(), attachment.content_type)
    return email


class EmailChannel(ChannelBackend):
    channel = "email"
    provider = "smtp"

    def __init__(self) -> None:
        self.smtp: smtplib.SMTP | None = None
        self.django_connection: Any = None
        self.raw_smtp = settings.EMAIL_BACKEND == SMTP_BACKEND

    # -- batch ---------------------------------------------------------------------------------
    def open(self) -> None:
        """Connections are opened on the first message (a server down is that message's failure)."""

    def close(self) -> None:
        self._drop()
        if self.django_connection is not None:
            try:
                self.django_connection.close()
            finally:
                self.django_connection = None

    def _drop(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                with contextlib.suppress(OSError):
                    self.smtp.close()
            self.smtp = None

    # -- sending -------------------------------------------------------------------------------
    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        if self.raw_smtp:
            email = build_email(message)
            data = email.message().as_bytes()
            self._smtp_transaction(envelope_sender(), message.recipient, data)
            return DeliveryReceipt(provider="smtp", provider_message_id=message.message_id.strip("<>"))
        return self._send_with_django(message)

    def _connect(self) -> smtplib.SMTP:
        if self.smtp is not None:
            return self.smtp
        host, port = settings.EMAIL_HOST, int(settings.EMAIL_PORT)
        timeout = getattr(settings, "EMAIL_TIMEOUT", None) or 30
        try:
            if getattr(settings, "EMAIL_USE_SSL", False):
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    host, port, timeout=timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(host, port, timeout=timeout)
            smtp.ehlo_or_helo_if_needed()
            if getattr(settings, "EMAIL_USE_TLS", False):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            user, password = (
                getattr(settings, "EMAIL_HOST_USER", ""),
                getattr(settings, "EMAIL_HOST_PASSWORD", ""),
            )
            if user:
                smtp.login(user, password)
        except smtplib.SMTPAuthenticationError as exc:
            raise TemporaryFailure(f"SMTP {host}:{port}: authentication refused: {exc}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryFailure(f"SMTP {host}:{port}: cannot connect: {exc}") from exc
        self.smtp = smtp
        return smtp

    def _refused(self, stage: str, code: int, reply: bytes, *, recipient: bool = False) -> Exception:
        text = f"SMTP {stage} refused: {code} {reply.decode(errors='replace')}"
        self._reset()
        if 400 <= code < 500:
            return TemporaryFailure(text)
        return PermanentFailure(text, invalid_recipient=recipient)

    def _reset(self) -> None:
        if self.smtp is None:
            return
        try:
            self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _smtp_transaction(self, sender: str, recipient: str, data: bytes) -> None:
        """MAIL, RCPT, DATA by hand: a failure before the final "." is a safe retry; after it, uncertain."""
        smtp = self._connect()
        try:
            code, reply = smtp.mail(sender)
            if code != 250:
                raise self._refused("MAIL FROM", code, reply)
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise self._refused("RCPT TO", code, reply, recipient=code in (550, 551, 553, 501))
            code, reply = smtp.docmd("data")
            if code != 354:
                raise self._refused("DATA", code, reply)
            payload = _quote_periods(_fix_eols(data))
            if not payload.endswith(CRLF):
                payload += CRLF
            smtp.send(payload + b"." + CRLF)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # sendall() raised: the final "." did not leave in full, the server cannot have accepted.
            self._drop()
            raise TemporaryFailure(f"SMTP connection lost before the end of DATA: {exc}") from exc
        try:
            code, reply = smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise UncertainDelivery(f"SMTP: no reply after the end of DATA: {exc}") from exc
        if code != 250:
            raise self._refused("message", code, reply)

    def _send_with_django(self, message: OutboundMessage) -> DeliveryReceipt:
        """Through ``EMAIL_BACKEND`` (an anymail provider, the console, locmem…)."""
        from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

        if self.django_connection is None:
            self.django_connection = get_connection(fail_silently=False)
            self.django_connection.open()
        email = build_email(message, connection=self.django_connection)
        backend = settings.EMAIL_BACKEND
        provider = (
            backend.split(".")[2] if backend.startswith("anymail.backends.") else backend.rsplit(".", 2)[-2]
        )
        try:
            email.send(fail_silently=False)
        except AnymailRecipientsRefused as exc:
            raise PermanentFailure(f"{provider}: recipient refused: {exc}", invalid_recipient=True) from exc
        except AnymailAPIError as exc:
            status = getattr(exc, "status_code", None)
            exc_text = exc.args[0] if exc.args else type(exc).__name__
            if status is None:
                raise UncertainDelivery(f"{provider}: no answer from the provider: {exc_text}") from exc
            if status == 429 or status >= 500:
                raise TemporaryFailure(f"{provider}: HTTP {status}: {exc_text}") from exc
            raise PermanentFailure(f"{provider}: HTTP {status}: {exc_text}") from exc
        status = getattr(email, "anymail_status", None)
        provider_id = getattr(status, "message_id", None) if status is not None else None
        if isinstance(provider_id, set):  # one id per recipient in anymail; one recipient here
            provider_id = next(iter(provider_id), None)
        if provider_id is None or provider_id == "":
            provider_id = message.message_id.strip("<>")
        return DeliveryReceipt(provider=provider, provider_message_id=str(provider_id))
