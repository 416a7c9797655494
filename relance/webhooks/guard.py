"""The SSRF guard: a webhook never reaches loopback, link-local, private or reserved addresses
unless ``RELANCE_WEBHOOK_ALLOW_PRIVATE`` is on (tests, an on-premise ERP).

The check runs where the socket is opened (an httpcore network backend): the host is resolved,
*every* address it resolves to is checked, and the connection goes to a checked address, so a
name that resolves differently between an earlier check and the send (DNS rebinding) cannot slip
through. ``url_check`` runs the same check when an endpoint is saved, for a clear early error.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings


class AddressRefused(httpcore.ConnectError):
    """The host resolves to an address webhooks may not reach."""


class BadEndpointUrl(ValueError):
    pass


def private_allowed() -> bool:
    return bool(getattr(settings, "RELANCE_WEBHOOK_ALLOW_PRIVATE", False))


def address_refusal(address: str) -> str:
    """Why ``address`` may not be reached ('' when it may)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for what, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return f"{address}, a {what} address"
    if not ip.is_global:
        return f"{address}, not a public address"
    return ""


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), in the resolver's order."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


def addresses_checked(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses to connect to; AddressRefused if any of them is refused."""
    addresses = resolve(host, port)
    if not allow_private:
        for address in addresses:
            why = address_refusal(address)
            if why:
                raise AddressRefused(
                    f"refused: {host} resolves to {why} (set RELANCE_WEBHOOK_ALLOW_PRIVATE=1 to allow)"
                )
    return addresses


def url_check(url: str, *, resolve_host: bool = True) -> str:
    """``url`` if it can be an endpoint: http(s), a host, no credentials; its addresses allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadEndpointUrl(f"an endpoint URL is http:// or https:// with a host, not {url!r}")
    if parts.username or parts.password:
        raise BadEndpointUrl("an endpoint URL carries no user name or password (the signature authenticates)")
    if resolve_host:
        try:
            addresses_checked(parts.hostname, parts.port or 443, allow_private=private_allowed())
        except AddressRefused as exc:
            raise BadEndpointUrl(f"{url}: {exc}") from exc
        except httpcore.ConnectError as exc:
            raise BadEndpointUrl(f"{url}: {exc}") from exc
    return url


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting only to checked addresses."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        last: Exception | None = None
        for address in addresses_checked(host, port, allow_private=self.allow_private):
            try:
                return super().connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:  # the next address, as a resolver-order client would
                last = exc
        raise last or httpcore.ConnectError(f"no address to connect to for {host}")

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        raise AddressRefused("webhooks never connect to a Unix socket")


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with the guarded backend under its pool (no proxy, no environment)."""

    def __init__(self, *, limits: httpx.Limits, allow_private: bool) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_private=allow_private),
        )


def guarded_client(
    *, timeout: float, max_connections: int, allow_private: bool | None = None
) -> httpx.Client:
    """The client deliveries use: guarded, a pool, timeouts, never following redirects."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    return httpx.Client(
        transport=GuardedTransport(
            limits=limits, allow_private=private_allowed() if allow_private is None else allow_private
        ),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": "Relance-Webhooks/1"},
    )
