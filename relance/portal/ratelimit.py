"""Cache-based limits of the portal: bad tokens per client address, code requests per link.

Limits are on what an attacker spends, never on what a customer holds: a flood of bad tokens from
one address (behind a proxy: one office, or every customer when ``RELANCE_TRUSTED_PROXIES`` is
not set) gets 429s for its *bad* tokens only; a valid link opened from that address still works.
Codes are limited per link (the thing attacked) and, much more loosely, per address.

The cache is the Django default cache (per process with the local-memory default; configure a
shared cache, e.g. Redis or the database cache, when several server processes run).
"""

from __future__ import annotations

from django.core.cache import cache

BAD_TOKENS_PER_ADDRESS = 100
BAD_TOKEN_WINDOW_SECONDS = 3600
CODE_REQUESTS_PER_LINK = 5
CODE_REQUESTS_PER_ADDRESS = 50
CODE_WINDOW_SECONDS = 3600


def _key(kind: str, who: str) -> str:
    return f"relance.portal.{kind}.{who}"


def _count(key: str, window: int) -> int:
    """One more for ``key``; the count lives ``window`` seconds after the first."""
    cache.add(key, 0, window)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        return 1


def bad_tokens_blocked(ip: str) -> bool:
    """Whether ``ip`` has sent ``BAD_TOKENS_PER_ADDRESS`` bad tokens within the window."""
    return int(cache.get(_key("bad", ip), 0)) >= BAD_TOKENS_PER_ADDRESS


def bad_token_count(ip: str) -> int:
    """Count one more bad token from ``ip``; the count lives an hour after the last one."""
    count = _count(_key("bad", ip), BAD_TOKEN_WINDOW_SECONDS)
    cache.touch(_key("bad", ip), BAD_TOKEN_WINDOW_SECONDS)
    return count


def code_request_allowed(*, ip: str, link_id: int) -> bool:
    """At most ``CODE_REQUESTS_PER_LINK`` code requests an hour per link, and
    ``CODE_REQUESTS_PER_ADDRESS`` per address (many customers may share one)."""
    per_link = _count(_key("code-link", str(link_id)), CODE_WINDOW_SECONDS)
    per_address = _count(_key("code-ip", ip), CODE_WINDOW_SECONDS)
    return per_link <= CODE_REQUESTS_PER_LINK and per_address <= CODE_REQUESTS_PER_ADDRESS
