"""Fixtures of the delivery tests: a customer with contacts, a stand-in renderer, a real SMTP server."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from relance.comms.types import Attachment, RenderedMessage
from tests.dunning.conftest import scenario  # noqa: F401  (the shipped policies, runs by command)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def rendered(
    *,
    key: str = "overdue_friendly",
    channel: str = "email",
    language: str = "en",
    subject: str = "Invoice INV-1 is overdue",
    text: str = "Dear customer, 1,200.00 EUR is due. RF18539007547034",
    html: str = "<p>Dear customer, <b>1,200.00 EUR</b> is due.</p>",
    attachments: tuple[Attachment, ...] = (),
    links: dict[str, str] | None = None,
) -> RenderedMessage:
    return RenderedMessage(
        template_key=key,
        channel=channel,
        language=language,
        subject=subject,
        text=text,
        html=html,
        attachments=attachments,
        rf_reference="RF18539007547034",
        amount_due=Decimal("1200.00"),
        currency="EUR",
        links=links if links is not None else {"portal": "http://testserver/portal/t/token/"},
    )


@pytest.fixture
def fake_render(monkeypatch):
    """Stands in for relance.comms.services.message_render: records its calls."""
    calls: list[dict] = []

    def render(**kwargs):
        calls.append(kwargs)
        customer = kwargs["customer"]
        return rendered(
            key=kwargs["template_key"],
            channel=kwargs["channel"],
            language=kwargs.get("language") or customer.language,
            subject=f"{kwargs['template_key']} for {customer.external_ref}",
            text=f"{kwargs['channel']} text {kwargs['message_key']}",
        )

    monkeypatch.setattr("relance.delivery.services._render", render)
    return calls


@pytest.fixture(autouse=True)
def allow_all(monkeypatch):
    """Compliance (H6) is tested on its own: here every message is allowed unless a test says."""
    from relance.delivery import worker

    monkeypatch.setattr(worker, "outbound_verdict", lambda message, now: worker._AllowAll())


@pytest.fixture(autouse=True)
def memory_outbox():
    from relance.delivery.channels.memory import MemoryChannel

    MemoryChannel.reset()
    yield MemoryChannel
    MemoryChannel.reset()


@pytest.fixture
def customer(make_customer):
    from relance.ledger.models import Contact

    customer = make_customer("C1", language="fr")
    Contact.objects.create(
        customer=customer,
        name="Ann Billing",
        role="billing",
        email="ann@example.com",
        phone="+33612345678",
        postal_address="1 rue de la Paix\n75002 Paris",
    )
    return customer


# --------------------------------------------------------------------------------------------------
# A real SMTP server on loopback


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    session: int = 0

    @property
    def email(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class SmtpServer:
    port: int
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    refused: list[Received] = field(default_factory=list)
    tempfail_data: int = 0
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: object | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        received = Received(
            envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, id(session)
        )
        with self.lock:
            if self.tempfail_data > 0:
                self.tempfail_data -= 1
                self.refused.append(received)
                return "451 4.3.0 try again later"
            self.received.append(received)
        if self.delay:
            import asyncio

            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()  # type: ignore[attr-defined]
            self.controller = None


@pytest.fixture
def smtp_server():
    server = SmtpServer(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    """Email through the real EmailChannel to the loopback server."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "billing@acme.example"
    settings.RELANCE_CHANNELS = {
        **settings.RELANCE_CHANNELS,
        "email": "relance.delivery.channels.email.EmailChannel",
    }
    return settings
