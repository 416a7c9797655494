"""Rendered portal pages kept per link, data version, day and language.

A reminder's link lands on the overview, and a customer with thousands of open items pages
through them: the same HTML is rebuilt many times between two changes of their account. The
cache key holds everything the page is made of — the link (its token is in every URL on the
page), the entity's ledger, case and document versions (``relance.ledger.selectors.data_versions``, read
*before* the page so a change committed meanwhile lands under a newer key), the customer's and
entity's last change (name, branding, credit limit), the creditor's "today" (days past due), the
language and the query — so an entry is never stale, only unused. Settings kept elsewhere (the
portal's limits) change what a page offers at the latest ``PAGE_CACHE_SECONDS`` later.

The token check, the rate limit, the "opened" audit event and the response headers still run on
every request (``views.portal_page``); only the view's own work is skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from relance.ledger.selectors import data_versions

PAGE_CACHE_SECONDS = 300


def page_key(request: HttpRequest, versions: dict[str, int]) -> str:
    portal = request.portal  # type: ignore[attr-defined]
    customer, entity = portal.customer, portal.entity
    query = "&".join(f"{name}={value}" for name, value in sorted(request.GET.items()) if name != "lang")
    parts = (
        request.path,
        query,
        "hx" if request.headers.get("HX-Request") else "",
        portal.language,
        portal.today.isoformat(),
        str(versions["ledger"]),
        str(versions["cases"]),
        str(versions["documents"]),
        customer.updated_at.isoformat(),
        entity.updated_at.isoformat(),
        str(portal.link.pk),
    )
    return "relance.portal.page." + hashlib.blake2b("\x1f".join(parts).encode(), digest_size=20).hexdigest()


def cached_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve ``view``'s 200 responses from the cache (GET only; pages without forms)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "GET" or not settings.RELANCE_PORTAL_PAGE_CACHE:
            return view(request, *args, **kwargs)
        versions = data_versions(entity_id=request.portal.entity.pk)  # type: ignore[attr-defined]
        key = page_key(request, versions)
        cached = cache.get(key)
        if cached is not None:
            content, content_type = cached
            return HttpResponse(content, content_type=content_type)
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and not response.streaming and not response.cookies:
            cache.set(key, (response.content, response["Content-Type"]), PAGE_CACHE_SECONDS)
        return response

    return wrapped
