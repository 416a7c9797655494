"""Cache-based limits: bad tokens per client address and code requests.

The cache is the Django default cache (per process with the local-memory default; configure a
shared cache, e.g. Redis or the database cache, when several server processes run).
"""

from __future__ import annotations

from django.core.cache import cache

BAD_TOKENS_IN_A_ROW = 100
BAD_TOKEN_WINDOW_SECONDS = 3600
CODE_REQUESTS_PER_HOUR = 5


def _key(kind: str, who: str) -> str:
    return f"relance.portal.{kind}.{who}"


def bad_tokens_so_far(ip: str) -> int:
    """Bad tokens from ``ip`` in the current run (one cache read per page)."""
    return int(cache.get(_key("bad", ip), 0))


def bad_tokens_blocked(ip: str) -> bool:
    return bad_tokens_so_far(ip) >= BAD_TOKENS_IN_A_ROW


def bad_token_count(ip: str) -> int:
    """Count one more bad token from ``ip``; the count lives an hour after the last one."""
    key = _key("bad", ip)
    cache.add(key, 0, BAD_TOKEN_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, BAD_TOKEN_WINDOW_SECONDS)
        count = 1
    cache.touch(key, BAD_TOKEN_WINDOW_SECONDS)
    return int(count)


def good_token(ip: str) -> None:
    """A good token ends the run of bad ones (the limit is on bad tokens *in a row*)."""
    cache.delete(_key("bad", ip))


def code_request_allowed(*, ip: str, link_id: int) -> bool:
    """At most ``CODE_REQUESTS_PER_HOUR`` code requests per address and per link."""
    allowed = True
    for key in (_key("code-ip", ip), _key("code-link", str(link_id))):
        cache.add(key, 0, 3600)
        try:
            count = cache.incr(key)
        except ValueError:
            cache.set(key, 1, 3600)
            count = 1
        if count > CODE_REQUESTS_PER_HOUR:
            allowed = False
    return allowed
