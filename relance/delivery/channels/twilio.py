"""SMS through Twilio's Messages API (``POST /2010-04-01/Accounts/{Sid}/Messages.json``) over httpx.

Settings (or environment): ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``TWILIO_FROM`` (a number or
a messaging service ``MG…``), optional ``TWILIO_API_BASE``. Delivery reports come back to
``/delivery/twilio/status/`` (``StatusCallback``), signed with the auth token.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import httpx
from django.conf import settings
from django.urls import reverse

from relance.common.links import absolute_url
from relance.delivery.channels.base import (
    ChannelBackend,
    DeliveryReceipt,
    PermanentFailure,
    TemporaryFailure,
    UncertainDelivery,
)

if TYPE_CHECKING:
    from relance.delivery.models import OutboundMessage

API_BASE = "https://api.twilio.com"
# Twilio error codes meaning the number itself cannot receive SMS (a hard bounce).
INVALID_NUMBER_CODES = {21211, 21214, 21407, 21408, 21421, 21612, 21614}
# The recipient opted out at the carrier (STOP): permanent, but the number is not wrong.
UNSUBSCRIBED_CODES = {21610}
ERROR_NOT_CONFIGURED = "Twilio is not configured: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM"


def twilio_setting(name: str, default: str = "") -> str:
    return str(getattr(settings, name, "") or os.environ.get(name, default))


def status_callback_url() -> str:
    return absolute_url(reverse("delivery:twilio_status"))


class TwilioSmsChannel(ChannelBackend):
    channel = "sms"
    provider = "twilio"

    def __init__(self) -> None:
        self.account_sid = twilio_setting("TWILIO_ACCOUNT_SID")
        self.auth_token = twilio_setting("TWILIO_AUTH_TOKEN")
        self.sender = twilio_setting("TWILIO_FROM")
        self.api_base = twilio_setting("TWILIO_API_BASE", API_BASE).rstrip("/")
        self.client: httpx.Client | None = None

    def open(self) -> None:
        if self.client is None:
            self.client = httpx.Client(auth=(self.account_sid, self.auth_token), timeout=httpx.Timeout(20.0))

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def send(self, message: OutboundMessage) -> DeliveryReceipt:
        if not (self.account_sid and self.auth_token and self.sender):
            raise TemporaryFailure(ERROR_NOT_CONFIGURED)
        self.open()
        assert self.client is not None
        form = {"To": message.recipient, "Body": message.body_text, "StatusCallback": status_callback_url()}
        form["MessagingServiceSid" if self.sender.startswith("MG") else "From"] = self.sender
        url = f"{self.api_base}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        try:
            response = self.client.post(url, data=form)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TemporaryFailure(f"twilio: cannot connect: {exc}") from exc
        except httpx.HTTPError as exc:
            # The request may have reached Twilio: do not send it again on our own.
            raise UncertainDelivery(f"twilio: no answer: {exc}") from exc
        return self._receipt(response)

    def _receipt(self, response: httpx.Response) -> DeliveryReceipt:
        try:
            payload: dict[str, Any] = response.json()
        except ValueError:
            payload = {}
        if response.status_code in (200, 201):
            return DeliveryReceipt(provider=self.provider, provider_message_id=str(payload.get("sid", "")))
        code = payload.get("code")
        text = f"twilio: HTTP {response.status_code}, error {code}: {payload.get('message', response.text[:200])}"
        if response.status_code == 429 or response.status_code >= 500:
            raise TemporaryFailure(text)
        if response.status_code in (401, 403):
            # Credentials or account problem: fixing the settings makes the retry succeed.
            raise TemporaryFailure(text)
        if code in INVALID_NUMBER_CODES:
            raise PermanentFailure(text, invalid_recipient=True)
        raise PermanentFailure(text)
