"""The SSRF guard: loopback, link-local and private addresses refused unless allowed, checked
when the endpoint is saved and again where the socket is opened."""

from __future__ import annotations

import httpx
import pytest

from relance.core.errors import ValidationFailed
from relance.webhooks.guard import BadEndpointUrl, address_refusal, guarded_client, url_check
from relance.webhooks.services import endpoint_create


@pytest.mark.parametrize(
    ("address", "what"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "not a public address"),
    ],
)
def test_non_public_addresses_are_refused(address, what):
    assert what in address_refusal(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses_pass(address):
    assert address_refusal(address) == ""


def test_an_endpoint_on_localhost_is_refused_when_saved(db, settings):
    settings.RELANCE_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ValidationFailed, match="loopback.*RELANCE_WEBHOOK_ALLOW_PRIVATE"):
        endpoint_create(url="http://localhost:8080/hooks")
    with pytest.raises(BadEndpointUrl, match="http:// or https://"):
        url_check("ftp://example.org/x", resolve_host=False)
    with pytest.raises(BadEndpointUrl, match="user name or password"):
        url_check("https://me:pw@example.org/x", resolve_host=False)


def test_the_socket_is_refused_at_send_time(receiver):
    """Even a URL that got past the first check (allowed then, or DNS changed) never connects."""
    refused = "refused: 127.0.0.1 resolves to 127.0.0.1, a loopback address"
    with (
        guarded_client(timeout=2, max_connections=2, allow_private=False) as client,
        pytest.raises(httpx.ConnectError, match=refused),
    ):
        client.post(receiver.url, content=b"{}")
    assert receiver.received == []
    with guarded_client(timeout=2, max_connections=2, allow_private=True) as client:
        assert client.post(receiver.url, content=b"{}").status_code == 204
    assert len(receiver.received) == 1


def test_redirects_are_not_followed(receiver):
    receiver.answer = lambda request: 302
    with guarded_client(timeout=2, max_connections=2, allow_private=True) as client:
        response = client.post(receiver.url, content=b"{}")
    assert response.status_code == 302
    assert len(receiver.received) == 1
