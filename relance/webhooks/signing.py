"""Standard Webhooks signatures: ``v1,`` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).

The secret is ``whsec_`` + base64 of the key (the spec's form, what receivers' libraries take).
During a rotation both the new and the previous secret sign, space-separated in one header, so a
receiver still holding the old secret verifies throughout the overlap window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

PREFIX = "whsec_"
KEY_BYTES = 32


class BadSecret(ValueError):
    pass


def secret_new() -> str:
    """A fresh endpoint secret: 256 random bits in the ``whsec_`` base64 form."""
    return PREFIX + base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_…`` secret (its base64 part, decoded)."""
    text = secret.removeprefix(PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as exc:
        raise BadSecret(
            "a webhook secret is 'whsec_' followed by base64 (e.g. from `relance webhook add`)"
        ) from exc
    if len(key) < 24:
        raise BadSecret(f"a webhook secret must hold at least 24 bytes (192 bits); this one holds {len(key)}")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,…`` signature of ``body`` sent as ``msg_id`` at ``timestamp`` (Unix seconds)."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets_in_use: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret in use, space-separated."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets_in_use)


def headers(secrets_in_use: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers (and the content type)."""
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_in_use, msg_id, timestamp, body),
    }
