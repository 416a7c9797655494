"""A connector's credentials: read from the environment, or (rotating OAuth tokens) encrypted.

Static secrets (Odoo's API key, ERPNext's key and secret, QuickBooks' client secret and first
refresh token) are environment variables ``<credentials_env>_<NAME>``: they never reach the
database. QuickBooks rotates its refresh token on refresh, so the current pair must be written
back somewhere: it is stored in ``Connector.token_ciphertext``, encrypted with Fernet (AES-128-CBC
+ HMAC-SHA256, ``cryptography``) under ``RELANCE_CONNECTOR_KEY`` (ADR 0028).
"""

from __future__ import annotations

import json
import os
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken

from relance.connectors.adapters.base import ConnectorError
from relance.connectors.adapters.quickbooks import OAuthTokens
from relance.connectors.models import Connector

KEY_VARIABLE = "RELANCE_CONNECTOR_KEY"


def credential(connector: Connector, name: str) -> str:
    """``<credentials_env>_<name>`` from the environment, or a ConnectorError naming the variable."""
    variable = f"{connector.credentials_env}_{name}"
    value = os.environ.get(variable, "")
    if not value:
        raise ConnectorError(f"{connector.source}: set the environment variable {variable}")
    return value


def _fernet() -> Fernet:
    key = os.environ.get(KEY_VARIABLE, "")
    if not key:
        raise ConnectorError(
            f"set {KEY_VARIABLE} (a Fernet key: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())') to store OAuth tokens encrypted"
        )
    try:
        return Fernet(key.encode())
    except ValueError as exc:
        raise ConnectorError(f"{KEY_VARIABLE}: expected a url-safe base64 Fernet key of 32 bytes") from exc


class EncryptedTokenStore:
    """The connector's OAuth tokens, encrypted in its row; saved at once (a rotated refresh token
    that is lost cannot be recovered)."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    def load(self) -> OAuthTokens | None:
        if not self.connector.token_ciphertext:
            return None
        try:
            plain = _fernet().decrypt(self.connector.token_ciphertext.encode())
        except InvalidToken as exc:
            raise ConnectorError(
                f"{self.connector.source}: the stored tokens do not decrypt with {KEY_VARIABLE}"
            ) from exc
        data = json.loads(plain)
        return OAuthTokens(
            data["access_token"], data["refresh_token"], datetime.fromisoformat(data["expires_at"])
        )

    def save(self, tokens: OAuthTokens) -> None:
        plain = json.dumps(
            {
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
                "expires_at": tokens.expires_at.isoformat(),
            }
        )
        self.connector.token_ciphertext = _fernet().encrypt(plain.encode()).decode()
        # The sync pulls outside its transaction (services.sync_run), so this update commits at
        # once, even when the sync is a dry run or its rows are rejected.
        Connector.objects.filter(pk=self.connector.pk).update(
            token_ciphertext=self.connector.token_ciphertext
        )
