"""The client's address: ``REMOTE_ADDR``, or behind a trusted proxy the hop it saw.

Behind the recommended TLS proxy every request comes from the proxy's address, so a limit keyed on
``REMOTE_ADDR`` puts every user in one bucket. ``RELANCE_TRUSTED_PROXIES`` lists the proxies'
networks (CIDR); only when ``REMOTE_ADDR`` is one of them is ``X-Forwarded-For`` read, from the
right, skipping the trusted hops: the first untrusted hop is the client (anything further left was
written by the client and proves nothing). Without the setting the header is never read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
FORWARDED_FOR = "HTTP_X_FORWARDED_FOR"


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies if proxy.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"RELANCE_TRUSTED_PROXIES: expected networks like 10.0.0.0/8: {exc}"
        ) from None


def trusted_proxies() -> tuple[Network, ...]:
    """The networks of ``RELANCE_TRUSTED_PROXIES`` (an ``ImproperlyConfigured`` if one is not a network)."""
    return _networks(tuple(getattr(settings, "RELANCE_TRUSTED_PROXIES", ()) or ()))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.9:51234
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: Any, networks: Iterable[Network]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


def client_ip(request: Any) -> str | None:
    """The client's address for limits and the audit trail (None when the request has none)."""
    meta = getattr(request, "META", None) or {}
    remote = meta.get("REMOTE_ADDR") or None
    networks = trusted_proxies()
    if remote is None or not networks:
        return remote
    peer = _address(remote)
    if peer is None or not _trusted(peer, networks):
        return remote
    hops = [hop for hop in meta.get(FORWARDED_FOR, "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return remote  # a hop that is no address: the chain cannot be read, trust nothing in it
        if not _trusted(address, networks):
            return str(address)
    return str(_address(hops[0])) if hops else remote


def trusted_proxies_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """``relance.E001`` for a trusted proxy that is no network; with ``--deploy``, ``relance.W001``
    when the site runs behind a TLS proxy (``SECURE_PROXY_SSL_HEADER``) that is not trusted: every
    user would then share the proxy's address, and its limits."""
    from django.core import checks

    try:
        trusted_proxies()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="relance.E001")]
    return []


def trusted_proxies_deploy_check(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    from django.core import checks

    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and not getattr(
        settings, "RELANCE_TRUSTED_PROXIES", None
    ):
        return [
            checks.Warning(
                "Behind a TLS proxy (SECURE_PROXY_SSL_HEADER) with no RELANCE_TRUSTED_PROXIES: every "
                "client has the proxy's address, and the sign-in and portal limits lock them out together.",
                hint="Set RELANCE_TRUSTED_PROXIES to the proxy's network, e.g. 10.0.0.0/8 (docs/security.md).",
                id="relance.W001",
            )
        ]
    return []
